"""The analyst query library: one documented ``.cypher`` file per query in
``graphs/queries/``.

Each file starts with ``//`` comment lines: a description, then one line per parameter::

    // @param name type [= default]: what it means

with ``type`` one of ``string``, ``int``, ``float``, ``bool``. This module only reads and
checks the files (no driver); :mod:`ingest.analyst` runs them read-only. Labels,
relationship types and property names in the files are those of :mod:`graphs.model`
(a test checks every one).

Examples
--------
>>> queries = load_queries()
>>> "shared_identifiers" in queries
True
>>> q = queries["top_shared_devices"]
>>> q.bind({"days": "7"})
{'days': 7, 'as_of': None, 'limit': 20}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from graphs.errors import QueryError

__all__ = ["QUERIES_DIR", "AnalystQuery", "QueryParam", "load_queries", "parse_query"]

QUERIES_DIR = Path(__file__).with_name("queries")
_PARAM = re.compile(
    r"^//\s*@param\s+(?P<name>\w+)\s+(?P<type>string|int|float|bool)"
    r"(?:\s*=\s*(?P<default>[^:]*?))?\s*:\s*(?P<doc>.*)$"
)
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


@dataclass(frozen=True)
class QueryParam:
    name: str
    type: str
    required: bool
    default: object
    doc: str

    def coerce(self, value: object) -> object:
        """``value`` (text from a command line, or already typed) as this parameter's type."""
        if value is None or not isinstance(value, str):
            return value
        try:
            if self.type == "int":
                return int(value)
            if self.type == "float":
                return float(value)
        except ValueError:
            raise QueryError(f"parameter {self.name}: {value!r} is not a {self.type}") from None
        if self.type == "bool":
            if value.lower() in _TRUE | _FALSE:
                return value.lower() in _TRUE
            raise QueryError(f"parameter {self.name}: {value!r} is not true or false")
        return value


@dataclass(frozen=True)
class AnalystQuery:
    name: str
    description: str
    params: tuple[QueryParam, ...]
    text: str

    def bind(self, values: Mapping[str, object]) -> dict[str, object]:
        """Parameters for a run: ``values`` coerced, defaults filled in, unknown or
        missing names refused with :class:`QueryError`."""
        known = {p.name for p in self.params}
        unknown = sorted(set(values) - known)
        if unknown:
            raise QueryError(
                f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(known)) or 'none'}"
            )
        bound: dict[str, object] = {}
        for param in self.params:
            if param.name in values:
                bound[param.name] = param.coerce(values[param.name])
            elif param.required:
                raise QueryError(f"{self.name}: parameter {param.name} is required ({param.doc})")
            else:
                bound[param.name] = param.default
        return bound


def _default(param_type: str, text: str | None) -> tuple[bool, object]:
    if text is None:
        return True, None
    if text == "null":
        return False, None
    probe = QueryParam("default", param_type, False, None, "")
    return False, probe.coerce(text)


def parse_query(name: str, source: str) -> AnalystQuery:
    """An :class:`AnalystQuery` from the text of a ``.cypher`` file."""
    description: list[str] = []
    params: list[QueryParam] = []
    for line in source.splitlines():
        if not line.startswith("//"):
            break
        match = _PARAM.match(line)
        if match:
            required, default = _default(match["type"], match["default"])
            params.append(QueryParam(match["name"], match["type"], required, default, match["doc"]))
        elif "@param" in line:
            raise QueryError(f"{name}.cypher: malformed parameter line: {line}")
        else:
            description.append(line[2:].strip())
    return AnalystQuery(name, " ".join(description).strip(), tuple(params), source)


def load_queries(directory: Path = QUERIES_DIR) -> dict[str, AnalystQuery]:
    """Every query of the library, by name (the file name without ``.cypher``)."""
    return {
        path.stem: parse_query(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.cypher"))
    }
