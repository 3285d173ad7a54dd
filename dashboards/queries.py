"""The Cypher the dashboard runs, as module constants, and the functions that run it.

Every query is built once, at import, from :mod:`graphs.model` names; user input only
ever travels in ``$parameters``. Where a label or a sort column must vary (Cypher cannot
take them as parameters) the query is picked from a dict of prebuilt constants keyed by
an allow-listed value, so no user text is ever formatted into a query. Every read is
bounded (``LIMIT``, capped ``COUNT``) and runs with ``routing_="r"``.

Functions take a ``Driver`` and the database name and return plain Python values
(``datetime`` for Neo4j temporal values), ready for the pure functions of
:mod:`dashboards.views`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graphs.model import (
    IDENTIFIER_KEYS,
    RING_KINDS,
    RING_STATUSES,
    USAGE_RELS,
    Label,
    Prop,
    Rel,
)
from ingest import analyst
from ingest.analyst import QueryResult

__all__ = [
    "IDENTIFIER_LABELS",
    "QUEUE_CONDITIONS",
    "QUEUE_SORT_KEYS",
    "AccountData",
    "CaseUpdate",
    "QueryResult",
    "RingFilter",
    "RingGraphData",
    "RingPage",
    "account_data",
    "account_neighbours",
    "case_history",
    "graph_value",
    "identifier_neighbourhood",
    "my_cases",
    "neighbour_counts",
    "new_cutoff",
    "outside_neighbours",
    "queue_query",
    "ring_graph_data",
    "ring_members",
    "ring_page",
    "ring_summary",
    "run_read_only",
    "saved_queries",
    "search_entities",
    "set_case",
]

P = Prop
A, R = Label.ACCOUNT, Label.RING

# ------------------------------------------------------------------ vocabulary
#: Relationship types from a member (account or logged-out IP) to what it shares.
USAGE = "|".join(USAGE_RELS)
LINKS = "|".join([*USAGE_RELS, Rel.SENT_UA, Rel.IN_SUBNET])
#: Identifier labels the dashboard can show a neighbourhood for, with their key.
IDENTIFIER_LABELS: dict[Label, Prop] = {
    label: key
    for label, key in IDENTIFIER_KEYS.items()
    if label not in (Label.RING, Label.INGEST_RUN, Label.DETECT_RUN)
}
#: identifier label -> the usage relationships that reach it from an account
RELS_TO: dict[Label, list[Rel]] = {}
for _rel, (_label, _key) in USAGE_RELS.items():
    RELS_TO.setdefault(_label, []).append(_rel)

_KEYS = list(dict.fromkeys(IDENTIFIER_LABELS.values()))


def _key(var: str) -> str:
    """Cypher for the key of any identifier node bound to ``var``."""
    return "coalesce(" + ", ".join(f"{var}.{key}" for key in _KEYS) + ")"


def _label(var: str) -> str:
    return f"head(labels({var}))"


#: Degree above which neighbours are counted from the degree store (an upper bound)
#: instead of exactly: a popular user agent has tens of thousands of accounts.
EXACT_COUNT_LIMIT = 20_000
#: Neighbour counts per identifier type stop at this many (shown as "10000+").
NEIGHBOUR_COUNT_CAP = 10_000
#: Bulk rows carry times as epoch milliseconds (the driver builds a DateTime object per
#: temporal value, ten times slower than the query for a 500-node ring); :func:`_times`
#: turns them into ``datetime`` in Python.
MEMBER_PROPS = (
    f"{{.{P.ACCOUNT_ID}, .{P.IP}, .{P.RISK_SCORE}, {P.CREATED_AT}: m.{P.CREATED_AT}.epochMillis, "
    f".{P.STATUS}, .{P.LABEL}, .{P.COUNTRY}, .{P.ACCOUNT_EMAIL}, .{P.REASONS}}}"
)
IDENTIFIER_PROPS = f"{{.{P.DOMAIN}, .{P.CARD_BIN}, .{P.CARD_COUNTRY}, .{P.IS_V6}}}"
RING_PROPS = (
    f"{{.{P.RING_ID}, .{P.KIND}, .{P.SCORE}, .{P.STATUS}, .{P.REASONS}, .{P.DETECTED_AT}, "
    f".{P.LAST_DETECTED_AT}, .{P.FIRST_SEEN}, .{P.LAST_SEEN}, .{P.ASSIGNEE}, .{P.NOTE}, "
    f".{P.STATUS_BY}, .{P.STATUS_AT}}}"
)


# --------------------------------------------------------------- value helpers
def _native(value: Any) -> Any:
    """Neo4j temporal values to ``datetime`` / ``date``, recursively; others as they are."""
    if hasattr(value, "to_native"):
        value = value.to_native()
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value
    if isinstance(value, list):
        return [_native(v) for v in value]
    if isinstance(value, dict):
        return {k: _native(v) for k, v in value.items()}
    return value


def _millis(value: datetime | None) -> int | None:
    return None if value is None else round(value.timestamp() * 1000)


def _from_millis(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def _times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Epoch milliseconds of bulk rows (see MEMBER_PROPS) to ``datetime``, in place."""
    for row in rows:
        props = row.get("props")
        if props and props.get(P.CREATED_AT) is not None:
            props[P.CREATED_AT] = _from_millis(props[P.CREATED_AT])
        for item in [row, *row.get("links", ())]:
            for name in ("first", "last"):
                if item.get(name) is not None:
                    item[name] = _from_millis(item[name])
    return rows


def _read(driver, database: str, query: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(query, params, database_=database, routing_="r")
    return [{k: _native(v) for k, v in record.items()} for record in records]


def _read_bulk(driver, database: str, query: str, **params: Any) -> list[dict[str, Any]]:
    """:func:`_read` for queries that return no temporal values (their times are epoch
    milliseconds, see MEMBER_PROPS): no walk through every value of a big result."""
    records, _, _ = driver.execute_query(query, params, database_=database, routing_="r")
    # dict(record), not record.data(): data() walks every value again (for nodes), which
    # took 100+ ms of a 500-node ring view; these rows hold only scalars, lists and maps
    return [dict(record) for record in records]


# ------------------------------------------------------------------ ring queue
@dataclass(frozen=True)
class RingFilter:
    """What the queue shows: every field narrows the list; defaults show open rings."""

    statuses: tuple[str, ...] = ("open",)
    kinds: tuple[str, ...] = RING_KINDS
    min_score: float = 0.0
    max_score: float = 1.0
    since: datetime | None = None  # last seen on or after
    until: datetime | None = None  # first seen on or before
    search: str = ""  # ring id fragment, a member's account id, or words of a reason
    only_new: bool = False


@dataclass(frozen=True)
class RingPage:
    rows: list[dict[str, Any]]
    total: int
    cutoff: datetime | None  # rings first detected at or after this are "new"
    page: int = 0  # the page returned (the last one when the one asked for is past the end)


_STATUS = f"coalesce(r.{P.STATUS}, 'open')"
_FIRST_SEEN = f"coalesce(r.{P.FIRST_SEEN}, r.{P.DETECTED_AT})"
_LAST_SEEN = f"coalesce(r.{P.LAST_SEEN}, r.{P.LAST_DETECTED_AT})"
_SIZE = f"COUNT {{ (r)<-[:{Rel.MEMBER_OF}]-() }}"  # read from the degree store

#: Columns the queue can sort on, each with the Cypher expression it sorts by.
QUEUE_SORT_KEYS: dict[str, str] = {
    "score": f"r.{P.SCORE}",
    "size": _SIZE,
    "kind": f"r.{P.KIND}",
    "status": _STATUS,
    "assignee": f"r.{P.ASSIGNEE}",
    "first_seen": _FIRST_SEEN,
    "last_seen": _LAST_SEEN,
    "ring_id": f"r.{P.RING_ID}",
    "new": f"r.{P.DETECTED_AT}",
}
#: The queue's filters, each a constant fragment reading its own ``$parameter``. A query
#: holds only the active ones, so 10,000 rings are not read for filters nobody set.
QUEUE_CONDITIONS: dict[str, str] = {
    "statuses": f"{_STATUS} IN $statuses",
    "kinds": f"r.{P.KIND} IN $kinds",
    "min_score": f"r.{P.SCORE} >= $min_score",
    "max_score": f"r.{P.SCORE} <= $max_score",
    # instants as epoch milliseconds: Cypher's DateTime equality also compares the
    # zone's spelling (UTC vs +00:00), which detection and the driver do not agree on
    "since": f"{_LAST_SEEN}.epochMillis >= $since",
    "until": f"{_FIRST_SEEN}.epochMillis <= $until",
    "cutoff": f"r.{P.DETECTED_AT}.epochMillis >= $cutoff",
    "search": (
        f"(toLower(r.{P.RING_ID}) CONTAINS $search OR r.{P.RING_ID} IN member_rings"
        f" OR any(reason IN coalesce(r.{P.REASONS}, []) WHERE toLower(reason) CONTAINS $search))"
    ),
}
_MEMBER_RINGS = f"""
OPTIONAL MATCH (:{A} {{{P.ACCOUNT_ID}: $search_raw}})-[:{Rel.MEMBER_OF}]->(hit:{R})
WITH collect(hit.{P.RING_ID}) AS member_rings
"""
_QUEUE_ROW = (
    f"r{{.{P.RING_ID}, .{P.KIND}, .{P.SCORE}, .{P.ASSIGNEE}, .{P.DETECTED_AT}, "
    f"status: {_STATUS}, first_seen: {_FIRST_SEEN}, last_seen: {_LAST_SEEN}, size: {_SIZE}}}"
)


@functools.lru_cache(maxsize=1024)
def queue_query(conditions: frozenset[str], sort: str, descending: bool) -> str:
    """The queue query for the active filter ``conditions`` (keys of
    :data:`QUEUE_CONDITIONS`) sorted by ``sort`` (a key of :data:`QUEUE_SORT_KEYS`):
    one scan of the rings returns the total and one page (``$skip``, ``$limit``; a
    ``$skip`` past the end gives the last page). Built from constant fragments only.

    >>> q = queue_query(frozenset({"kinds"}), "score", True)
    >>> "r.kind IN $kinds" in q and "ORDER BY r.score DESC" in q and "$statuses" not in q
    True
    """
    unknown = set(conditions) - QUEUE_CONDITIONS.keys()
    if unknown or sort not in QUEUE_SORT_KEYS:
        raise ValueError(f"no queue filter {sorted(unknown)} or sort column {sort!r}")
    prefix = _MEMBER_RINGS if "search" in conditions else ""
    where = " AND ".join(QUEUE_CONDITIONS[name] for name in sorted(conditions))
    order = f"{QUEUE_SORT_KEYS[sort]} {'DESC' if descending else 'ASC'}, r.{P.RING_ID}"
    return f"""{prefix}MATCH (r:{R})
{"WHERE " + where if where else ""}
WITH r ORDER BY {order}
WITH collect(r) AS rings
WITH rings, size(rings) AS total
WITH rings, total, CASE WHEN $skip < total THEN $skip WHEN total = 0 THEN 0
                        ELSE ((total - 1) / $limit) * $limit END AS start
RETURN total, start, [r IN rings[start..start + $limit] | {_QUEUE_ROW}] AS rows
"""


def _active_conditions(ring_filter: RingFilter, search: str) -> frozenset[str]:
    active = {
        "statuses": set(ring_filter.statuses) != set(RING_STATUSES),
        "kinds": set(ring_filter.kinds) != set(RING_KINDS),
        "min_score": ring_filter.min_score > 0,
        "max_score": ring_filter.max_score < 1,
        "since": ring_filter.since is not None,
        "until": ring_filter.until is not None,
        "cutoff": ring_filter.only_new,
        "search": bool(search),
    }
    return frozenset(name for name, on in active.items() if on)


NEW_CUTOFF = f"MATCH (r:{R}) RETURN max(r.{P.LAST_DETECTED_AT}) AS latest"


def new_cutoff(driver, database: str) -> datetime | None:
    """The time of the latest detection: rings first detected then are new.

    Detection stamps ``detected_at`` (on creation) and ``last_detected_at`` (every run)
    with the data time of the run, so a ring found for the first time by the latest run
    has ``detected_at`` equal to the newest ``last_detected_at``.
    """
    return _read(driver, database, NEW_CUTOFF)[0]["latest"]


def ring_page(
    driver,
    database: str,
    ring_filter: RingFilter | None = None,
    *,
    sort: str = "score",
    descending: bool = True,
    page: int = 0,
    page_size: int = 25,
) -> RingPage:
    """One page of the ring queue, filtered and sorted in Neo4j (server-side paging)."""
    if sort not in QUEUE_SORT_KEYS:
        raise ValueError(f"cannot sort rings by {sort!r}: use one of {sorted(QUEUE_SORT_KEYS)}")
    ring_filter = ring_filter or RingFilter()
    cutoff = new_cutoff(driver, database)
    search = ring_filter.search.strip()
    page_size = max(1, min(int(page_size), 500))
    query = queue_query(_active_conditions(ring_filter, search), sort, descending)
    result = _read(
        driver,
        database,
        query,
        statuses=list(ring_filter.statuses),
        kinds=list(ring_filter.kinds),
        min_score=float(ring_filter.min_score),
        max_score=float(ring_filter.max_score),
        since=_millis(ring_filter.since),
        until=_millis(ring_filter.until),
        cutoff=_millis(cutoff) if ring_filter.only_new else None,
        search=search.lower(),
        search_raw=search,
        skip=max(0, int(page)) * page_size,
        limit=page_size,
    )[0]
    rows = result["rows"]
    for row in rows:
        row["new"] = bool(cutoff and row["detected_at"] and row["detected_at"] >= cutoff)
    return RingPage(
        rows=rows, total=result["total"], cutoff=cutoff, page=result["start"] // page_size
    )


# ------------------------------------------------------------------ ring view
RING = f"""
MATCH (r:{R} {{{P.RING_ID}: $ring_id}})
RETURN r{RING_PROPS} AS ring, COUNT {{ (r)<-[:{Rel.MEMBER_OF}]-() }} AS size
"""

RING_MEMBERS = f"""
MATCH (r:{R} {{{P.RING_ID}: $ring_id}})<-[:{Rel.MEMBER_OF}]-(m)
RETURN {_label("m")} AS label, {_key("m")} AS key, m{MEMBER_PROPS} AS props
ORDER BY m.{P.RISK_SCORE} DESC, key
LIMIT $limit
"""

#: An identifier's links to members as parallel lists of scalars (the driver decodes
#: these several times faster than a list of maps); times as epoch ms, -1 for none
#: (collect() drops nulls, which would misalign the lists). :func:`_links` rebuilds them.
_LINK_COLUMNS = (
    "collect({member}) AS members, "
    "collect(reduce(joined = head(rels), rel IN tail(rels) | joined + '|' + rel)) AS rels, "
    "collect(n) AS counts, collect(coalesce(first.epochMillis, -1)) AS firsts, "
    "collect(coalesce(last.epochMillis, -1)) AS lasts"
)


def _links(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of RING_SHARED / RING_SUBNETS with their parallel lists turned into ``links``
    (``member, rels, count, first, last`` and, for subnets, ``via``), in place."""
    for row in rows:
        columns = [row.pop(name) for name in ("members", "rels", "counts", "firsts", "lasts")]
        vias = row.pop("vias", None)
        row["links"] = [
            {
                "member": member,
                "rels": rels.split("|"),
                "count": count,
                "first": _from_millis(first) if first >= 0 else None,
                "last": _from_millis(last) if last >= 0 else None,
            }
            for member, rels, count, first, last in zip(*columns, strict=True)
        ]
        if vias is not None:
            for link, via in zip(row["links"], vias, strict=True):
                link["via"] = via
    return rows


#: Identifiers that members share: each with its links to members (aggregated over
#: relationship types), and how many nodes outside the ring link to it.
RING_SHARED = f"""
MATCH (r:{R} {{{P.RING_ID}: $ring_id}})<-[:{Rel.MEMBER_OF}]-(m)
WITH m ORDER BY m.{P.RISK_SCORE} DESC LIMIT $max_members
MATCH (m)-[e:{LINKS}]->(i)
WITH i, m, collect(DISTINCT type(e)) AS rels, sum(coalesce(e.{P.COUNT}, 1)) AS n,
     min(e.{P.FIRST_SEEN}) AS first, max(e.{P.LAST_SEEN}) AS last
WITH i, {_LINK_COLUMNS.format(member=_key("m"))}
WHERE size(members) >= $min_shared
WITH i, members, rels, counts, firsts, lasts ORDER BY size(members) DESC LIMIT $max_identifiers
WITH i, members, rels, counts, firsts, lasts, COUNT {{ (i)<-[:{LINKS}]-() }} AS degree
RETURN {_label("i")} AS label, {_key("i")} AS key, i{IDENTIFIER_PROPS} AS props,
       members, rels, counts, firsts, lasts,
       CASE WHEN degree <= $exact_limit
            THEN COUNT {{ MATCH (x)-[:{LINKS}]->(i) RETURN DISTINCT x }}
            ELSE degree END AS neighbours,
       degree > $exact_limit AS approximate
"""

#: Subnets whose IPs several member accounts used (a /24 in lockstep shares no IP).
RING_SUBNETS = f"""
MATCH (r:{R} {{{P.RING_ID}: $ring_id}})<-[:{Rel.MEMBER_OF}]-(m:{A})
WITH m ORDER BY m.{P.RISK_SCORE} DESC LIMIT $max_members
MATCH (m)-[e:{Rel.USED_IP}|{Rel.SIGNED_UP_FROM}]->(ip:{Label.IP})
      -[:{Rel.IN_SUBNET}]->(s:{Label.SUBNET})
WITH s, m, collect(DISTINCT ip.{P.IP}) AS via, sum(coalesce(e.{P.COUNT}, 1)) AS n,
     min(e.{P.FIRST_SEEN}) AS first, max(e.{P.LAST_SEEN}) AS last
WITH s, ['{Rel.IN_SUBNET}'] AS rels, m, n, first, last, via
WITH s, {_LINK_COLUMNS.format(member="m." + P.ACCOUNT_ID)}, collect(via) AS vias
WHERE size(members) >= $min_shared
RETURN '{Label.SUBNET}' AS label, s.{P.SUBNET} AS key, {{}} AS props,
       members, rels, counts, firsts, lasts, vias,
       COUNT {{ (s)<-[:{Rel.IN_SUBNET}]-() }} AS neighbours, false AS approximate
ORDER BY size(members) DESC LIMIT $max_identifiers
"""


#: Above this many account links an identifier's top neighbours by risk are found by
#: walking the ``account_risk`` index from the highest score down, stopping at ``$limit``
#: outsiders (a popular user agent has tens of thousands of accounts: reading and sorting
#: them all took 0.3-0.5 s); below it they are all read and sorted.
INDEX_WALK_FROM = 2_000


def _outside(var: str) -> str:
    return (
        f"($ring_id IS NULL OR NOT EXISTS "
        f"{{ ({var})-[:{Rel.MEMBER_OF}]->(:{R} {{{P.RING_ID}: $ring_id}}) }})"
    )


#: The links of the chosen neighbours ``m`` to ``i``, aggregated per neighbour.
_NEIGHBOUR_ROWS = f"""
MATCH (i)<-[e:{LINKS}]-(m)
WITH m, collect(DISTINCT type(e)) AS rels, sum(coalesce(e.{P.COUNT}, 1)) AS n,
     min(e.{P.FIRST_SEEN}) AS first, max(e.{P.LAST_SEEN}) AS last
RETURN {_label("m")} AS label, {_key("m")} AS key, m{MEMBER_PROPS} AS props,
       rels, n AS count, first.epochMillis AS first, last.epochMillis AS last
ORDER BY m.{P.RISK_SCORE} DESC, key
"""


def _neighbours_query(label: Label, key: Prop) -> str:
    # every linked node is read, the top ones by risk kept, then their links aggregated
    return f"""
MATCH (i:{label} {{{key}: $key}})<-[:{LINKS}]-(m)
WITH DISTINCT i, m
WHERE {_outside("m")}
WITH i, m ORDER BY m.{P.RISK_SCORE} DESC LIMIT $limit
{_NEIGHBOUR_ROWS}"""


def _popular_neighbours_query(label: Label, key: Prop) -> str:
    # accounts in descending risk from the index, kept if they link to i: for an
    # identifier with thousands of accounts the first few hundred give the top $limit
    return f"""
MATCH (i:{label} {{{key}: $key}})
MATCH (m:{A}) WHERE m.{P.RISK_SCORE} >= 0
WITH i, m ORDER BY m.{P.RISK_SCORE} DESC
WHERE EXISTS {{ (m)-[:{USAGE}]->(i) }} AND {_outside("m")}
WITH i, m LIMIT $limit
{_NEIGHBOUR_ROWS}"""


#: identifier label -> the nodes that link to one identifier (outside a ring, if given)
NEIGHBOURS_OF = {label: _neighbours_query(label, key) for label, key in IDENTIFIER_LABELS.items()}
#: the same for an identifier with more than INDEX_WALK_FROM account links (accounts only:
#: the logged-out IPs of a user agent are not among them)
POPULAR_NEIGHBOURS_OF = {
    label: _popular_neighbours_query(label, key) for label, key in IDENTIFIER_LABELS.items()
}
#: label -> how many account links an identifier has (from the degree store)
ACCOUNT_LINKS = {
    label: f"MATCH (i:{label} {{{key}: $key}}) RETURN COUNT {{ (i)<-[:{USAGE}]-() }} AS n"
    for label, key in IDENTIFIER_LABELS.items()
}


@dataclass
class RingGraphData:
    """What the ring view draws: the ring, its members and the identifiers they share."""

    ring: dict[str, Any]
    size: int
    members: list[dict[str, Any]]
    identifiers: list[dict[str, Any]]
    expanded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def ring_summary(driver, database: str, ring_id: str) -> tuple[dict[str, Any], int] | None:
    """The ring's properties and member count, or None when there is no such ring."""
    rows = _read(driver, database, RING, ring_id=ring_id)
    return (rows[0]["ring"], rows[0]["size"]) if rows else None


def ring_members(driver, database: str, ring_id: str, *, limit: int = 2000) -> list[dict]:
    """Members of the ring (``label, key, props``), highest risk first, at most ``limit``."""
    return _times(_read_bulk(driver, database, RING_MEMBERS, ring_id=ring_id, limit=limit))


def ring_graph_data(
    driver,
    database: str,
    ring_id: str,
    *,
    max_members: int = 2000,
    max_identifiers: int = 1000,
    min_shared: int = 2,
) -> RingGraphData | None:
    """The ring's subgraph, bounded by ``max_members`` and ``max_identifiers``."""
    summary = ring_summary(driver, database, ring_id)
    if summary is None:
        return None
    ring, size = summary
    members = ring_members(driver, database, ring_id, limit=max_members)
    bounds = {
        "ring_id": ring_id,
        "max_members": max_members,
        "max_identifiers": max_identifiers,
        "min_shared": min_shared,
    }
    shared = _read_bulk(driver, database, RING_SHARED, exact_limit=EXACT_COUNT_LIMIT, **bounds)
    subnets = _read_bulk(driver, database, RING_SUBNETS, **bounds)
    return RingGraphData(
        ring=ring, size=size, members=members, identifiers=_links(shared) + _links(subnets)
    )


def outside_neighbours(
    driver, database: str, label: str, key: str, *, ring_id: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Nodes linked to one identifier, highest risk first; outside ``ring_id`` if given."""
    query = NEIGHBOURS_OF.get(label)  # type: ignore[call-overload]
    if query is None:
        raise ValueError(f"no neighbourhood for label {label!r}")
    degree = _read_bulk(driver, database, ACCOUNT_LINKS[label], key=key)
    if degree and degree[0]["n"] > INDEX_WALK_FROM:
        query = POPULAR_NEIGHBOURS_OF[label]
    return _times(_read_bulk(driver, database, query, key=key, ring_id=ring_id, limit=limit))


# ---------------------------------------------------------------- account view
@dataclass
class AccountData:
    account: dict[str, Any]
    identifiers: list[dict[str, Any]]
    rings: list[dict[str, Any]]


ACCOUNT = f"MATCH (a:{A} {{{P.ACCOUNT_ID}: $account_id}}) RETURN a{{.*}} AS account"

#: The account's identifiers with the whole usage edge (times, counts, request
#: windows for the timeline) and how many distinct accounts use each (from the degree
#: store, an upper bound, above EXACT_COUNT_LIMIT relationships).
ACCOUNT_IDENTIFIERS = f"""
MATCH (a:{A} {{{P.ACCOUNT_ID}: $account_id}})-[e:{USAGE}]->(i)
WITH e, i, COUNT {{ (i)<-[:{USAGE}]-() }} AS degree
RETURN type(e) AS rel, {_label("i")} AS label, {_key("i")} AS key, properties(e) AS edge,
       i{IDENTIFIER_PROPS} AS props,
       CASE WHEN degree <= $exact_limit
            THEN COUNT {{ MATCH (x)-[:{USAGE}]->(i) RETURN DISTINCT x }}
            ELSE degree END AS accounts
ORDER BY label, e.{P.LAST_SEEN} DESC
LIMIT $limit
"""

ACCOUNT_RINGS = f"""
MATCH (:{A} {{{P.ACCOUNT_ID}: $account_id}})-[:{Rel.MEMBER_OF}]->(r:{R})
RETURN r{RING_PROPS} AS ring ORDER BY r.{P.SCORE} DESC LIMIT $limit
"""


def account_data(
    driver, database: str, account_id: str, *, max_identifiers: int = 500
) -> AccountData | None:
    """The account, its identifiers (bounded) and its rings, or None if it is unknown."""
    rows = _read(driver, database, ACCOUNT, account_id=account_id)
    if not rows:
        return None
    identifiers = _read(
        driver,
        database,
        ACCOUNT_IDENTIFIERS,
        account_id=account_id,
        limit=max_identifiers,
        exact_limit=EXACT_COUNT_LIMIT,
    )
    rings = [
        row["ring"]
        for row in _read(driver, database, ACCOUNT_RINGS, account_id=account_id, limit=50)
    ]
    return AccountData(account=rows[0]["account"], identifiers=identifiers, rings=rings)


def _rels(label: Label) -> str:
    return "|".join(RELS_TO[label])


def _neighbour_count_part(label: Label) -> str:
    rels = _rels(label)
    return f"""
CALL (a) {{
  MATCH (a)-[:{rels}]->(i:{label})
  RETURN count(DISTINCT i) AS identifiers
}}
CALL (a) {{
  MATCH (a)-[:{rels}]->(:{label})<-[:{rels}]-(b:{A}) WHERE b <> a
  WITH DISTINCT b LIMIT $cap
  RETURN count(b) AS accounts
}}
RETURN '{label}' AS label, identifiers, accounts"""


#: Per identifier type: how many identifiers the account has, and how many other
#: accounts share at least one of them (counting stops at ``$cap``).
NEIGHBOUR_COUNTS = "\nUNION ALL\n".join(
    f"MATCH (a:{A} {{{P.ACCOUNT_ID}: $account_id}})" + _neighbour_count_part(label)
    for label in RELS_TO
)


def _account_neighbours_query(label: Label) -> str:
    rels = _rels(label)
    key = IDENTIFIER_LABELS[label]
    return f"""
MATCH (a:{A} {{{P.ACCOUNT_ID}: $account_id}})-[:{rels}]->(i:{label})<-[:{rels}]-(b:{A})
WHERE b <> a
WITH b, collect(DISTINCT i.{key}) AS via
RETURN b.{P.ACCOUNT_ID} AS account_id, b.{P.RISK_SCORE} AS risk_score,
       b.{P.CREATED_AT} AS created_at, via[..5] AS via, size(via) AS shared
ORDER BY shared DESC, risk_score DESC, account_id
LIMIT $limit
"""


#: identifier label -> other accounts that share identifiers of that type with one account
ACCOUNT_NEIGHBOURS = {label: _account_neighbours_query(label) for label in RELS_TO}


def neighbour_counts(driver, database: str, account_id: str) -> list[dict[str, Any]]:
    """Rows ``label, identifiers, accounts`` (accounts capped at NEIGHBOUR_COUNT_CAP)."""
    return _read(driver, database, NEIGHBOUR_COUNTS, account_id=account_id, cap=NEIGHBOUR_COUNT_CAP)


def account_neighbours(
    driver, database: str, account_id: str, label: str, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Accounts sharing identifiers of type ``label`` with the account, most shared first."""
    query = ACCOUNT_NEIGHBOURS.get(label)  # type: ignore[call-overload]
    if query is None:
        raise ValueError(f"no identifier type {label!r}: use one of {sorted(RELS_TO)}")
    return _read(driver, database, query, account_id=account_id, limit=limit)


# ----------------------------------------------------------- identifier view
IDENTIFIER = {
    label: f"""
MATCH (i:{label} {{{key}: $key}})
RETURN i{IDENTIFIER_PROPS} AS props, COUNT {{ (i)<-[:{LINKS}]-() }} AS degree,
       [(i)-[:{Rel.IN_SUBNET}|{Rel.SENT_UA}]->(j) | [{_label("j")}, {_key("j")}]][..50] AS links
"""
    for label, key in IDENTIFIER_LABELS.items()
    if label != Label.ACCOUNT
}


def identifier_neighbourhood(
    driver, database: str, label: str, key: str, *, limit: int = 200
) -> dict[str, Any] | None:
    """An identifier, the nodes linked to it (bounded) and what it links to itself."""
    query = IDENTIFIER.get(label)  # type: ignore[call-overload]
    if query is None:
        raise ValueError(f"no identifier type {label!r}")
    rows = _read(driver, database, query, key=key)
    if not rows:
        return None
    row = rows[0]
    return {
        "label": label,
        "key": key,
        "props": row["props"],
        "degree": row["degree"],
        "links": [{"label": lbl, "key": k} for lbl, k in row["links"]],
        "neighbours": outside_neighbours(driver, database, label, key, limit=limit),
    }


# ----------------------------------------------------------------- search
def _lookup(label: Label, key: Prop) -> str:
    return f"""
MATCH (n:{label} {{{key}: $value}})
RETURN '{label}' AS label, n.{key} AS key, COUNT {{ (n)<-[:{LINKS}]-() }} AS degree,
       [(n)<-[:{USAGE}]-(a:{A}) | a{{.{P.ACCOUNT_ID}, .{P.RISK_SCORE}}}][..$accounts] AS accounts
"""


#: label -> exact-key lookup (all keys have a uniqueness constraint, hence an index)
LOOKUP = {label: _lookup(label, key) for label, key in IDENTIFIER_LABELS.items()}
ACCOUNT_BY_EMAIL = f"""
MATCH (a:{A} {{{P.ACCOUNT_EMAIL}: $value}})
RETURN a.{P.ACCOUNT_ID} AS account_id, a.{P.RISK_SCORE} AS risk_score LIMIT $accounts
"""


def search_entities(
    driver, database: str, candidates: list[tuple[str, str]], *, accounts: int = 20
) -> list[dict[str, Any]]:
    """Look up each ``(label, key)`` candidate (from :func:`dashboards.views.search_candidates`).

    Returns the entities that exist, each with up to ``accounts`` linked accounts.
    """
    found: list[dict[str, Any]] = []
    for label, value in candidates:
        query = LOOKUP.get(label)  # type: ignore[call-overload]
        if query is None:
            raise ValueError(f"cannot search {label!r}")
        rows = _read(driver, database, query, value=value, accounts=accounts)
        if label == Label.ACCOUNT:
            for row in rows:
                row["accounts"] = [{P.ACCOUNT_ID: row["key"]}]
        found.extend(rows)
    return found


# ------------------------------------------------------------------- cases
@dataclass(frozen=True)
class CaseUpdate:
    """An investigator's decision on a ring."""

    status: str
    assignee: str | None
    note: str | None
    by: str

    def __post_init__(self) -> None:
        if self.status not in RING_STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(RING_STATUSES)}")


#: Only the case properties are written: detection owns the rest of the ring, and
#: re-detection leaves these alone (see docs/dashboard.md). The ring keeps the latest
#: decision (the queue filters on it, training reads it as labels); every decision is
#: also kept as its own node, so earlier ones are never lost.
SET_CASE = f"""
MATCH (r:{R} {{{P.RING_ID}: $ring_id}})
CREATE (r)-[:{Rel.HAS_DECISION}]->(:{Label.CASE_DECISION} {{
    {P.STATUS}: $status, {P.ASSIGNEE}: $assignee, {P.NOTE}: $note,
    {P.DECIDED_BY}: $by, {P.DECIDED_AT}: datetime($at)}})
SET r.{P.STATUS} = $status, r.{P.ASSIGNEE} = $assignee, r.{P.NOTE} = $note,
    r.{P.STATUS_BY} = $by, r.{P.STATUS_AT} = datetime($at)
RETURN r{RING_PROPS} AS ring
"""


def set_case(
    driver, database: str, ring_id: str, update: CaseUpdate, *, at: datetime | None = None
) -> dict[str, Any] | None:
    """Record the decision on the ring and in its history (who and when too); None if
    there is no such ring."""
    at = at or datetime.now(UTC)
    records, _, _ = driver.execute_query(
        SET_CASE,
        {
            "ring_id": ring_id,
            "status": update.status,
            "assignee": (update.assignee or "").strip() or None,
            "note": (update.note or "").strip() or None,
            "by": update.by,
            "at": at.isoformat(),
        },
        database_=database,
    )
    return _native(records[0]["ring"]) if records else None


CASE_HISTORY = f"""
MATCH (:{R} {{{P.RING_ID}: $ring_id}})-[:{Rel.HAS_DECISION}]->(d:{Label.CASE_DECISION})
RETURN d{{.{P.STATUS}, .{P.ASSIGNEE}, .{P.NOTE}, .{P.DECIDED_BY}, .{P.DECIDED_AT}}} AS decision
ORDER BY d.{P.DECIDED_AT} DESC
LIMIT $limit
"""


def case_history(driver, database: str, ring_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The ring's decisions, newest first (at most ``limit``)."""
    rows = _read(driver, database, CASE_HISTORY, ring_id=ring_id, limit=limit)
    return [row["decision"] for row in rows]


MY_CASES = f"""
MATCH (r:{R})
WHERE r.{P.ASSIGNEE} = $me OR r.{P.STATUS_BY} = $me
RETURN r.{P.RING_ID} AS ring_id, r.{P.KIND} AS kind, r.{P.SCORE} AS score,
       coalesce(r.{P.STATUS}, 'open') AS status, r.{P.ASSIGNEE} AS assignee,
       r.{P.NOTE} AS note, r.{P.STATUS_BY} AS status_by, r.{P.STATUS_AT} AS status_at,
       COUNT {{ (r)<-[:{Rel.MEMBER_OF}]-() }} AS size
ORDER BY r.{P.STATUS_AT} DESC, r.{P.SCORE} DESC
LIMIT $limit
"""


def my_cases(driver, database: str, me: str, *, limit: int = 500) -> list[dict[str, Any]]:
    """Rings assigned to ``me`` or last decided by ``me``, most recently changed first."""
    return _read(driver, database, MY_CASES, me=me, limit=limit)


# ------------------------------------------------------------------- cypher
def graph_value(value: Any) -> Any:
    """Driver values to plain Python: nodes, relationships and paths as tagged dicts
    (``_node``, ``_rel``, ``_path``) for :func:`dashboards.views.cypher_elements`."""
    from neo4j.graph import Node, Path, Relationship

    if isinstance(value, Node):
        return {
            "_node": {
                "id": value.element_id,
                "labels": sorted(value.labels),
                "props": _native(dict(value)),
            }
        }
    if isinstance(value, Relationship):
        return {
            "_rel": {
                "id": value.element_id,
                "type": value.type,
                "start": value.start_node.element_id if value.start_node else None,
                "end": value.end_node.element_id if value.end_node else None,
                "props": _native(dict(value)),
            }
        }
    if isinstance(value, Path):
        return {
            "_path": {
                "nodes": [graph_value(n)["_node"] for n in value.nodes],
                "rels": [graph_value(r)["_rel"] for r in value.relationships],
            }
        }
    if isinstance(value, list):
        return [graph_value(v) for v in value]
    if isinstance(value, dict):
        return {k: graph_value(v) for k, v in value.items()}
    return _native(value)


def saved_queries() -> dict[str, Any]:
    """The analyst query library (:func:`graphs.queries.load_queries`), by name."""
    from graphs.queries import load_queries

    return load_queries()


def run_read_only(
    driver,
    database: str,
    text: str,
    params: Mapping[str, Any] | None = None,
    *,
    timeout_s: float = 10.0,
    row_limit: int = 1000,
) -> QueryResult:
    """An analyst's query through the one read-only runner,
    :func:`ingest.analyst.run_read_only` (what ``ringwatch cypher`` uses too: writes
    refused, server-side timeout, row limit), keeping graph values for drawing
    (:func:`graph_value`)."""
    return analyst.run_read_only(
        driver, database, text, params, timeout_s=timeout_s, row_limit=row_limit,
        convert=graph_value,
    )  # fmt: skip
