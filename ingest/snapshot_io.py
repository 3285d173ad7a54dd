"""Reading the whole account–identifier graph out of Neo4j into a :class:`Snapshot`.

Strings cross the wire once per node, not once per edge: every node's key is read once
(per label) with the node's internal id, and the relationship and window queries return
only numbers (node ids, times as epoch milliseconds, counters) and user agents. The
client then looks the ids up in a table indexed by node id, so a column such as
``links.account_id`` holds references to one string object per account instead of one
new string per row (9M rows at 1M accounts). No query runs per node.

Most queries return their columns as lists, one record per range of node or relationship
ids (Bolt's binary values: a third to a half less server time than CSV text). The request
windows are read apart from the links, from the ~12% of ``USED_IP`` relationships that
hold any, and their user agents apart from their numbers (see :data:`WINDOWS`): the
numbers stream through APOC's CSV export when the server has APOC (pyarrow parses each
chunk as it arrives), through plain records otherwise. Independent queries run on a few
sessions at once, the longest first.

Node ids are only compared within one :func:`read_snapshot`; the graph must not lose
nodes while it is read (the nightly job runs ingest and detect one after the other).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd

from graphs.errors import DetectionError
from graphs.model import USAGE_RELS, Label, Prop, Rel
from graphs.snapshot import ACCOUNT_COLUMNS, LINK_COLUMNS, WINDOW_COLUMNS, Snapshot, text_column
from ingest.prepare import EDGE_COUNTERS, LINK_KIND, links_frame, windows_frame

__all__ = ["read_columns", "read_snapshot"]

P = Prop
A = Label.ACCOUNT


#: Window list properties and the snapshot's window columns they become.
WINDOW_LISTS = {
    P.WIN_UA: "user_agent",
    P.WIN_START: "window_start",
    P.WIN_S: "window_s",
    P.WIN_REQUESTS: "n_requests",
    P.WIN_PATHS: "n_paths",
    P.WIN_CREATORS: "n_creators",
}
_LISTS = set(WINDOW_LISTS)
_TEXT_LISTS = {P.WIN_UA}


@dataclass(frozen=True)
class _Query:
    """One read: ``head`` (``MATCH ... WITH ...``) and the ``columns`` it returns, as
    (expression, name) pairs. ``position`` is an expression of ``head`` that grows with
    the scan order (the node or relationship id: label and type scans run in id order);
    a query with ``collected`` set returns its columns as lists, one record per range of
    positions (see :meth:`_Reader.columns`).
    """

    head: str
    columns: tuple[tuple[str, str], ...]
    position: str
    collected: bool = True

    @property
    def names(self) -> list[str]:
        return [name for _, name in self.columns]

    def rows(self) -> str:
        """One row per result."""
        columns = ", ".join(f"{e} AS {n}" for e, n in self.columns)
        return f"{COMPILED}{self.head}\nRETURN {columns}"

    def in_lists(self) -> str:
        """One record per ``$chunk`` positions: each column a list of the rows' values,
        a null as ``$none`` (an empty list in a list column) so that the lists stay
        aligned (``collect`` skips nulls)."""
        renamed = ", ".join(f"{e} AS {n}" for e, n in self.columns)
        lists = ", ".join(
            f"collect(coalesce({n}, {'[]' if n in _LISTS else '$none'})) AS {n}" for n in self.names
        )
        return (
            f"{COMPILED}{self.head}\n"
            f"WITH {self.position} / $chunk AS chunk, {renamed}\nRETURN chunk, {lists}"
        )


#: Each read query runs once, so the server would evaluate its expressions interpreted
#: (it compiles them only for queries it has seen often): compiled, the 1M graph's
#: USED_DEVICE links took 5.0 s of server CPU instead of 6.3-8.1.
COMPILED = "CYPHER expressionEngine=compiled\n"


def _times_ms(p: str) -> tuple[tuple[str, str], ...]:
    return ((f"{p}.{P.FIRST_SEEN}.epochMillis", "first_seen"),
            (f"{p}.{P.LAST_SEEN}.epochMillis", "last_seen"))  # fmt: skip


# Server-side cost, measured on the 1M graph: a relationship-type scan without node
# labels is ~8x quicker than expanding from labelled nodes (every usage relationship
# starts at an Account and ends at its identifier label, graphs/model.py), and one
# properties() map per entity reads the property chain once instead of once per column.
# id() is deprecated in Neo4j 5 in favour of elementId(), a string: the integer is what
# keeps edge rows small, and it is only used within one read (see the module docstring).
ACCOUNTS = _Query(
    f"MATCH (a:{A}) WITH a, properties(a) AS p",
    (
        ("id(a)", "node"),
        (f"p.{P.ACCOUNT_ID}", "account_id"),
        (f"p.{P.CREATED_AT}.epochMillis", "created_at"),
        (f"p.{P.COUNTRY}", "country"),
        (f"p.{P.STATUS}", "status"),
        (f"p.{P.ACCOUNT_EMAIL}", "email"),
        (f"p.{P.DOMAIN}", "email_domain"),
        (f"p.{P.ACCOUNT_PHONE}", "phone"),
        (f"p.{P.LABEL}", "label"),
        (f"p.{P.LABEL_SOURCE}", "label_source"),
    ),
    position="id(a)",
)
#: The key of every identifier node (and subnet), by label.
NAMES = {
    label: _Query(f"MATCH (x:{label})", (("id(x)", "node"), (f"x.{key}", "name")), position="id(x)")
    for label, key in [*dict(USAGE_RELS.values()).items(), (Label.SUBNET, P.SUBNET)]
}


def _counters(rel: Rel) -> list[str]:
    """The edge counters the snapshot keeps (failed_logins is the dashboard's, not ours)."""
    return [c for c in EDGE_COUNTERS[rel] if c in LINK_COLUMNS]


#: Reader column with each row's number of list elements (the same in every list column).
LIST_LENGTH = "list_length"


def _links_query(rel: Rel) -> _Query:
    counters = _counters(rel)
    columns = [("id(a)", "account"), ("id(x)", "target"), *_times_ms("p")]
    columns += [(f"p.{c}", c) for c in counters]
    # a map projection reads only these keys: properties() would also load what the
    # snapshot leaves out (USED_IP's window lists, HAS_EMAIL's raw address, the usage
    # relationships' request totals); 1M graph, USED_IP: 11.6 s of server CPU, against
    # 20.5 with properties() and the columns the snapshot no longer has
    keys = ", ".join(f".{k}" for k in (P.FIRST_SEEN, P.LAST_SEEN, *counters))
    return _Query(
        f"MATCH (a)-[r:{rel}]->(x) WITH a, x, r, r {{{keys}}} AS p",
        tuple(columns),
        position="id(r)",
    )


LINKS = {rel: _links_query(rel) for rel in LINK_KIND}
IP_SUBNETS = _Query(
    f"MATCH (i)-[r:{Rel.IN_SUBNET}]->(s)", (("id(i)", "ip"), ("id(s)", "subnet")), "id(r)"
)


def _window_queries(head: str, clients: tuple[tuple[str, str], ...]) -> dict[str, _Query]:
    row = ("id(w)", "row")
    numbers = tuple((f"w.{name}", str(name)) for name in WINDOW_LISTS if name not in _TEXT_LISTS)
    agents = tuple((f"w.{name}", str(name)) for name in WINDOW_LISTS if name in _TEXT_LISTS)
    return {  # lists of strings hydrate quickly from Bolt; numbers come quicker as CSV
        "numbers": _Query(head, (row, *clients, *numbers), "id(w)", collected=False),
        "agents": _Query(head, (row, *agents), "id(w)"),
    }


#: Request windows, kept as lists on the USED_IP relationships of the accounts that
#: requested content (~12% of them at 1M accounts) and on the IP nodes of logged-out
#: traffic; read apart from the links so that only these rows carry lists. Each kind in
#: two queries that scan the same rows in the same order (``row``, checked): one for the
#: numbers, one for the user agents, a list of strings. In one query the server took
#: 10.3 s of CPU to read the six lists of the 1M graph's 599k windowed IP nodes, against
#: 1.4 s for the five number lists and 0.8 s for the user agents alone.
WINDOWS = {
    "account": _window_queries(
        f"MATCH (a)-[w:{Rel.USED_IP}]->(x) WHERE w.{P.WIN_START} IS NOT NULL",
        (("id(a)", "client"), ("id(x)", "ip")),
    ),
    "ip": _window_queries(
        f"MATCH (w:{Label.IP}) WHERE w.{P.WIN_START} IS NOT NULL",
        (("id(w)", "client"), ("id(w)", "ip")),
    ),
}
#: APOC's CSV export, streamed back in a few large records.
APOC_STREAM = (
    "CALL apoc.export.csv.query($query, null, {stream: true, batchSize: $batch}) "
    "YIELD data RETURN data"
)
APOC_BATCH = 200_000
#: Positions per record of a collected query (~250k rows of a relationship type at most).
CHUNK = 262_144
#: Text columns of the queries; every other column is a number.
_TEXT = {"account_id", "country", "status", "email", "email_domain", "phone", "label",
         "label_source", "name", "user_agent"}  # fmt: skip
#: Text columns with few distinct values, read collected: each kept as one string object
#: per distinct value (factorizing a column of distinct keys costs ~1 s per million
#: strings and saves nothing).
_SHARED = {"country", "status", "email_domain", "label", "label_source", P.WIN_UA}
_IDS = {"node", "account", "target", "ip", "client", "subnet", "row"}
#: Server time of each query on the 1M graph (s, measured alone): the longest go first so
#: that the workers do not end on one long query while the others idle.
_COST = {"links:USED_IP": 13, "accounts": 10, "links:USED_UA": 8, "links:USED_DEVICE": 7,
         "windows:ip:numbers": 6, "windows:account:numbers": 6, "links:HAS_EMAIL": 5,
         "windows:ip:agents": 4, "windows:account:agents": 4}  # fmt: skip


class _Reader:
    """Runs read queries into column arrays.

    A collected query comes back as lists, one record per range of positions: the server
    packs numbers and strings in Bolt's binary form, which takes it a third to a half
    less time than writing CSV text, and the driver's Rust extension unpacks them into
    lists that become arrays at once (measured on the 1M graph, one query at a time:
    USED_DEVICE 6.1 server + 0.9 client CPU seconds against 12.1 + 1.1 through CSV; the
    links and names 34 + 6 against 63 + 6). A query that is not collected comes through
    APOC's CSV stream when the server has APOC, through plain records otherwise: the
    numbers of the request windows, lists in each row, which the driver would hydrate
    element by element (the 599k windowed IP nodes of the 1M graph: 5.4 + 1.1 through
    CSV against 4.7 + 3.6 collected; their user agents, lists of strings, 2.7 + 1.1
    collected against 4.6 + 1.6).
    """

    def __init__(self, driver, database: str) -> None:
        from neo4j.exceptions import ClientError

        self.driver = driver
        self.database = database
        try:
            with self._session() as session:
                session.run("RETURN apoc.version() AS version").consume()
            self.apoc = True
        except ClientError:  # no APOC, or not allowed: plain records
            self.apoc = False

    def columns(self, query: _Query) -> dict[str, np.ndarray]:
        """Column name to array: ids as int64, numbers as float64 (NaN for null), text
        as objects (None for null; one string object per distinct value in the
        columns of few values); a list column flattened, with the rows' lengths in
        :data:`LIST_LENGTH`."""
        if query.collected:
            return self._collected_columns(query)
        return self._apoc_columns(query) if self.apoc else self._record_columns(query)

    def _session(self, fetch_size: int = 10_000):
        from neo4j import READ_ACCESS, NotificationClassification

        return self.driver.session(
            database=self.database,
            default_access_mode=READ_ACCESS,
            fetch_size=fetch_size,
            notifications_disabled_classifications=[NotificationClassification.DEPRECATION],
        )

    def _collected_columns(self, query: _Query) -> dict[str, np.ndarray]:
        parts: dict[int, dict] = {}
        with self._session(fetch_size=1) as session:
            result = session.run(query.in_lists(), chunk=CHUNK, none=float("nan"))
            for record in result:  # each range's lists become arrays as they arrive
                parts[record["chunk"]] = {n: _list_column(n, record[n]) for n in query.names}
        ordered = [parts[k] for k in sorted(parts)]  # the scan's order
        columns = {}
        for n in query.names:
            pieces = [part.pop(n) for part in ordered]
            if n in _LISTS:  # (elements, lengths) per range
                lengths = [p[1] for p in pieces]
                columns[n] = (
                    _joined(n, [p[0] for p in pieces]),
                    np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64),
                )
            else:
                columns[n] = _joined(n, pieces)
        return _with_list_length(columns)

    def _record_columns(self, query: _Query) -> dict[str, np.ndarray]:
        with self._session() as session:
            result = session.run(query.rows())
            names = result.keys()
            rows = result.values()
        values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        cells = dict(zip(names, values, strict=True))
        lists = {n: [c if c is not None else [] for c in cells.pop(n)] for n in _LISTS & set(cells)}
        columns = {n: _typed(n, _object_array(v)) for n, v in cells.items()}
        for n, v in lists.items():
            lengths = np.fromiter(map(len, v), dtype=np.int64, count=len(v))
            flat = _object_array(list(chain.from_iterable(v)))
            columns[n] = (_typed(n, flat), lengths)
        return _with_list_length(columns)

    def _apoc_columns(self, query: _Query) -> dict[str, np.ndarray]:
        import pyarrow as pa

        tables, names = [], None
        with self._session() as session:
            result = session.run(APOC_STREAM, {"query": query.rows(), "batch": APOC_BATCH})
            for record in result:  # one CSV chunk per record, parsed as it arrives
                chunk = record["data"].encode("utf-8")
                if names is None:
                    header, _, chunk = chunk.partition(b"\n")
                    names = [n.strip('"') for n in header.decode("utf-8").split(",")]
                if chunk.strip():
                    tables.append(_parse_csv(chunk, names))
        if not tables:
            empty = np.array([], dtype=object)
            return _with_list_length(
                {
                    n: (_typed(n, empty), np.zeros(0, dtype=np.int64)) if n in _LISTS
                    else _typed(n, empty)
                    for n in names or query.names
                }
            )  # fmt: skip
        table = pa.concat_tables(tables)
        del tables
        columns = {}
        for n in names:  # each Arrow column freed once converted
            column, table = table.column(n), table.drop_columns([n])
            columns[n] = _arrow_list(n, column) if n in _LISTS else _arrow_column(n, column)
            del column
        return _with_list_length(columns)


def _list_column(name: str, values: list) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """One collected column of one record as an array (text: NaN where ``$none`` came
    back for a null, made None by :func:`_joined`); a list column as its elements and
    each row's number of elements."""
    if name in _LISTS:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        elements = chain.from_iterable(values)
        if name in _TEXT_LISTS:
            return _object_array(list(elements)), lengths
        return np.fromiter(elements, dtype=np.float64, count=int(lengths.sum())), lengths
    if name in _TEXT:
        return _object_array(values)
    # fromiter: half the time of np.array for Python ints into float64
    return np.fromiter(values, dtype=np.int64 if name in _IDS else np.float64, count=len(values))


def _joined(name: str, pieces: list[np.ndarray]) -> np.ndarray:
    """The pieces of one collected column as one array, text with None for null."""
    column = np.concatenate(pieces) if pieces else _typed(name, _object_array([]))
    if name in _SHARED:
        return _shared_strings(column)
    if name in _TEXT:
        missing = column != column  # the NaN of $none is the only value unequal to itself
        column[missing] = None
    return column


def _object_array(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _with_list_length(columns: dict) -> dict[str, np.ndarray]:
    """Columns with each list column flattened and one :data:`LIST_LENGTH` column."""
    lengths = [columns[n][1] for n in columns if n in _LISTS]
    if not lengths:
        return columns
    if any(not np.array_equal(lengths[0], other) for other in lengths[1:]):
        raise DetectionError("request window lists of unequal length on one relationship")
    out = {n: v[0] if n in _LISTS else v for n, v in columns.items()}
    out[LIST_LENGTH] = lengths[0]
    return out


def _arrow_list(name: str, column) -> tuple[np.ndarray, np.ndarray]:
    """A list column as its elements (flattened) and each row's number of elements.

    APOC writes a list as JSON (``[1,2]``, ``["a","b"]``); null is an empty list.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = column.combine_chunks()
    filled = pc.and_(cells.is_valid(), pc.not_equal(cells, "[]")).fill_null(False)
    texts = cells.filter(filled)
    lengths = np.zeros(len(cells), dtype=np.int64)
    at = filled.to_numpy(zero_copy_only=False)
    if name in _TEXT_LISTS and pc.any(pc.match_substring(texts, "\\")).as_py():
        # an escaped character: JSON decodes it (slower, exact)
        lists = [json.loads(c) for c in texts.to_pylist()]
        lengths[at] = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        return _shared_strings(_object_array(list(chain.from_iterable(lists)))), lengths
    if name in _TEXT_LISTS:
        # without escapes, '","' occurs only between two strings of the list
        parts = pc.split_pattern(pc.utf8_slice_codeunits(texts, 2, -2), '","')
    else:
        parts = pc.split_pattern(pc.utf8_slice_codeunits(texts, 1, -1), ",")
    lengths[at] = pc.list_value_length(parts).to_numpy()
    flat = pc.list_flatten(parts)
    if name in _TEXT_LISTS:
        return _arrow_column(name, pa.chunked_array([flat], type=pa.string())), lengths
    return pc.cast(flat, pa.float64()).to_numpy(), lengths


def _shared_strings(values: np.ndarray) -> np.ndarray:
    """``values`` with one Python string per distinct value, as for a text column (None
    for null)."""
    if not len(values):
        return values
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    uniques = np.asarray(uniques, dtype=object)
    uniques[pd.isna(uniques)] = None  # factorize gives NaN for None
    return uniques[codes]


def _parse_csv(chunk: bytes, names: list[str]):
    import pyarrow as pa
    import pyarrow.csv as pcsv

    types = {
        n: pa.string() if n in _TEXT | _LISTS else pa.int64() if n in _IDS else pa.float64()
        for n in names
    }
    return pcsv.read_csv(
        pa.BufferReader(chunk),
        read_options=pcsv.ReadOptions(column_names=names),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=True
        ),
    )


def _arrow_column(name: str, column) -> np.ndarray:
    if name in _TEXT or name in _TEXT_LISTS:
        # one Python string per distinct value, shared by every row that holds it
        encoded = column.combine_chunks().dictionary_encode()
        values = np.asarray([*encoded.dictionary.to_pylist(), None], dtype=object)
        codes = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy()
        return values[codes]
    if name in _IDS:
        return column.to_numpy()
    return column.to_numpy().astype("float64", copy=False)


def _typed(name: str, values: np.ndarray) -> np.ndarray:
    if name in _TEXT or name in _TEXT_LISTS:
        return values
    if name in _IDS:
        return values.astype(np.int64)
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64")


class _Names:
    """The key of each node of one label, looked up by node id.

    Node ids are small integers (the store's record numbers), so a lookup is one gather
    from a table indexed by id (-1 where no node of this label is), not a binary search:
    for the 9M link ends of 1M accounts, 0.3 s instead of 6 s.
    """

    def __init__(self, node: np.ndarray, name: np.ndarray) -> None:
        self.name = name
        self.first = int(node.min()) if len(node) else 0
        span = int(node.max()) - self.first + 1 if len(node) else 0
        self.slot = np.full(span, -1, dtype=np.int64 if len(node) >= 2**31 else np.int32)
        self.slot[node - self.first] = np.arange(len(node), dtype=self.slot.dtype)

    def position(self, node: np.ndarray) -> np.ndarray:
        offset = node - self.first
        inside = (offset >= 0) & (offset < len(self.slot))
        at = self.slot[np.where(inside, offset, 0)] if len(self.slot) else np.full(len(node), -1)
        if not inside.all() or (at < 0).any():
            raise DetectionError(
                "the graph changed while detect read it (a node disappeared): run it again"
            )
        return at

    def __getitem__(self, node: np.ndarray) -> np.ndarray:
        return self.name[self.position(node)]


def _times(ms: np.ndarray, unit: str = "ms") -> pd.Series:
    times = pd.to_datetime(pd.Series(ms, dtype="float64"), unit=unit, utc=True)
    return times.astype("datetime64[ns, UTC]")


def read_snapshot(driver, database: str, *, workers: int = 2) -> Snapshot:
    """The :class:`Snapshot` of the graph in ``database`` (see graphs/snapshot.py).

    ``workers`` queries run at once (each on its own session).
    """
    reader = _Reader(driver, database)
    queries = {
        "accounts": ACCOUNTS,
        **{f"names:{label}": q for label, q in NAMES.items()},
        **{f"links:{rel}": q for rel, q in LINKS.items()},
        "subnets": IP_SUBNETS,
        **{f"windows:{kind}:{part}": q for kind, qs in WINDOWS.items() for part, q in qs.items()},
    }
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = {
            name: pool.submit(reader.columns, queries[name])
            for name in sorted(queries, key=lambda n: -_COST.get(n, 0))
        }
        # each query's future is dropped once its columns are handed over, so that the
        # raw columns of one relationship type are freed as soon as its frame is built
        return _snapshot(lambda name: jobs.pop(name).result())


def read_columns(
    driver, database: str, head: str, columns: Sequence[tuple[str, str]], position: str
) -> dict[str, np.ndarray]:
    """Columns of one read of the whole graph (``MATCH ...`` in ``head``; ``columns`` as
    (expression, name) pairs with the names the snapshot's reader knows, ``position``
    the id the scan runs in), as lists, one record per range of ids: for a scan of every
    account the server packs Bolt values instead of one record per row (the write-back's
    1M stored risk scores: see ingest/rings_io.py)."""
    return _Reader(driver, database).columns(_Query(head, tuple(columns), position))


def _snapshot(result: Callable[[str], dict[str, np.ndarray]]) -> Snapshot:
    """The snapshot from the columns of each query, by name (taken once each)."""
    account_columns = result("accounts")
    accounts = _accounts(account_columns)
    names = {A: _Names(account_columns["node"], account_columns["account_id"])}
    for label in NAMES:
        columns = result(f"names:{label}")
        names[label] = _Names(columns["node"], columns["name"])
    links = _links({rel: result(f"links:{rel}") for rel in LINKS}, names)
    subnets = result("subnets")
    ip_subnets = pd.DataFrame(
        {
            "ip": text_column(names[Label.IP][subnets["ip"]]),
            "subnet": text_column(names[Label.SUBNET][subnets["subnet"]]),
        }
    )
    windows = _windows(
        {
            kind: _flat_windows(result(f"windows:{kind}:numbers"), result(f"windows:{kind}:agents"))
            for kind in WINDOWS
        },
        names,
    )
    return Snapshot(accounts=accounts, links=links, ip_subnets=ip_subnets, windows=windows)


def _flat_windows(numbers: dict[str, np.ndarray], agents: dict[str, np.ndarray]) -> dict:
    """The request windows kept as lists in the columns of both window queries (see
    :data:`WINDOWS`), one row per window."""
    if not np.array_equal(numbers.pop("row"), agents.pop("row")):
        raise DetectionError(
            "the graph changed while detect read it (request windows): run it again"
        )
    lengths = numbers.pop(LIST_LENGTH)
    if not np.array_equal(lengths, agents.pop(LIST_LENGTH)):
        raise DetectionError("request window lists of unequal length on one relationship")
    windows = {
        column: (agents if name in _TEXT_LISTS else numbers).pop(name)
        for name, column in WINDOW_LISTS.items()
    }
    windows["client"] = np.repeat(numbers["client"], lengths)
    windows["ip"] = np.repeat(numbers["ip"], lengths)
    return windows


def _accounts(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: _times(columns[c]) if c == "created_at" else text_column(columns[c])
            for c in ACCOUNT_COLUMNS
        },
        copy=False,
    )


def _links(parts: dict[Rel, dict[str, np.ndarray]], names: dict) -> pd.DataFrame:
    # one column at a time over all relationship types, each type's array freed once
    # joined, and no frame copied: the 9M links of 1M accounts are ~1 GB per copy
    pieces: dict[str, list[np.ndarray]] = {c: [] for c in LINK_COLUMNS}
    for rel, kind in LINK_KIND.items():
        columns = parts.pop(rel)
        n = len(columns["account"])
        if not n:
            continue
        label, _ = USAGE_RELS[rel]
        pieces["account_id"].append(names[A][columns.pop("account")])
        pieces["kind"].append(_repeated(kind, n))
        pieces["key"].append(names[label][columns.pop("target")])
        for c in LINK_COLUMNS[3:]:  # a counter this type does not keep is none (0)
            pieces[c].append(columns.pop(c) if c in columns else np.full(n, np.nan))
        del columns
    if not pieces["account_id"]:
        return links_frame(pd.DataFrame())
    frame = {}
    for c in LINK_COLUMNS:
        joined = np.concatenate(pieces.pop(c))
        if c in ("first_seen", "last_seen"):
            frame[c] = _times(joined)
        elif joined.dtype == object:
            frame[c] = text_column(joined)
        else:  # links_frame's dtype and 0 for none, so that it has nothing to copy
            filled = np.where(np.isnan(joined), 0.0, joined)
            frame[c] = pd.Series(filled.astype("float64" if c == "amount" else "int64"), copy=False)
        del joined
    links = pd.DataFrame(frame, copy=False)
    del frame
    return links_frame(links)


def _repeated(value: str, n: int) -> np.ndarray:
    """``n`` references to ``value`` (np.full of an object is 13x slower: 1 s for 9M)."""
    return np.array([value], dtype=object).repeat(n)


def _windows(parts: dict[str, dict[str, np.ndarray]], names: dict) -> pd.DataFrame:
    frames = []
    for kind, columns in parts.items():
        clients = names[A] if kind == "account" else names[Label.IP]
        agents = columns["user_agent"]
        frames.append(
            pd.DataFrame(
                {
                    "client_kind": text_column(_repeated(kind, len(agents))),
                    "client_id": text_column(clients[columns["client"]]),
                    "ip": text_column(names[Label.IP][columns["ip"]]),
                    # "" (no user agent) arrives as null: windows_frame reads both as none
                    "user_agent": text_column(np.where(pd.isna(agents), "", agents)),
                    "window_start": pd.to_datetime(
                        pd.Series(columns["window_start"], dtype="float64"), unit="s", utc=True
                    ),
                    **{c: columns[c] for c in ("window_s", "n_requests", "n_paths", "n_creators")},
                }
            )
        )
    windows = pd.concat(frames, ignore_index=True).reindex(columns=list(WINDOW_COLUMNS))
    return windows_frame(windows)
