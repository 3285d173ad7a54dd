"""Read, validate, normalise and aggregate a dataset into the rows ingest writes.

This step is pure (no Neo4j): the online writer, the bulk importer and
:func:`snapshot_from_dataset` all start from the :class:`PreparedFile` objects made here.

Each table file is read in chunks; each chunk is validated (:mod:`ingest.tables`), rows
that break a rule are quarantined with the rule, the rest are normalised and aggregated
to **one row per graph edge per file** (partial aggregates of the chunks are combined at
the end of the file). One row per edge per file is what makes writes idempotent: a
file's contribution to an edge is a fixed value, written together with the file's content
hash (see ``docs/ingest.md``).

Frames of a :class:`PreparedFile` (times are ``datetime64[ns, UTC]``):

``accounts``
    account_id, created_at, country, status, email (canonical), domain, phone
``labels``
    account_id, label, label_source, label_ts (the winning label of this file)
``ips``
    ip, is_v6, subnet (every IP the file mentions)
``payment_methods``
    payment_method_id, card_bin, card_country (latest known in this file)
one frame per relationship type (named by :class:`graphs.model.Rel` values)
    account_id (``ip`` for SENT_UA), key, first_seen, last_seen, count and the counters
    of :data:`EDGE_COUNTERS`; HAS_EMAIL also raw
``account_windows`` / ``ip_windows``
    account_id or ip, ip, ua ("" = none), window_start, window_s, n_requests, n_paths,
    n_creators (-1 = unknown): one row per request window of a client
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphs.errors import RejectedFileError
from graphs.model import Rel
from graphs.snapshot import ACCOUNT_COLUMNS, LINK_COLUMNS, WINDOW_COLUMNS, Snapshot
from ingest import normalise as norm
from ingest.read import DEFAULT_CHUNK_ROWS, TableFile, find_tables, sha256_file
from ingest.tables import TABLES, TableSpec, validate_rows

__all__ = [
    "EDGE_COUNTERS",
    "FileReport",
    "PreparedDataset",
    "PreparedFile",
    "combine_files",
    "combine_kind",
    "iter_prepared",
    "prepare_dataset",
    "snapshot_from_dataset",
    "snapshot_from_prepared",
    "valid_account_ids",
    "value_hashes",
]

log = logging.getLogger(__name__)

SIGNUP = ("count",)
USAGE = ("count", "logins", "failed_logins", "requests", "max_paths", "max_creators")
PAYMENT = ("count", "amount", "succeeded", "declined", "refunded", "disputed")

#: Counters each relationship type carries besides first_seen / last_seen.
EDGE_COUNTERS: dict[Rel, tuple[str, ...]] = {
    Rel.HAS_EMAIL: SIGNUP,
    Rel.HAS_PHONE: SIGNUP,
    Rel.SIGNED_UP_FROM: SIGNUP,
    Rel.SIGNED_UP_ON: SIGNUP,
    Rel.USED_IP: USAGE,
    Rel.USED_DEVICE: USAGE,
    Rel.USED_UA: USAGE,
    Rel.PAID_WITH: PAYMENT,
    Rel.SUPPORTS: PAYMENT,
    Rel.SENT_UA: ("count", "requests"),
}
#: How a counter combines across chunks and files.
_COMBINE = {"max_paths": "max", "max_creators": "max", "first_seen": "min", "last_seen": "max"}
#: Snapshot link kind of each account relationship.
LINK_KIND: dict[Rel, str] = {
    Rel.HAS_EMAIL: "email",
    Rel.HAS_PHONE: "phone",
    Rel.SIGNED_UP_FROM: "signup_ip",
    Rel.SIGNED_UP_ON: "signup_device",
    Rel.USED_IP: "ip",
    Rel.USED_DEVICE: "device",
    Rel.USED_UA: "user_agent",
    Rel.PAID_WITH: "payment_method",
    Rel.SUPPORTS: "creator",
}
WINDOW_KEYS = {"account_windows": "account_id", "ip_windows": "ip"}
UNKNOWN_ACCOUNT = "account_id names no account in this or an earlier dataset"
AccountLookup = Callable[[Sequence[str]], Collection[str]]
#: Receives each chunk's partial aggregates instead of keeping them (the bulk path
#: spills them to disk): ``sink(report, name, frame)``.
PartSink = Callable[["FileReport", str, pd.DataFrame], None]


# ------------------------------------------------------------------------ reports
@dataclass
class FileReport:
    """What happened to one table file: read, quarantined and loaded rows, and why."""

    table: str
    file: str
    sha256: str = ""
    status: str = "loaded"  # loaded, skipped (already loaded), rejected
    reason: str = ""
    rows_read: int = 0
    rows_quarantined: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    quarantine_file: str | None = None

    @property
    def rows_loaded(self) -> int:
        return 0 if self.status == "rejected" else self.rows_read - self.rows_quarantined

    @property
    def key(self) -> str:
        """``table:sha256``: the identity of this content in run records."""
        return f"{self.table}:{self.sha256}"

    def count(self, broken: pd.Series) -> None:
        self.rows_quarantined += len(broken)
        for rule, n in broken.value_counts().items():
            self.rules[str(rule)] = self.rules.get(str(rule), 0) + int(n)


@dataclass
class PreparedFile:
    """The aggregated rows of one table file, ready to write (see module docstring)."""

    report: FileReport
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class PreparedDataset:
    path: Path
    files: list[PreparedFile]
    ignored_files: list[str]

    @property
    def reports(self) -> list[FileReport]:
        return [f.report for f in self.files]


# ---------------------------------------------------------------------- the driver
def _isin(values: pd.Series, known: pa.Array) -> np.ndarray:
    """``values.isin(known)`` through Arrow's hash set (pandas' own is slow for str)."""
    array = pa.array(values.to_numpy(dtype=object), type=pa.string())
    return pc.is_in(array, value_set=known).to_numpy(zero_copy_only=False)


class _State:
    """What one table needs to know about the others: the accounts seen so far."""

    def __init__(self, lookup: AccountLookup | None) -> None:
        self.lookup = lookup
        self.known = pa.array([], type=pa.string())

    def add(self, account_ids: Sequence[str] | pd.Series) -> None:
        fresh = pa.array(np.asarray(account_ids, dtype=object), type=pa.string())
        self.known = pa.concat_arrays([self.known, fresh])

    def unknown(self, account_ids: pd.Series) -> np.ndarray:
        """Whether each account id is unknown (neither in this dataset nor earlier)."""
        missing = ~_isin(account_ids, self.known)
        if missing.any() and self.lookup is not None:
            candidates = pd.unique(account_ids[missing].to_numpy(dtype=object)).tolist()
            found = list(self.lookup(candidates))
            if found:
                self.add(found)
                missing &= ~_isin(account_ids, self.known)
        return missing


def prepare_dataset(
    dataset: Path,
    *,
    known_accounts: AccountLookup | None = None,
    skip: Collection[str] = (),
    quarantine_dir: Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> PreparedDataset:
    """Prepare every table of ``dataset`` (see :func:`iter_prepared`) into memory."""
    tables, ignored = find_tables(Path(dataset))
    files = list(
        iter_prepared(
            tables,
            known_accounts=known_accounts,
            skip=skip,
            quarantine_dir=quarantine_dir,
            chunk_rows=chunk_rows,
        )
    )
    return PreparedDataset(Path(dataset), files, ignored)


def iter_prepared(
    tables: dict[str, TableFile],
    *,
    known_accounts: AccountLookup | None = None,
    skip: Collection[str] = (),
    quarantine_dir: Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    sink: PartSink | None = None,
) -> Iterator[PreparedFile]:
    """Prepare table files one at a time, accounts first.

    ``known_accounts(ids)`` returns which of ``ids`` exist from earlier datasets (None:
    only this dataset's accounts are known). A file whose ``table:sha256`` is in ``skip``
    is not read (its rows were loaded by an earlier run). Quarantined rows are written to
    ``quarantine_dir/<file>.quarantine.csv`` when a directory is given. With a ``sink``,
    each chunk's partial aggregates go to it and the yielded files have no frames (a
    rejected file's parts may already have been sunk: the sink's owner drops them).
    """
    state = _State(known_accounts)
    for table, source in tables.items():
        report = FileReport(table=table, file=str(source.path))
        try:
            report.sha256 = sha256_file(source.path)
        except OSError as error:
            report.status, report.reason = "rejected", f"cannot be read: {error.strerror}"
            yield PreparedFile(report)
            continue
        if report.key in skip:
            report.status, report.reason = "skipped", "already loaded by an earlier run"
            yield PreparedFile(report)
            continue
        try:
            frames = _prepare_file(
                TABLES[table], source, report, state, quarantine_dir, chunk_rows, sink
            )
        except RejectedFileError as error:
            report.status, report.reason = "rejected", error.reason
            report.rows_quarantined, report.rules = 0, {}
            yield PreparedFile(report)
            continue
        yield PreparedFile(report, frames)


def _prepare_file(
    spec: TableSpec,
    source: TableFile,
    report: FileReport,
    state: _State,
    quarantine_dir: Path | None,
    chunk_rows: int,
    sink: PartSink | None = None,
) -> dict[str, pd.DataFrame]:
    header = source.columns()
    missing = [c for c in spec.required if c not in header]
    if missing:
        raise RejectedFileError(source.path, f"missing required column(s) {', '.join(missing)}")
    present = [c for c in spec.columns if c in header]
    report.ignored_columns = [c for c in header if c not in spec.columns]
    quarantine = _Quarantine(quarantine_dir, source.path, present)
    seen_ids: list[np.ndarray] = []
    new_accounts: list[pd.Series] = []
    parts: dict[str, list[pd.DataFrame]] = {}
    for chunk in source.chunks(present, chunk_rows):
        report.rows_read += len(chunk)
        valid, broken = _checked(spec, chunk, state, seen_ids)
        if len(broken):
            report.count(broken)
            quarantine.write(chunk.loc[broken.index, present], broken)
        if spec.name == "accounts":
            new_accounts.append(valid["account_id"])
        for name, frame in _AGGREGATE[spec.name](valid).items():
            if sink is None:
                parts.setdefault(name, []).append(_reduce(name, frame))
            else:
                sink(report, name, _reduce(name, frame))
    if source.bad_lines:
        lines = pd.Series(
            [f"malformed CSV line {line}: {why}" for line, why in source.bad_lines],
            index=[-line for line, _ in source.bad_lines],
        )
        report.rows_read += len(lines)
        report.rows_quarantined += len(lines)
        report.rules["malformed CSV line"] = len(lines)
        quarantine.write(pd.DataFrame(index=lines.index, columns=present), lines)
    for ids in new_accounts:
        state.add(ids)
    report.quarantine_file = quarantine.path_if_written
    return _finish_file(parts) if sink is None else {}


def valid_account_ids(source: TableFile, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pa.Array:
    """The ids of the rows of an accounts file that pass its rules: the accounts that
    :func:`iter_prepared` makes known to the other tables, found without normalising or
    aggregating (so those tables can be prepared while the accounts file is). Empty
    when the file is rejected (it then makes no account known)."""
    spec = TABLES["accounts"]
    source = TableFile(source.table, source.path)  # its bad lines are the caller's
    try:
        header = source.columns()
        if any(c not in header for c in spec.required):
            return pa.array([], pa.string())
        present = [c for c in spec.columns if c in header]
        state, seen_ids, ids = _State(None), [], []
        for chunk in source.chunks(present, chunk_rows):
            valid, _ = _checked(spec, chunk, state, seen_ids)
            ids.append(pa.array(valid["account_id"].to_numpy(dtype=object), pa.string()))
    except (OSError, RejectedFileError):
        return pa.array([], pa.string())
    return pa.concat_arrays(ids) if ids else pa.array([], pa.string())


def _checked(
    spec: TableSpec, chunk: pd.DataFrame, state: _State, seen_ids: list[np.ndarray]
) -> tuple[pd.DataFrame, pd.Series]:
    """A chunk's rows that pass every rule, and the rule each other row broke."""
    for name in spec.columns:
        if name not in chunk:
            chunk[name] = ""
    valid, broken = validate_rows(spec, chunk)
    valid, more = _stateful_rules(spec, valid, state, seen_ids)
    return valid, (pd.concat([broken, more]) if len(more) else broken)


def _stateful_rules(
    spec: TableSpec, valid: pd.DataFrame, state: _State, seen_ids: list[np.ndarray]
) -> tuple[pd.DataFrame, pd.Series]:
    """Rules across chunks and tables: unique ids in the file, known accounts."""
    broken = []
    if spec.unique:
        # 64-bit hashes keep the memory of a 10M-row file's ids at 80 MB
        hashes = value_hashes(valid[spec.unique])
        dup = pd.Series(pd.Series(hashes).duplicated().to_numpy(), index=valid.index)
        if seen_ids:
            dup |= np.isin(hashes, np.concatenate(seen_ids))
        seen_ids.append(hashes)
        broken.append(pd.Series(f"duplicate {spec.unique} in this file", index=valid.index[dup]))
        valid = valid[~dup.to_numpy()]
    if spec.account_ref:
        ids = valid["account_id"]
        unknown = (ids != "").to_numpy() & state.unknown(ids)
        broken.append(pd.Series(UNKNOWN_ACCOUNT, index=valid.index[unknown]))
        valid = valid[~unknown]
    broken = [b for b in broken if len(b)]
    return valid, (pd.concat(broken) if broken else pd.Series(dtype=str))


class _Quarantine:
    """Quarantined rows of one file, with the row number and the rule they broke."""

    def __init__(self, directory: Path | None, source: Path, columns: list[str]) -> None:
        self.path = directory / f"{source.name}.quarantine.csv" if directory else None
        self.columns = columns
        self.written = False

    def write(self, rows: pd.DataFrame, rules: pd.Series) -> None:
        if self.path is None:
            return
        out = rows.reindex(columns=self.columns).copy()
        out.insert(0, "rule", rules.reindex(rows.index).to_numpy())
        out.insert(0, "row", [f"line {-i}" if i < 0 else i for i in rows.index])
        if not self.written:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(
            self.path, mode="a" if self.written else "w", header=not self.written, index=False
        )
        self.written = True

    @property
    def path_if_written(self) -> str | None:
        return str(self.path) if self.written else None


# -------------------------------------------------------------- per-table aggregation
def _none_if_empty(values: pd.Series) -> pd.Series:
    return values.where(values != "", None)


def _edges(
    account_id: pd.Series, key: pd.Series, first: pd.Series, last: pd.Series, **counters
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"account_id": account_id, "key": key, "first_seen": first, "last_seen": last}
    )
    for name, values in counters.items():
        frame[name] = values
    return frame[frame["key"].notna() & (frame["key"] != "")]


def _accounts(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    created = norm.parse_timestamps(rows["created_at"])
    country = _none_if_empty(rows["country"])
    email = norm.canonical_emails(rows["email"])
    phone = norm.normalise_phones(rows["phone"], rows["country"])
    ip = norm.normalise_ips(rows["signup_ip"])
    one = pd.Series(1, index=rows.index, dtype="int64")
    accounts = pd.DataFrame(
        {
            "account_id": rows["account_id"],
            "created_at": created,
            "country": country,
            "status": rows["status"].where(rows["status"] != "", "active"),
            "email": email,
            "domain": norm.email_domains(email.astype(object)),
            "phone": phone,
        }
    )
    ids = rows["account_id"]
    return {
        "accounts": accounts,
        Rel.HAS_EMAIL: _edges(ids, email, created, created, count=one, raw=rows["email"]),
        Rel.HAS_PHONE: _edges(ids, phone, created, created, count=one),
        Rel.SIGNED_UP_FROM: _edges(ids, ip, created, created, count=one),
        Rel.SIGNED_UP_ON: _edges(ids, rows["signup_device_id"], created, created, count=one),
    }


def _usage_edges(
    ids: pd.Series, ts: pd.Series, ip: pd.Series, device: pd.Series, ua: pd.Series, counters
) -> dict[str, pd.DataFrame]:
    return {
        Rel.USED_IP: _edges(ids, ip, ts, ts, **counters),
        Rel.USED_DEVICE: _edges(ids, device, ts, ts, **counters),
        Rel.USED_UA: _edges(ids, ua, ts, ts, **counters),
    }


def _logins(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    ts = norm.parse_timestamps(rows["ts"])
    failed = (~norm.parse_bools(rows["success"], default=True)).astype("int64")
    zero = pd.Series(0, index=rows.index, dtype="int64")
    counters = {
        "count": zero + 1,
        "logins": zero + 1,
        "failed_logins": failed,
        "requests": zero,
        "max_paths": zero - 1,
        "max_creators": zero - 1,
    }
    ip = norm.normalise_ips(rows["ip"])
    return _usage_edges(rows["account_id"], ts, ip, rows["device_id"], rows["user_agent"], counters)


def _payments(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    ts = norm.parse_timestamps(rows["ts"])
    counters = {"count": pd.Series(1, index=rows.index, dtype="int64")}
    counters["amount"] = pd.to_numeric(rows["amount"].str.strip()).astype("float64")
    for outcome in ("succeeded", "declined", "refunded", "disputed"):
        counters[outcome] = (rows["outcome"] == outcome).astype("int64")
    ids = rows["account_id"]
    methods = pd.DataFrame(
        {
            "payment_method_id": rows["payment_method_id"],
            "card_bin": _none_if_empty(rows["card_bin"]),
            "card_country": _none_if_empty(rows["card_country"]),
            "ts": ts,
        }
    )
    return {
        Rel.PAID_WITH: _edges(ids, rows["payment_method_id"], ts, ts, **counters),
        Rel.SUPPORTS: _edges(ids, rows["creator_id"], ts, ts, **counters),
        "payment_methods": methods,
    }


def _requests(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    start = norm.parse_timestamps(rows["window_start"])
    ip = norm.normalise_ips(rows["ip"])
    n_requests = rows["n_requests"].astype("int64")
    paths = pd.to_numeric(rows["n_paths"].where(rows["n_paths"] != "", "-1")).astype("int64")
    creators = pd.to_numeric(rows["n_creators"].where(rows["n_creators"] != "", "-1"))
    creators = creators.astype("int64")
    windows = pd.DataFrame(
        {
            "account_id": rows["account_id"],
            "ip": ip,
            "ua": rows["user_agent"],
            "window_start": start,
            "window_s": rows["window_s"].astype("int64"),
            "n_requests": n_requests,
            "n_paths": paths,
            "n_creators": creators,
        }
    )
    logged_in = (rows["account_id"] != "").to_numpy()
    one = pd.Series(1, index=rows.index, dtype="int64")
    counters = {
        "count": one,
        "logins": one * 0,
        "failed_logins": one * 0,
        "requests": n_requests,
        "max_paths": paths,
        "max_creators": creators,
    }
    r = rows[logged_in]
    edges = _usage_edges(
        r["account_id"],
        start[logged_in],
        ip[logged_in],
        r["device_id"],
        r["user_agent"],
        {k: v[logged_in] for k, v in counters.items()},
    )
    out = ~logged_in
    sent = _edges(
        ip[out],
        rows["user_agent"][out],
        start[out],
        start[out],
        count=one[out],
        requests=n_requests[out],
    ).rename(columns={"account_id": "ip"})
    edges[Rel.SENT_UA] = sent
    edges["account_windows"] = windows[logged_in]
    edges["ip_windows"] = windows[out].drop(columns="account_id")
    return edges


def _labels(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        "labels": pd.DataFrame(
            {
                "account_id": rows["account_id"],
                "label": rows["label"],
                "label_source": _none_if_empty(rows["source"]),
                "label_ts": norm.parse_timestamps(rows["ts"]),
            }
        )
    }


_AGGREGATE = {
    "accounts": _accounts,
    "logins": _logins,
    "payments": _payments,
    "requests": _requests,
    "labels": _labels,
}


# ----------------------------------------------------------------- combining partials
def combine_edges(frame: pd.DataFrame, rel: Rel, source: str = "account_id") -> pd.DataFrame:
    """One row per (source, key): min first_seen, max last_seen, counters summed."""
    agg = {"first_seen": "min", "last_seen": "max"}
    for counter in EDGE_COUNTERS[rel]:
        agg[counter] = _COMBINE.get(counter, "sum")
    for extra in ("raw", "last_run"):
        if extra in frame:
            agg[extra] = "last"
    return frame.groupby([source, "key"], sort=False, as_index=False, observed=True).agg(agg)


def combine_windows(frame: pd.DataFrame, client: str, replace: bool) -> pd.DataFrame:
    """One row per (client, ip, ua, window_start): within a file the rows add up; across
    files (``replace``) the last file's row for a window replaces the earlier ones."""
    keys = [client, "ip", "ua", "window_start"] if client != "ip" else ["ip", "ua", "window_start"]
    if replace:
        return frame.drop_duplicates(keys, keep="last")
    agg = {"window_s": "max", "n_requests": "sum", "n_paths": "max", "n_creators": "max"}
    return frame.groupby(keys, sort=False, as_index=False).agg(agg)


def value_hashes(values: pd.Series) -> np.ndarray:
    """A stable 64-bit hash of each value (``pd.util.hash_array``): for spill buckets,
    write partitions and duplicate ids. ``categorize=False`` gives the same hashes without
    a Categorical of the distinct values first (4x faster; 13% of the 1M bulk prepare)."""
    return pd.util.hash_array(values.to_numpy(dtype=object), categorize=False)


def latest_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Per account the latest label by ts (no ts counts as oldest); fraud wins a tie."""
    order = frame.assign(
        _ts=frame["label_ts"]
        .astype("int64")
        .where(frame["label_ts"].notna(), np.iinfo("int64").min),
        _fraud=(frame["label"] == "fraud").astype("int8"),
    ).sort_values(["account_id", "_ts", "_fraud"], kind="stable")
    return order.drop_duplicates("account_id", keep="last").drop(columns=["_ts", "_fraud"])


def latest_payment_methods(frame: pd.DataFrame) -> pd.DataFrame:
    """Per payment method the latest non-empty card_bin and card_country."""
    ordered = frame.sort_values("ts", kind="stable")
    return ordered.groupby("payment_method_id", sort=False, as_index=False)[
        ["card_bin", "card_country", "ts"]
    ].last()


def ip_nodes(ips: pd.Series) -> pd.DataFrame:
    """IP node rows (ip, is_v6, subnet) for the distinct addresses in ``ips``."""
    unique = pd.Series(pd.unique(ips.dropna().to_numpy(dtype=object)), dtype=object)
    unique = unique[unique != ""]
    return pd.DataFrame(
        {
            "ip": unique.to_numpy(),
            "is_v6": unique.str.contains(":", regex=False).to_numpy(dtype=bool),
            "subnet": norm.subnets(unique).to_numpy(),
        }
    )


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns of text as Arrow-backed strings (a fraction of the memory)."""
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].astype("str")
    return frame


def _reduce(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per edge / window / account of ``frame`` (rows of one file)."""
    frame = _combine_rows(name, frame, replace_windows=False)
    return _compact(frame.reset_index(drop=True))


def _combine_rows(name: str, frame: pd.DataFrame, *, replace_windows: bool) -> pd.DataFrame:
    """Edges summed, windows combined, the latest label and payment method; other kinds
    unchanged. ``replace_windows``: a later file's window replaces an earlier one."""
    if name in EDGE_COUNTERS:
        return combine_edges(frame, Rel(name), "ip" if name == Rel.SENT_UA else "account_id")
    if name in WINDOW_KEYS:
        return combine_windows(frame, WINDOW_KEYS[name], replace=replace_windows)
    if name == "labels":
        return latest_labels(frame)
    if name == "payment_methods":
        return latest_payment_methods(frame)
    return frame


def _finish_file(parts: dict[str, list[pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Combine the chunks' partial aggregates into one row per edge of the file."""
    frames: dict[str, pd.DataFrame] = {}
    for name in list(parts):
        pieces = parts.pop(name)
        if len(pieces) == 1:
            frames[name] = pieces[0]
        else:
            frames[name] = _reduce(name, pd.concat(pieces, ignore_index=True))
    ip_columns = [
        frames[name]["key"] for name in (Rel.SIGNED_UP_FROM, Rel.USED_IP) if name in frames
    ] + [frames[n]["ip"] for n in (Rel.SENT_UA, "ip_windows", "account_windows") if n in frames]
    if ip_columns:
        frames["ips"] = ip_nodes(pd.concat(ip_columns, ignore_index=True))
    return frames


def combine_files(
    files: Sequence[PreparedFile], *, consume: bool = False
) -> dict[str, pd.DataFrame]:
    """What the graph holds after writing ``files`` in order, as one frame per kind.

    Edges get ``last_run`` (the content hash of the last file that touched them);
    accounts take the last file's values with the earliest ``created_at``. With
    ``consume`` the files' own frames are released as they are combined (the bulk path's
    memory ceiling).
    """
    pieces: dict[str, list[pd.DataFrame]] = {}
    for prepared in files:
        for name, frame in prepared.frames.items():
            if name in EDGE_COUNTERS:
                # one shared category, not a 64-character string per row
                run = pd.Categorical.from_codes(
                    np.zeros(len(frame), dtype="int8"), categories=[prepared.report.sha256]
                )
                frame = frame.assign(last_run=run)
            pieces.setdefault(name, []).append(frame)
        if consume:
            prepared.frames = {}
    out: dict[str, pd.DataFrame] = {}
    for name in list(pieces):
        parts = pieces.pop(name)
        frame = pd.concat(parts, ignore_index=True)
        del parts
        out[name] = combine_kind(name, frame)
    return out


def combine_kind(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per edge / node / window of ``frame``: rows of the kind ``name`` from
    several files (or chunks, except windows), in load order, combined as the graph
    combines them (edges sum, windows of a later file replace, the latest label...)."""
    frame = _combine_rows(name, frame, replace_windows=True)
    if name == "ips":
        frame = frame.drop_duplicates("ip")
    elif name == "accounts":
        first = frame.groupby("account_id", sort=False)["created_at"].min()
        frame = frame.drop_duplicates("account_id", keep="last")
        frame = frame.assign(created_at=frame["account_id"].map(first))
    return frame.reset_index(drop=True)


# ----------------------------------------------------------------------- snapshots
def snapshot_from_prepared(files: Sequence[PreparedFile]) -> Snapshot:
    """The :class:`Snapshot` of the graph that writing ``files`` in order produces."""
    frames = combine_files(files)
    return Snapshot(
        accounts=_snapshot_accounts(frames),
        links=_snapshot_links(frames),
        ip_subnets=_snapshot_subnets(frames),
        windows=_snapshot_windows(frames),
    )


def _snapshot_accounts(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    accounts = frames.get("accounts", pd.DataFrame(columns=["account_id", "created_at"]))
    accounts = accounts.rename(columns={"domain": "email_domain"})
    labels = frames.get("labels")
    if labels is not None:
        accounts = accounts.merge(
            labels[["account_id", "label", "label_source"]], on="account_id", how="left"
        )
    out = accounts.reindex(columns=list(ACCOUNT_COLUMNS))
    out["created_at"] = out["created_at"].astype("datetime64[ns, UTC]")
    for column in ACCOUNT_COLUMNS:
        if column != "created_at":
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out.reset_index(drop=True)


def _snapshot_links(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    links = []
    for rel, kind in LINK_KIND.items():
        if rel in frames:
            links.append(frames[rel].assign(kind=kind))
    if not links:
        return empty_links()
    return links_frame(pd.concat(links, ignore_index=True))


def empty_links() -> pd.DataFrame:
    return links_frame(pd.DataFrame(columns=list(LINK_COLUMNS)))


def links_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the snapshot's link columns and dtypes (0 where n/a)."""
    out = frame.reindex(columns=list(LINK_COLUMNS))
    for column in ("first_seen", "last_seen"):
        out[column] = out[column].astype("datetime64[ns, UTC]")
    for column in LINK_COLUMNS[6:]:
        out[column] = out[column].fillna(0)
        out[column] = out[column].astype("float64" if column == "amount" else "int64")
    out["count"] = out["count"].fillna(0).astype("int64")
    for column in ("account_id", "kind", "key"):
        out[column] = out[column].astype(object)
    return out.reset_index(drop=True)


def _snapshot_subnets(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    ips = frames.get("ips")
    if ips is None:
        return pd.DataFrame(columns=["ip", "subnet"])
    return ips[["ip", "subnet"]].astype(object).reset_index(drop=True)


def _snapshot_windows(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    parts = []
    if "account_windows" in frames:
        w = frames["account_windows"]
        parts.append(w.assign(client_kind="account", client_id=w["account_id"]))
    if "ip_windows" in frames:
        w = frames["ip_windows"]
        parts.append(w.assign(client_kind="ip", client_id=w["ip"]))
    if not parts:
        return windows_frame(pd.DataFrame(columns=list(WINDOW_COLUMNS)))
    return windows_frame(pd.concat(parts, ignore_index=True).rename(columns={"ua": "user_agent"}))


def windows_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the snapshot's window columns (unknown counts are NA)."""
    out = frame.reindex(columns=list(WINDOW_COLUMNS))
    out["user_agent"] = out["user_agent"].astype(object).where(out["user_agent"] != "", None)
    out["window_start"] = out["window_start"].astype("datetime64[ns, UTC]")
    out["window_s"] = out["window_s"].astype("int64")
    out["n_requests"] = out["n_requests"].astype("int64")
    for column in ("n_paths", "n_creators"):
        values = out[column].astype("Int64")
        out[column] = values.where(values >= 0, pd.NA)
    for column in ("client_kind", "client_id", "ip"):
        out[column] = out[column].astype(object)
    return out.reset_index(drop=True)


def _nights(path: Path) -> list[Path]:
    """A dataset directory, or the ``night-*`` directories of a multi-night world."""
    if any((path / f"accounts{sfx}").exists() for sfx in (".csv", ".csv.gz", ".parquet")):
        return [path]
    nights = sorted(p for p in path.glob("night-*") if p.is_dir())
    return nights or [path]


def snapshot_from_dataset(path: Path) -> Snapshot:
    """The snapshot that ingesting ``path`` into an empty graph gives, without Neo4j.

    ``path`` is a dataset directory or a directory of nightly datasets ``night-*``
    (loaded in name order, as consecutive ``ringwatch ingest`` runs would).
    """
    files: list[PreparedFile] = []
    known: set[str] = set()
    for night in _nights(Path(path)):
        dataset = prepare_dataset(night, known_accounts=lambda ids: known.intersection(ids))
        for prepared in dataset.files:
            if "accounts" in prepared.frames:
                known.update(prepared.frames["accounts"]["account_id"])
        files.extend(dataset.files)
    return snapshot_from_prepared(files)
