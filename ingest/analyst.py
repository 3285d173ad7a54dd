"""Running analyst queries read-only, with a timeout and a row limit.

:func:`run_read_only` is what ``ringwatch cypher`` and the dashboard use: the query is
first planned with ``EXPLAIN`` and refused unless the planner says it only reads; it then
runs in a read transaction (``session.execute_read``, routed to readers, in a session of
READ access mode, so the server refuses writes too) with a server-side timeout; at most
``row_limit`` rows are kept and the result says whether more were there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graphs.errors import QueryError
from graphs.queries import AnalystQuery, load_queries

__all__ = ["QueryResult", "format_table", "run_named", "run_read_only"]

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_ROW_LIMIT = 1000


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[object]]
    truncated: bool  # more rows than the limit were available


def _plain(value: object) -> object:
    """Driver values as plain Python (nodes as their properties, times as ISO text)."""
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "items") and hasattr(value, "labels"):  # a Node
        return {k: _plain(v) for k, v in value.items()}
    return value


def run_read_only(
    driver,
    database: str,
    text: str,
    params: Mapping[str, object] | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    row_limit: int = DEFAULT_ROW_LIMIT,
) -> QueryResult:
    """Run Cypher ``text`` read-only; raise :class:`QueryError` if it would write or fails."""
    from neo4j import READ_ACCESS, unit_of_work
    from neo4j.exceptions import ClientError, Neo4jError

    params = dict(params or {})
    try:
        _, summary, _ = driver.execute_query(
            "EXPLAIN " + text, params, database_=database, routing_="r"
        )
    except Neo4jError as error:
        raise QueryError(f"query does not plan: {error.message}") from None
    if summary.query_type != "r":
        raise QueryError(f"refusing a query that writes (query type {summary.query_type!r})")

    @unit_of_work(timeout=timeout_s)
    def work(tx) -> QueryResult:
        result = tx.run(text, params)
        rows = []
        for record in result:
            if len(rows) == row_limit:
                return QueryResult(list(result.keys()), rows, truncated=True)
            rows.append([_plain(v) for v in record.values()])
        return QueryResult(list(result.keys()), rows, truncated=False)

    try:
        with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
            return session.execute_read(work)
    except ClientError as error:
        raise QueryError(f"query failed: {error.message}") from None


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
