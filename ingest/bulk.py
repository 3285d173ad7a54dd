"""The bulk path: a first load into an empty database through ``neo4j-admin database
import full`` (Neo4j's offline importer), giving the same graph as the online writer.

The dataset is prepared exactly as for the online path, but each chunk's partial
aggregates are spilled to Arrow IPC files in buckets by a hash of the row's owner (the
start node of an edge, the key of a node), so an edge or node lives in exactly one
bucket. Each bucket is then combined as :func:`ingest.prepare.combine_files` would
(what the graph holds after writing the files in order, ``last_run`` tags included) and
written as one part of each typed import CSV by pyarrow's CSV writer, two buckets at once
in worker processes. Memory is bounded by a chunk and a bucket per worker, not by the
dataset. The CSVs are imported while the managed server is
stopped; after the restart the constraints and indexes are created and an
``IngestRun`` records every file as completed, so the next night's dataset loads
incrementally through the online path.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.feather as feather

from graphs.errors import ConfigError
from graphs.model import IDENTIFIER_KEYS, USAGE_RELS, Label, Prop, Rel
from ingest import cypher, runs, writer
from ingest.normalise import email_domains
from ingest.prepare import (
    EDGE_COUNTERS,
    WINDOW_KEYS,
    FileReport,
    combine_kind,
    combine_windows,
    ip_nodes,
    iter_prepared,
    valid_account_ids,
    value_hashes,
)
from ingest.read import DEFAULT_CHUNK_ROWS, TableFile, find_tables
from ingest.runs import IngestReport
from ingest.tables import TABLES

__all__ = [
    "ARRAY_DELIMITER",
    "BUCKET_INPUT_BYTES",
    "ImportFiles",
    "Spill",
    "bulk_ingest",
    "prepare_into",
    "write_import_files",
]

#: Between elements of list properties in the import CSVs (never in ids or user agents).
ARRAY_DELIMITER = "\x1f"
#: Input bytes per spill bucket: one bucket's aggregates are combined in memory at once
#: (the 100k world, 120 MB of CSV, is one bucket and peaks at ~0.6 GiB).
BUCKET_INPUT_BYTES = 128 << 20
_WINDOW_PROPS = {
    "window_start": (Prop.WIN_START, "long[]"),
    "window_s": (Prop.WIN_S, "long[]"),
    "n_requests": (Prop.WIN_REQUESTS, "long[]"),
    "n_paths": (Prop.WIN_PATHS, "long[]"),
    "n_creators": (Prop.WIN_CREATORS, "long[]"),
    "ua": (Prop.WIN_UA, "string[]"),
}
_LONG = {"count", "logins", "failed_logins", "requests", "max_paths", "max_creators",
         "succeeded", "declined", "refunded", "disputed"}  # fmt: skip
#: Nodes that carry only their key (and Email its domain), spilled as "node:<label>".
_KEY_LABELS = (Label.DEVICE, Label.PHONE, Label.CREATOR, Label.USER_AGENT, Label.EMAIL)
_FILE_ORDER = {table: i for i, table in enumerate(TABLES)}


def _target(rel: str) -> Label:
    return Label.USER_AGENT if rel == Rel.SENT_UA else USAGE_RELS[Rel(rel)][0]


def _owner(name: str) -> str:
    """The column whose hash picks a row's bucket (rows of one edge or node agree)."""
    if name == Rel.SENT_UA or name == "ip_windows":
        return "ip"
    if name == "payment_methods":
        return "payment_method_id"
    if name.startswith("node:"):
        return "key"
    return "account_id"


def _buckets_of(values: pd.Series, n: int) -> np.ndarray:
    return (value_hashes(values) % np.uint64(n)).astype(np.int64)


# -------------------------------------------------------------------------- spill
class Spill:
    """Partial aggregates on disk: ``<dir>/<name>/<bucket>/<file>-<seq>-<table>.arrow``
    (Arrow IPC files with LZ4: written in 0.6x and read in 0.4x the time of LZ4 Parquet,
    for a quarter more bytes; they live only until the import CSVs are written).

    Parts are read back in load order (the table's position in :data:`TABLES`, then the
    order they were added), which the "last file wins" combinations rely on; files can
    be spilled by different processes at once.
    """

    def __init__(self, directory: Path, buckets: int) -> None:
        self.directory = directory
        self.buckets = buckets
        self.seq = 0

    def add(self, table: str, name: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        bucket = _buckets_of(frame[_owner(name)], self.buckets)
        order = np.argsort(bucket, kind="stable")
        sorted_buckets = bucket[order]
        bounds = np.flatnonzero(np.diff(sorted_buckets)) + 1
        table_ = pa.Table.from_pandas(frame, preserve_index=False)
        for lo, hi in zip([0, *bounds], [*bounds, len(order)], strict=True):
            folder = self.directory / name.replace(":", "-") / f"{sorted_buckets[lo]:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            part = table_.take(order[lo:hi])
            path = folder / f"{_FILE_ORDER.get(table, 99):02d}-{self.seq:07d}-{table}.arrow"
            feather.write_feather(part, str(path), compression="lz4")
            self.seq += 1

    def discard(self, table: str) -> None:
        """Drop the parts of a file that was rejected after some chunks were spilled."""
        for path in self.directory.glob(f"*/*/*-{table}.arrow"):
            path.unlink()

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name.replace("-", ":", 1) for p in self.directory.iterdir())

    def read(self, name: str, bucket: int) -> list[tuple[str, pd.DataFrame]]:
        """``(table, frame)`` of each part of ``name`` in ``bucket``, in order."""
        folder = self.directory / name.replace(":", "-") / f"{bucket:04d}"
        if not folder.is_dir():
            return []
        parts = []
        for path in sorted(folder.iterdir()):
            table = path.stem.split("-", 2)[2]
            parts.append((table, feather.read_table(str(path)).to_pandas()))
        return parts


def _sink(spill: Spill):
    """The :data:`ingest.prepare.PartSink` that spills, tagging edges with ``last_run``
    and spilling the keys of the identifier nodes the parts mention."""

    def sink(report: FileReport, name: str, frame: pd.DataFrame) -> None:
        if name in EDGE_COUNTERS:
            run = pd.Categorical.from_codes(
                np.zeros(len(frame), dtype="int8"), categories=[report.sha256]
            )
            frame = frame.assign(last_run=run)
            target = _target(name)
            if target != Label.PAYMENT_METHOD:
                keys = pd.unique(frame["key"].to_numpy(dtype=object))
                spill.add(report.table, f"node:{target}", pd.DataFrame({"key": keys}, dtype=str))
        if name in (Rel.SENT_UA, *WINDOW_KEYS):
            keys = pd.unique(frame["ip"].to_numpy(dtype=object))
            spill.add(report.table, f"node:{Label.IP}", pd.DataFrame({"key": keys}, dtype=str))
        spill.add(report.table, name, frame)

    return sink


def _prepare_file(
    table: str,
    path: str,
    accounts: pa.Array,
    spill_dir: str,
    buckets: int,
    quarantine: Path | None,
    chunk_rows: int,
) -> FileReport:
    """Prepare one table file into the spill (run in a worker process); ``accounts``
    are the ids its rows may name."""
    spill = Spill(Path(spill_dir), buckets)

    def known(ids: list[str]) -> list[str]:
        candidates = pa.array(ids, pa.string())
        return candidates.filter(pc.is_in(candidates, accounts)).to_pylist()

    (prepared,) = iter_prepared(
        {table: TableFile(table, Path(path))},
        known_accounts=known,
        quarantine_dir=quarantine,
        chunk_rows=chunk_rows,
        sink=_sink(spill),
    )
    if prepared.report.status == "rejected":
        spill.discard(table)
    return prepared.report


def prepare_into(
    tables: dict[str, TableFile],
    spill: Spill,
    quarantine: Path | None = None,
    workers: int = 2,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> list[FileReport]:
    """Prepare a dataset's tables into ``spill`` in ``workers`` processes, the accounts
    file first. The other tables only need the ids of the valid accounts, which this
    process finds by the rules alone (no normalising) while a worker prepares the
    accounts file, so they need not wait for it."""
    rest = sorted(
        (t for t in tables if t != "accounts"), key=lambda t: -tables[t].path.stat().st_size
    )
    args = (str(spill.directory), spill.buckets, quarantine, chunk_rows)
    none = pa.array([], pa.string())
    with ProcessPoolExecutor(
        max(1, min(workers, len(tables))), mp_context=get_context("spawn")
    ) as pool:
        futures = {}
        ids = none
        if "accounts" in tables:
            path = tables["accounts"].path
            futures["accounts"] = pool.submit(_prepare_file, "accounts", str(path), none, *args)
            ids = valid_account_ids(tables["accounts"], chunk_rows)
        for table in rest:
            futures[table] = pool.submit(_prepare_file, table, str(tables[table].path), ids, *args)
        done = {table: future.result() for table, future in futures.items()}
    return [done[t] for t in tables if t in done]


def _combine_bucket(spill: Spill, names: list[str], bucket: int) -> dict[str, pd.DataFrame]:
    """The combined frames of one bucket (as ``combine_files`` would give them)."""
    frames: dict[str, pd.DataFrame] = {}
    for name in names:
        parts = spill.read(name, bucket)
        if not parts:
            continue
        if name.startswith("node:"):
            keys = pd.concat([f["key"] for _, f in parts], ignore_index=True)
            frames[name] = pd.DataFrame({"key": pd.unique(keys.to_numpy(dtype=object))})
        elif name in WINDOW_KEYS:
            # within a file windows add up; a later file's window replaces an earlier one
            per_file: dict[str, list[pd.DataFrame]] = {}
            for table, frame in parts:
                per_file.setdefault(table, []).append(frame)
            combined = [
                combine_windows(pd.concat(fs, ignore_index=True), WINDOW_KEYS[name], False)
                for fs in per_file.values()
            ]
            frames[name] = combine_kind(name, pd.concat(combined, ignore_index=True))
        else:
            frames[name] = combine_kind(name, pd.concat([f for _, f in parts], ignore_index=True))
    return frames


# ---------------------------------------------------------------- import CSV files
def _strings(values: pd.Series) -> pa.Array:
    """Text as an Arrow string array, missing values null: Arrow-backed and categorical
    columns are taken as they are, not through one Python object per value."""
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):  # what an Arrow-backed column hands over
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array.cast(pa.string())


def _times(values: pd.Series) -> pa.Array:
    """UTC times as ISO text truncated to milliseconds, as the online writer stores."""
    times = values.astype("datetime64[ns, UTC]")
    ns = times.to_numpy(dtype="datetime64[ns]").view("int64")
    ms = pa.array(ns // 1_000_000, type=pa.int64(), mask=times.isna().to_numpy())
    # the cast prints "2026-03-01 10:00:00.000"; pc.strftime is 10x slower (locale-aware)
    text = pc.cast(ms.cast(pa.timestamp("ms")), pa.string())
    return pc.binary_join_element_wise(
        pc.replace_substring(text, " ", "T", max_replacements=1), "Z", ""
    )


def _longs(values: pd.Series) -> pa.Array:
    return pa.array(values.to_numpy(dtype="int64"), type=pa.int64())


def _window_lists(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per client: its windows as delimiter-joined lists, sorted by start."""
    ordered = frame.sort_values([*keys, "window_start"], kind="stable").reset_index(drop=True)
    group = ordered.groupby(keys, sort=False).ngroup().to_numpy()
    starts = np.concatenate([[0], np.flatnonzero(np.diff(group)) + 1])
    offsets = pa.array(np.concatenate([starts, [len(ordered)]]), type=pa.int32())
    out = ordered.iloc[starts][keys].reset_index(drop=True)
    seconds = ordered["window_start"].astype("int64") // 1_000_000_000
    values = {
        "window_start": pc.cast(pa.array(seconds.to_numpy()), pa.string()),
        "ua": _strings(ordered["ua"].fillna("")),
    }
    for name in ("window_s", "n_requests", "n_paths", "n_creators"):
        values[name] = pc.cast(_longs(ordered[name]), pa.string())
    for name, (prop, kind) in _WINDOW_PROPS.items():
        lists = pa.ListArray.from_arrays(offsets, values[name])
        out[f"{prop}:{kind}"] = pc.binary_join(lists, ARRAY_DELIMITER).to_pandas()
    return out


class _BucketFiles:
    """The import CSV parts of one bucket (``<name>.<bucket>.csv``, no header line)."""

    def __init__(self, directory: Path, bucket: int) -> None:
        self.directory = directory
        self.bucket = bucket
        self.multiline = False
        self.parts: dict[str, tuple[str, str, Path, int]] = {}  # kind, header, path, rows
        self.subnets = pa.array([], pa.string())
        self._open: dict[str, pa_csv.CSVWriter] = {}

    def write(self, kind: str, name: str, columns: dict[str, pa.Array]) -> None:
        table = pa.table(columns)
        if table.num_rows == 0:
            return
        for column in table.columns:
            if pa.types.is_string(column.type) and any(
                pc.any(pc.match_substring(column, eol)).as_py() for eol in "\r\n"
            ):
                self.multiline = True
        if name not in self._open:
            path = self.directory / f"{name}.{self.bucket:04d}.csv"
            options = pa_csv.WriteOptions(include_header=False)
            self._open[name] = pa_csv.CSVWriter(str(path), table.schema, write_options=options)
            self.parts[name] = (kind, ",".join(table.column_names), path, 0)
        self._open[name].write_table(table)
        kind, header, path, rows = self.parts[name]
        self.parts[name] = (kind, header, path, rows + table.num_rows)

    def close(self) -> None:
        for csv_writer in self._open.values():
            csv_writer.close()
        self._open.clear()


class ImportFiles:
    """The import CSV files: per name a header file and one part per bucket (Neo4j reads
    the group as one file), the neo4j-admin arguments, the row count and whether some
    value spans lines (which needs ``--multiline-fields``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.multiline = False
        self.rows = 0
        #: name: (kind, header, [header file, parts...])
        self.groups: dict[str, tuple[str, str, list[Path]]] = {}

    def add(self, bucket: _BucketFiles) -> None:
        self.multiline |= bucket.multiline
        for name, (kind, header, path, rows) in bucket.parts.items():
            if name not in self.groups:
                head = self.directory / f"{name}.header.csv"
                head.write_text(header + "\n", encoding="utf-8")
                self.groups[name] = (kind, header, [head])
            if self.groups[name][1] != header:  # the same frames give the same columns
                raise RuntimeError(f"bucket {bucket.bucket} wrote {name} with another header")
            self.groups[name][2].append(path)
            self.rows += rows

    @property
    def args(self) -> list[str]:
        return [
            f"--{kind}={','.join(str(path) for path in paths)}"
            for kind, _, paths in self.groups.values()
        ]


def _id(label: Label) -> str:
    return f"{IDENTIFIER_KEYS[label]}:ID({label})"


def _accounts(files: _BucketFiles, frames: dict[str, pd.DataFrame]) -> None:
    accounts = frames.get("accounts")
    if accounts is None:
        return
    out = {_id(Label.ACCOUNT): _strings(accounts["account_id"]),
           f"{Prop.CREATED_AT}:datetime": _times(accounts["created_at"])}  # fmt: skip
    for column, prop in (("country", Prop.COUNTRY), ("status", Prop.STATUS),
                         ("email", Prop.ACCOUNT_EMAIL), ("domain", Prop.DOMAIN),
                         ("phone", Prop.ACCOUNT_PHONE)):  # fmt: skip
        out[prop] = _strings(accounts[column])
    labels = frames.get("labels", pd.DataFrame(columns=["account_id"]))
    by_id = labels.set_index("account_id")
    ids = accounts["account_id"]
    for column, prop in (("label", Prop.LABEL), ("label_source", Prop.LABEL_SOURCE)):
        out[prop] = _strings(ids.map(by_id[column]) if column in by_id else ids.map({}))
    label_ts = ids.map(by_id["label_ts"]) if "label_ts" in by_id else ids.map({})
    out[f"{Prop.LABEL_TS}:datetime"] = _times(label_ts)
    files.write("nodes=" + Label.ACCOUNT, "accounts", out)


def _ips(files: _BucketFiles, frames: dict[str, pd.DataFrame]) -> None:
    keys = frames.get(f"node:{Label.IP}")
    if keys is None:
        return
    ips = ip_nodes(keys["key"])
    if "ip_windows" in frames:
        lists = _window_lists(frames["ip_windows"], ["ip"])
        ips = ips.merge(lists, on="ip", how="left")
    out = {_id(Label.IP): _strings(ips["ip"]),
           f"{Prop.IS_V6}:boolean": pa.array(ips["is_v6"].to_numpy(dtype=bool))}  # fmt: skip
    for prop, kind in _WINDOW_PROPS.values():
        column = f"{prop}:{kind}"
        out[column] = _strings(ips[column] if column in ips else ips["ip"].map({}))
    files.write("nodes=" + Label.IP, "ips", out)
    rel = {f":START_ID({Label.IP})": _strings(ips["ip"]),
           f":END_ID({Label.SUBNET})": _strings(ips["subnet"])}  # fmt: skip
    files.write("relationships=" + Rel.IN_SUBNET, "in_subnet", rel)
    files.subnets = pc.unique(_strings(ips["subnet"]))


def _key_nodes(files: _BucketFiles, frames: dict[str, pd.DataFrame]) -> None:
    for label in _KEY_LABELS:
        keys = frames.get(f"node:{label}")
        if keys is None:
            continue
        out = {_id(label): _strings(keys["key"])}
        if label == Label.EMAIL:
            out[Prop.DOMAIN] = _strings(email_domains(keys["key"].astype(object)))
        files.write("nodes=" + label, label.lower(), out)
    methods = frames.get("payment_methods")
    if methods is not None:
        out = {_id(Label.PAYMENT_METHOD): _strings(methods["payment_method_id"]),
               Prop.CARD_BIN: _strings(methods["card_bin"]),
               Prop.CARD_COUNTRY: _strings(methods["card_country"])}  # fmt: skip
        files.write("nodes=" + Label.PAYMENT_METHOD, "payment_methods", out)


def _relationships(files: _BucketFiles, frames: dict[str, pd.DataFrame]) -> None:
    for rel, counters in EDGE_COUNTERS.items():
        frame = frames.get(rel)
        if frame is None:
            continue
        start, source = (Label.IP, "ip") if rel == Rel.SENT_UA else (Label.ACCOUNT, "account_id")
        label = _target(rel)
        if rel == Rel.USED_IP and "account_windows" in frames:
            lists = _window_lists(frames["account_windows"], ["account_id", "ip"])
            lists = lists.rename(columns={"ip": "key"})
            frame = frame.merge(lists, on=["account_id", "key"], how="left")
        out = {f":START_ID({start})": _strings(frame[source]),
               f":END_ID({label})": _strings(frame["key"]),
               f"{Prop.FIRST_SEEN}:datetime": _times(frame["first_seen"]),
               f"{Prop.LAST_SEEN}:datetime": _times(frame["last_seen"])}  # fmt: skip
        for counter in counters:
            values = frame[counter]
            if counter in ("max_paths", "max_creators"):
                values = values.clip(lower=0)
            if counter in _LONG:
                out[f"{counter}:long"] = _longs(values)
            else:
                out[f"{counter}:double"] = pa.array(values.to_numpy(dtype="float64"))
        if rel == Rel.HAS_EMAIL:
            out[Prop.RAW] = _strings(frame["raw"])
        out[Prop.LAST_RUN] = _strings(frame["last_run"])
        if rel == Rel.USED_IP:
            for prop, kind in _WINDOW_PROPS.values():
                column = f"{prop}:{kind}"
                out[column] = _strings(frame[column] if column in frame else frame["key"].map({}))
        files.write("relationships=" + rel, rel.lower(), out)


def _write_bucket(spill_dir: str, buckets: int, directory: str, bucket: int) -> _BucketFiles:
    """Combine one bucket of the spill into its CSV parts (run in a worker process)."""
    spill = Spill(Path(spill_dir), buckets)
    files = _BucketFiles(Path(directory), bucket)
    try:
        frames = _combine_bucket(spill, spill.names(), bucket)
        _accounts(files, frames)
        _ips(files, frames)
        _key_nodes(files, frames)
        _relationships(files, frames)
    finally:
        files.close()
    return files


def write_import_files(spill: Spill, directory: Path, workers: int = 2) -> ImportFiles:
    """Combine ``spill`` into import CSVs in ``directory``, ``workers`` buckets at once
    (each bucket's nodes and edges are its own, so buckets are independent; a Subnet
    can be reached from IPs of several buckets and is written once, at the end)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = ImportFiles(directory)
    args = (str(spill.directory), spill.buckets, str(directory))
    if workers <= 1 or spill.buckets == 1:
        written = [_write_bucket(*args, bucket) for bucket in range(spill.buckets)]
    else:
        with ProcessPoolExecutor(
            min(workers, spill.buckets), mp_context=get_context("spawn")
        ) as pool:
            written = list(pool.map(partial(_write_bucket, *args), range(spill.buckets)))
    for bucket in written:
        files.add(bucket)
    subnets = pc.unique(pa.concat_arrays([bucket.subnets for bucket in written]))
    if len(subnets):
        last = _BucketFiles(directory, spill.buckets)
        try:
            last.write("nodes=" + Label.SUBNET, "subnets", {_id(Label.SUBNET): subnets})
        finally:
            last.close()
        files.add(last)
    return files


def _node_count(server, database: str) -> int:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(server.uri, auth=("neo4j", server.password)) as driver:
        records, _, _ = driver.execute_query(cypher.NODE_COUNT, database_=database)
    return records[0]["n"]


def _bucket_count(paths: Iterable[Path]) -> int:
    size = sum(path.stat().st_size for path in paths)
    return max(1, -(-size // BUCKET_INPUT_BYTES))


def bulk_ingest(
    server,
    database: str,
    dataset: Path,
    *,
    quarantine_dir: Path | None = None,
    workers: int = 2,
) -> IngestReport:
    """Load ``dataset`` into the empty ``database`` of the managed ``server`` offline;
    ``workers`` processes prepare the tables after the accounts file.

    Raises :class:`ConfigError` when the server is not running or the database is not
    empty (use the online path there).
    """
    from neo4j import GraphDatabase

    if server.pid() is None:
        raise ConfigError("--bulk needs the managed server running: `ringwatch neo4j start`")
    if _node_count(server, database) > 0:
        raise ConfigError(
            f"--bulk loads only into an empty database and {database!r} has nodes: "
            "run `ringwatch ingest` without --bulk to add to it"
        )
    tables, ignored = find_tables(Path(dataset))
    report = IngestReport(dataset=str(Path(dataset).resolve()), mode="bulk", ignored_files=ignored)
    quarantine = Path(quarantine_dir) / report.run_id if quarantine_dir else None
    report.quarantine_dir = str(quarantine) if quarantine else None
    staging = server.data_dir / "import" / f"ringwatch-{report.run_id}"
    spill = Spill(staging / "spill", _bucket_count(t.path for t in tables.values()))
    stage = _Stages(report)
    try:
        report.files = prepare_into(tables, spill, quarantine, workers)
        stage("prepare")
        # the server stops while the CSVs are written: it has nothing to do until the
        # import, and its shutdown (~10 s at 1M) is then off the critical path
        stopping = ThreadPoolExecutor(1)
        stopped = stopping.submit(server.stop)
        try:
            files = write_import_files(spill, staging / "csv", workers)
            shutil.rmtree(spill.directory, ignore_errors=True)
            stage("csv")
            report.rows_written = files.rows
            stopped.result()
            stopping.shutdown()
            stage("stop")
            result = server.admin(
                "database", "import", "full", database,
                "--overwrite-destination=true",
                f"--array-delimiter=U+{ord(ARRAY_DELIMITER):04X}",
                f"--multiline-fields={'true' if files.multiline else 'false'}",
                "--skip-duplicate-nodes=false",
                "--threads=2",
                f"--report-file={server.data_dir / 'logs' / 'import.report'}",
                *files.args,
                heap="2g",
            )  # fmt: skip
            # the importer's own account of its stages (nodes, relationships, linking...)
            (server.data_dir / "logs" / "import.log").write_text(result.stdout)
            stage("import")
        finally:
            stopping.shutdown()
            server.start(timeout=300)
            stage("start")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    loaded = [f for f in report.files if f.status == "loaded"]
    with GraphDatabase.driver(server.uri, auth=("neo4j", server.password)) as driver:
        writer.ensure_schema(driver, database)
        stage("schema")
        runs.start_run(driver, database, report)
        for f in loaded:
            runs.mark_file_done(driver, database, report, f.key)
        stage("runs")
        report.duration_s = time.monotonic() - report.started
        runs.finish_run(driver, database, report)
    return report


class _Stages:
    """Records into ``report.stages_s`` the seconds since the previous stage ended."""

    def __init__(self, report: IngestReport) -> None:
        self.report = report
        self.last = report.started

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self.report.stages_s[name] = round(now - self.last, 2)
        self.last = now
