"""The bulk path: a first load into an empty database through ``neo4j-admin database
import full`` (Neo4j's offline importer), giving the same graph as the online writer.

The dataset is prepared exactly as for the online path, the files are combined
(:func:`ingest.prepare.combine_files`: what the graph holds after writing them in
order, with ``last_run`` tags), written as CSV files with typed headers, and imported
while the managed server is stopped. After the restart the constraints and indexes are
created and an ``IngestRun`` records every file as completed, so the next night's
dataset loads incrementally through the online path.
"""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import pandas as pd

from graphs.errors import ConfigError
from graphs.model import IDENTIFIER_KEYS, USAGE_RELS, Label, Prop, Rel
from ingest import cypher, runs, writer
from ingest.prepare import EDGE_COUNTERS, combine_files, prepare_dataset
from ingest.runs import IngestReport

__all__ = ["ARRAY_DELIMITER", "bulk_ingest", "write_import_files"]

#: Between elements of list properties in the import CSVs (never in ids or user agents).
ARRAY_DELIMITER = "\x1f"
_WINDOW_PROPS = {
    "start": (Prop.WIN_START, "long[]"),
    "window_s": (Prop.WIN_S, "long[]"),
    "n_requests": (Prop.WIN_REQUESTS, "long[]"),
    "n_paths": (Prop.WIN_PATHS, "long[]"),
    "n_creators": (Prop.WIN_CREATORS, "long[]"),
    "ua": (Prop.WIN_UA, "string[]"),
}
_LONG = {"count", "logins", "failed_logins", "requests", "max_paths", "max_creators",
         "succeeded", "declined", "refunded", "disputed"}  # fmt: skip


def _iso_ms(times: pd.Series) -> pd.Series:
    """UTC times as ISO text truncated to milliseconds, as the online writer stores."""
    ms = times.astype("datetime64[ns, UTC]").dt.floor("ms")
    text = ms.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    return text.where(times.notna(), None)


def _window_lists(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Windows grouped per client into delimiter-joined list columns."""
    ordered = frame.sort_values([*keys, "window_start"], kind="stable")
    text = pd.DataFrame({k: ordered[k] for k in keys})
    text["start"] = (ordered["window_start"].astype("int64") // 1_000_000_000).astype(str)
    for name in ("window_s", "n_requests", "n_paths", "n_creators"):
        text[name] = ordered[name].astype("int64").astype(str)
    text["ua"] = ordered["ua"].astype(object).where(ordered["ua"].notna(), "").astype(str)
    grouped = text.groupby(keys, sort=False).agg(
        {name: ARRAY_DELIMITER.join for name in _WINDOW_PROPS}
    )
    return grouped.reset_index().rename(
        columns={name: f"{prop}:{kind}" for name, (prop, kind) in _WINDOW_PROPS.items()}
    )


class _Files:
    """The CSV files of one import, with the ``--nodes`` / ``--relationships`` args."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.args: list[str] = []
        self.multiline = False
        self.rows = 0

    def write(self, kind: str, name: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        for column in frame.columns:
            if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
                text = frame[column].dropna().astype(str)
                if text.str.contains("\n|\r", regex=True).any():
                    self.multiline = True
        path = self.directory / f"{name}.csv"
        frame.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        self.args.append(f"--{kind}={path}")
        self.rows += len(frame)


def _id(label: Label) -> str:
    return f"{IDENTIFIER_KEYS[label]}:ID({label})"


def _nodes(files: _Files, frames: dict[str, pd.DataFrame]) -> None:
    accounts = frames.get("accounts")
    if accounts is not None:
        out = pd.DataFrame({_id(Label.ACCOUNT): accounts["account_id"]})
        out[f"{Prop.CREATED_AT}:datetime"] = _iso_ms(accounts["created_at"])
        for column, prop in (("country", Prop.COUNTRY), ("status", Prop.STATUS),
                             ("email", Prop.ACCOUNT_EMAIL), ("domain", Prop.DOMAIN),
                             ("phone", Prop.ACCOUNT_PHONE)):  # fmt: skip
            out[prop] = accounts[column].astype(object)
        labels = frames.get("labels")
        if labels is not None:
            by_id = labels.set_index("account_id")
            ids = accounts["account_id"]
            out[Prop.LABEL] = ids.map(by_id["label"]).to_numpy()
            out[Prop.LABEL_SOURCE] = ids.map(by_id["label_source"]).to_numpy()
            out[f"{Prop.LABEL_TS}:datetime"] = _iso_ms(ids.map(by_id["label_ts"])).to_numpy()
        files.write("nodes=" + Label.ACCOUNT, "accounts", out)
    ips = frames.get("ips")
    if ips is not None:
        out = pd.DataFrame(
            {_id(Label.IP): ips["ip"], f"{Prop.IS_V6}:boolean": ips["is_v6"].map(str).str.lower()}
        )
        if "ip_windows" in frames:
            lists = _window_lists(frames["ip_windows"], ["ip"]).rename(
                columns={"ip": _id(Label.IP)}
            )
            out = out.merge(lists, on=_id(Label.IP), how="left")
        files.write("nodes=" + Label.IP, "ips", out)
        subnets = pd.DataFrame({_id(Label.SUBNET): ips["subnet"].drop_duplicates()})
        files.write("nodes=" + Label.SUBNET, "subnets", subnets)
        rel = pd.DataFrame({f":START_ID({Label.IP})": ips["ip"],
                            f":END_ID({Label.SUBNET})": ips["subnet"]})  # fmt: skip
        files.write("relationships=" + Rel.IN_SUBNET, "in_subnet", rel)
    key_nodes = writer.key_nodes(frames)
    for label, frame in key_nodes.items():
        out = frame.rename(columns={"key": _id(label), "domain": Prop.DOMAIN})
        files.write("nodes=" + label, label.lower(), out)
    methods = frames.get("payment_methods")
    if methods is not None:
        out = pd.DataFrame({_id(Label.PAYMENT_METHOD): methods["payment_method_id"],
                            Prop.CARD_BIN: methods["card_bin"],
                            Prop.CARD_COUNTRY: methods["card_country"]})  # fmt: skip
        files.write("nodes=" + Label.PAYMENT_METHOD, "payment_methods", out)


def _relationships(files: _Files, frames: dict[str, pd.DataFrame]) -> None:
    for rel, counters in EDGE_COUNTERS.items():
        frame = frames.get(rel)
        if frame is None:
            continue
        if rel == Rel.SENT_UA:
            start, source, (label, _) = Label.IP, "ip", (Label.USER_AGENT, None)
        else:
            start, source, (label, _) = Label.ACCOUNT, "account_id", USAGE_RELS[rel]
        out = pd.DataFrame(
            {f":START_ID({start})": frame[source], f":END_ID({label})": frame["key"]}
        )
        out[f"{Prop.FIRST_SEEN}:datetime"] = _iso_ms(frame["first_seen"])
        out[f"{Prop.LAST_SEEN}:datetime"] = _iso_ms(frame["last_seen"])
        for counter in counters:
            values = frame[counter]
            if counter in ("max_paths", "max_creators"):
                values = values.clip(lower=0)
            kind = "long" if counter in _LONG else "double"
            out[f"{counter}:{kind}"] = values
        if rel == Rel.HAS_EMAIL:
            out[Prop.RAW] = frame["raw"]
        out[Prop.LAST_RUN] = frame["last_run"]
        if rel == Rel.USED_IP and "account_windows" in frames:
            lists = _window_lists(frames["account_windows"], ["account_id", "ip"])
            lists = lists.rename(
                columns={"account_id": f":START_ID({start})", "ip": f":END_ID({label})"}
            )
            out = out.merge(lists, on=[f":START_ID({start})", f":END_ID({label})"], how="left")
        files.write("relationships=" + rel, rel.lower(), out)


def write_import_files(frames: dict[str, pd.DataFrame], directory: Path) -> _Files:
    """Write the combined frames as import CSVs into ``directory``; the result holds the
    neo4j-admin arguments, the row count and whether some value spans lines (which
    needs ``--multiline-fields``)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = _Files(directory)
    _nodes(files, frames)
    _relationships(files, frames)
    return files


def _node_count(server, database: str) -> int:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(server.uri, auth=("neo4j", server.password)) as driver:
        records, _, _ = driver.execute_query(cypher.NODE_COUNT, database_=database)
    return records[0]["n"]


def bulk_ingest(
    server,
    database: str,
    dataset: Path,
    *,
    quarantine_dir: Path | None = None,
) -> IngestReport:
    """Load ``dataset`` into the empty ``database`` of the managed ``server`` offline.

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
    report = IngestReport(dataset=str(Path(dataset).resolve()), mode="bulk")
    quarantine = Path(quarantine_dir) / report.run_id if quarantine_dir else None
    report.quarantine_dir = str(quarantine) if quarantine else None
    prepared = prepare_dataset(Path(dataset), quarantine_dir=quarantine)
    report.files = prepared.reports
    report.ignored_files = prepared.ignored_files
    loaded = [f for f in prepared.files if f.report.status == "loaded"]
    frames = combine_files(loaded, consume=True)
    staging = server.data_dir / "import" / f"ringwatch-{report.run_id}"
    try:
        files = write_import_files(frames, staging)
        del frames
        report.rows_written = files.rows
        server.stop()
        try:
            server.admin(
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
        finally:
            server.start(timeout=300)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with GraphDatabase.driver(server.uri, auth=("neo4j", server.password)) as driver:
        writer.ensure_schema(driver, database)
        runs.start_run(driver, database, report)
        for f in loaded:
            runs.mark_file_done(driver, database, report, f.report.key)
        report.duration_s = time.monotonic() - report.started
        runs.finish_run(driver, database, report)
    return report
