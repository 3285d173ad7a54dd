"""Running analyst queries read-only, with a timeout and a row limit.

:func:`run_read_only` is the one runner that both ``ringwatch cypher`` and the
dashboard's Cypher page use. Two guards: the query is first planned (``EXPLAIN``) and
refused unless the planner calls it read-only, and it then runs in a read transaction
(``session.execute_read`` in a session of READ access mode, so the server itself rejects
any write, e.g. ``PROFILE CREATE``, APOC's ``runWrite`` or ``CALL {...} IN
TRANSACTIONS``), with a server-side timeout; at most ``row_limit`` rows are read and the
result says whether more were there. Each value goes through a converter: by default
:func:`plain_value` (nodes as their property maps, times as ISO text, for a table); the
dashboard passes its own to keep nodes and relationships for drawing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from graphs.errors import QueryError
from graphs.queries import AnalystQuery, load_queries

__all__ = [
    "WRITE_REFUSED",
    "QueryResult",
    "format_table",
    "plain_value",
    "run_named",
    "run_read_only",
]

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_ROW_LIMIT = 1000
WRITE_REFUSED = (
    "Refused: this query would change the database ({what}). Only read-only queries "
    "run here; nothing was changed."
)
#: Leading whitespace and comments, skipped to read the query's first keyword.
_LEADING_COMMENTS = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.DOTALL)
_QUERY_TYPES = {"w": "it writes", "rw": "it reads and writes", "s": "a schema change"}


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[object]]
    truncated: bool  # more rows than the limit were available; the rest were not read


def plain_value(value: object) -> object:
    """Driver values as plain Python (nodes as their properties, times as ISO text)."""
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if hasattr(value, "items") and hasattr(value, "labels"):  # a Node
        return {k: plain_value(v) for k, v in value.items()}
    return value


def _refused_by_server(code: str, message: str) -> bool:
    """The server rejected a write in the read transaction."""
    lowered = message.lower()
    return (
        "AccessMode" in code
        or "ForbiddenDueToTransactionType" in code
        or ("write" in lowered and "read" in lowered)
    )


def run_read_only(
    driver,
    database: str,
    text: str,
    params: Mapping[str, object] | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    row_limit: int = DEFAULT_ROW_LIMIT,
    convert: Callable[[object], object] = plain_value,
) -> QueryResult:
    """Run Cypher ``text`` read-only; each value of a row goes through ``convert``.

    Raises :class:`QueryError` with a clear message when the query would write (starting
    "Refused: this query would change the database"), does not plan, fails, or runs past
    ``timeout_s``.
    """
    from neo4j import READ_ACCESS, unit_of_work
    from neo4j.exceptions import ClientError, Neo4jError

    text = (text or "").strip().rstrip(";")
    if not text:
        raise QueryError("Empty query.")
    params = dict(params or {})

    # EXPLAIN and PROFILE cannot be planned again; PROFILE of a write is refused by the
    # read transaction itself
    planned_already = (
        text[_LEADING_COMMENTS.match(text).end() :].upper().startswith(("EXPLAIN", "PROFILE"))
    )

    def work(tx) -> QueryResult:
        if not planned_already:
            try:
                plan = tx.run("EXPLAIN " + text, params).consume()
            except ClientError as error:
                raise QueryError(f"Query does not plan: {error.message}") from None
            if plan.query_type not in ("r", None):
                what = _QUERY_TYPES.get(plan.query_type, "it writes")
                raise QueryError(WRITE_REFUSED.format(what=what))
        result = tx.run(text, params)
        columns = list(result.keys())
        rows: list[list[object]] = []
        for record in result:
            if len(rows) == row_limit:
                return QueryResult(columns, rows, truncated=True)
            rows.append([convert(v) for v in record.values()])
        return QueryResult(columns, rows, truncated=False)

    try:
        with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
            return session.execute_read(unit_of_work(timeout=timeout_s)(work))
    except ClientError as error:
        code, message = error.code or "", error.message or str(error)
        if _refused_by_server(code, message):
            raise QueryError(WRITE_REFUSED.format(what=message)) from None
        if "TransactionTimedOut" in code or "timed out" in message.lower():
            raise QueryError(f"Stopped after the {timeout_s:g} s time limit.") from None
        raise QueryError(f"Query failed: {message}") from None
    except Neo4jError as error:
        raise QueryError(f"Query failed: {error.message or error}") from None


def run_named(
    driver,
    database: str,
    name: str,
    params: Mapping[str, object] | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    row_limit: int = DEFAULT_ROW_LIMIT,
    library: Mapping[str, AnalystQuery] | None = None,
) -> QueryResult:
    """Run the library query ``name`` with ``params`` (text values are coerced)."""
    library = library if library is not None else load_queries()
    if name not in library:
        raise QueryError(f"no analyst query {name!r}; known: {', '.join(sorted(library))}")
    query = library[name]
    return run_read_only(
        driver, database, query.text, query.bind(params or {}),
        timeout_s=timeout_s, row_limit=row_limit,
    )  # fmt: skip


def format_table(result: QueryResult, max_width: int = 60) -> str:
    """A plain-text table of ``result`` for a terminal.

    >>> print(format_table(QueryResult(["id", "n"], [["a-1", 3], ["a-22", 10]], False)))
    id    n
    ----  --
    a-1   3
    a-22  10
    (2 rows)
    """

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(result.columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    more = ", truncated at the row limit" if result.truncated else ""
    lines.append(f"({len(result.rows)} rows{more})")
    return "\n".join(lines)
