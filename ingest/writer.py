"""The online writer: prepared rows into a running Neo4j through batched ``UNWIND`` writes.

Functions take a ``neo4j.Driver`` and a database name; they never create a driver.
Every batch is one managed transaction (``driver.execute_query``, retried by the driver
on transient errors), so a crash leaves whole batches written or not written; the
``last_run`` tag on each edge (see :func:`ingest.cypher.edge_write`) makes writing the
same file again a no-op for the batches that did commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphs.model import Label, Rel
from ingest import cypher
from ingest.normalise import email_domains
from ingest.prepare import EDGE_COUNTERS, PreparedFile, value_hashes

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FreshAccounts",
    "Step",
    "ensure_schema",
    "existing_accounts",
    "key_nodes",
    "rows_to_write",
    "write_prepared",
    "write_steps",
]

log = logging.getLogger(__name__)

#: Rows per transaction: 2,000 rows per batch ran at half the rate of 5,000 on the 10k
#: world; larger batches only grow the server's transaction state (docs/ingest.md has
#: the measurements and what is still to measure on an idle machine).
DEFAULT_BATCH_SIZE = 10_000
#: Concurrent write transactions: Neo4j runs each on one thread, so two keep both
#: cores of the target machine busy (measured in docs/ingest.md).
DEFAULT_WORKERS = 2


class Progress(Protocol):
    def update(self, n: int) -> Any: ...


def ensure_schema(driver, database: str, timeout_s: int = 600) -> None:
    """Create the uniqueness constraints and indexes (idempotent) and wait for them.

    All in one schema transaction: the server then populates the new indexes of a label
    together, in one scan of the store, instead of one scan per index (after a bulk
    import of the 1M world, that scan is most of the schema's time; docs/ingest.md).
    """
    with driver.session(database=database) as session:
        with session.begin_transaction() as tx:
            for statement in cypher.SCHEMA:
                tx.run(statement).consume()
            tx.commit()
        session.run(cypher.AWAIT_INDEXES, seconds=timeout_s).consume()


def existing_accounts(driver, database: str, ids: Sequence[str], batch: int = 50_000) -> set[str]:
    """Which of ``ids`` name an :Account already in the graph."""
    found: set[str] = set()
    for start in range(0, len(ids), batch):
        records, _, _ = driver.execute_query(
            cypher.EXISTING_ACCOUNTS,
            ids=list(ids[start : start + batch]),
            database_=database,
            routing_="r",
        )
        found.update(record["id"] for record in records)
    return found


# ----------------------------------------------------------------- frames to rows
def _column(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        ms = series.astype("datetime64[ns, UTC]").astype("int64") // 1_000_000
        return [None if missing else int(v) for v, missing in zip(ms, series.isna(), strict=True)]
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.tolist()
    return series.astype(object).where(series.notna(), None).tolist()


def records(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> list[dict]:
    """Rows of ``frame`` as parameter dicts: times as epoch ms, missing values as None."""
    names = list(columns or frame.columns)
    lists = [_column(frame[name]) for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)]


def _window_rows(frame: pd.DataFrame, keys: list[str]) -> list[dict]:
    """One row per client with its windows as parallel lists sorted by start (the list
    names are those of :func:`ingest.cypher._window_merge`)."""
    if frame.empty:
        return []
    ordered = frame.sort_values([*keys, "window_start"], kind="stable").reset_index(drop=True)
    start = (ordered["window_start"].astype("int64") // 1_000_000_000).to_numpy()
    ua = ordered["ua"].astype(object).where(ordered["ua"].notna(), "").tolist()
    key_text = [f"{s}|{u}" for s, u in zip(start.tolist(), ua, strict=True)]
    group = ordered.groupby(keys, sort=False).ngroup().to_numpy()
    bounds = np.flatnonzero(np.diff(group)) + 1
    edges = np.concatenate([[0], bounds, [len(ordered)]])
    cols = {
        "start": start.tolist(),
        "s": ordered["window_s"].tolist(),
        "req": ordered["n_requests"].tolist(),
        "paths": ordered["n_paths"].tolist(),
        "cre": ordered["n_creators"].tolist(),
    }
    key_cols = {k: ordered[k].tolist() for k in keys}
    rows = []
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        row = {k: values[lo] for k, values in key_cols.items()}
        row.update({name: values[lo:hi] for name, values in cols.items()})
        row["ua"] = ua[lo:hi]
        row["wkeys"] = key_text[lo:hi]
        row["min_start"] = cols["start"][lo]
        rows.append(row)
    return rows


def key_nodes(frames: dict[str, pd.DataFrame]) -> dict[Label, pd.DataFrame]:
    """Rows (``key``, and ``domain`` for emails) of the identifier nodes the edges of
    ``frames`` point to, by label."""
    sources = {
        Label.DEVICE: [Rel.SIGNED_UP_ON, Rel.USED_DEVICE],
        Label.PHONE: [Rel.HAS_PHONE],
        Label.CREATOR: [Rel.SUPPORTS],
        Label.USER_AGENT: [Rel.USED_UA, Rel.SENT_UA],
    }
    out: dict[Label, pd.DataFrame] = {}
    for label, rels in sources.items():
        keys = [frames[r]["key"] for r in rels if r in frames]
        if keys:
            unique = pd.unique(pd.concat(keys, ignore_index=True).to_numpy(dtype=object))
            out[label] = pd.DataFrame({"key": unique})
    if Rel.HAS_EMAIL in frames:
        emails = frames[Rel.HAS_EMAIL]["key"].drop_duplicates().astype(object)
        out[Label.EMAIL] = pd.DataFrame({"key": emails, "domain": email_domains(emails)})
    return out


def _strings(values: pd.Series) -> pa.Array:
    return pa.array(values.to_numpy(dtype=object), type=pa.string())


@dataclass
class FreshAccounts:
    """The accounts that did not exist when this run began, and per relationship type
    those whose edges of that type the run has already written.

    An edge of a fresh account whose type no earlier file of the run wrote for it cannot
    exist yet (one row per edge per file), so it is created, not merged. A run that is
    interrupted and run again finds these accounts in the graph and merges: a retry
    never creates an edge twice.
    """

    ids: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    written: dict[Rel, pa.Array] = field(default_factory=dict)

    def add(self, ids: pd.Series) -> None:
        self.ids = pa.concat_arrays([self.ids, _strings(ids)])

    def is_fresh(self, ids: pd.Series) -> np.ndarray:
        return pc.is_in(_strings(ids), value_set=self.ids).to_numpy(zero_copy_only=False)

    def take(self, rel: Rel, ids: pd.Series) -> np.ndarray:
        """Which rows (accounts ``ids``) of a file's ``rel`` edges are new edges; the
        file's fresh accounts count as written for ``rel`` from now on."""
        values = _strings(ids)
        fresh = pc.is_in(values, value_set=self.ids)
        if rel in self.written:
            fresh = pc.and_(fresh, pc.invert(pc.is_in(values, value_set=self.written[rel])))
        mask = fresh.to_numpy(zero_copy_only=False)
        before = self.written.get(rel, pa.array([], pa.string()))
        self.written[rel] = pa.concat_arrays([before, values.filter(fresh)])
        return mask


@dataclass(frozen=True)
class Step:
    """One query and the rows it is run over (converted to parameters batch by batch,
    so a file's millions of edges never exist as Python dicts all at once)."""

    name: str
    query: str
    frame: pd.DataFrame
    #: The column whose values one worker owns (default: ``key``, else the first column).
    partition: str | None = None

    def __len__(self) -> int:
        return len(self.frame)


def rows_to_write(prepared: PreparedFile, fresh: FreshAccounts | None = None) -> list[Step]:
    """The steps that write one prepared file, in dependency order (nodes first).

    With ``fresh``, fresh accounts and their new edges are created rather than merged.
    """
    frames = prepared.frames
    steps: list[Step] = []
    if "accounts" in frames:
        accounts = frames["accounts"]
        new = fresh.is_fresh(accounts["account_id"]) if fresh else np.zeros(len(accounts), bool)
        steps.append(Step("Account", cypher.ACCOUNT_NODES, accounts[~new]))
        steps.append(Step("new Account", cypher.NEW_ACCOUNT_NODES, accounts[new]))
    if "ips" in frames:
        # by subnet: every IP of a subnet merges its IN_SUBNET edge from one worker (by
        # IP, two workers deadlocked on the subnet's locks)
        steps.append(Step("IP", cypher.IP_NODES, frames["ips"], partition="subnet"))
    for label, frame in key_nodes(frames).items():
        steps.append(Step(str(label), cypher.KEY_NODES[label], frame))
    if "payment_methods" in frames:
        methods = frames["payment_methods"][["payment_method_id", "card_bin", "card_country"]]
        steps.append(Step("PaymentMethod", cypher.PAYMENT_METHOD_NODES, methods))
    for rel, counters in EDGE_COUNTERS.items():
        if rel in frames:
            frame = frames[rel]
            for column in ("max_paths", "max_creators"):
                if column in frame:
                    frame = frame.assign(**{column: frame[column].clip(lower=0)})
            source = "ip" if rel == Rel.SENT_UA else "account_id"
            columns = [source, "key", "first_seen", "last_seen", *counters]
            if rel == Rel.HAS_EMAIL:
                columns.append("raw")
            new = np.zeros(len(frame), bool)
            if fresh is not None and rel in cypher.EDGE_CREATES:
                new = fresh.take(rel, frame["account_id"])
            steps.append(Step(str(rel), cypher.EDGE_WRITES[rel], frame.loc[~new, columns]))
            steps.append(
                Step(f"new {rel}", cypher.EDGE_CREATES.get(rel, ""), frame.loc[new, columns])
            )
    if "account_windows" in frames:
        rows = _window_rows(frames["account_windows"], ["account_id", "ip"])
        steps.append(Step("USED_IP windows", cypher.USED_IP_WINDOWS, pd.DataFrame(rows)))
    if "ip_windows" in frames:
        rows = _window_rows(frames["ip_windows"], ["ip"])
        steps.append(Step("IP windows", cypher.IP_WINDOWS, pd.DataFrame(rows)))
    if "labels" in frames:
        steps.append(Step("labels", cypher.LABELS, frames["labels"]))
    return [step for step in steps if len(step)]


def write_prepared(
    driver,
    database: str,
    prepared: PreparedFile,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    workers: int = DEFAULT_WORKERS,
) -> int:
    """Write one prepared file's rows; return the number of rows written."""
    steps = rows_to_write(prepared)
    return write_steps(
        driver, database, steps, prepared.report.sha256, batch_size, progress, workers
    )


def _batches(
    frame: pd.DataFrame, batch_size: int, workers: int, partition: str | None = None
) -> list[np.ndarray]:
    """Row positions of ``frame`` cut into batches.

    With several workers, edge rows are partitioned by their target (``key``: the IP,
    device, card... that many accounts may share), so that one busy target is written by
    one worker only (concurrent writes to a dense node deadlock on its relationship
    group lock), and each partition is sorted by its source (the account), so that
    transactions lock shared accounts in one order. Node rows are partitioned by their
    key, or by ``partition`` when given. The partitions' batches are interleaved.
    """
    n = len(frame)
    if workers <= 1 or n <= 1:
        return [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    # a step of fewer than workers x batch_size rows is still shared by every worker
    batch_size = min(batch_size, -(-n // workers))
    if partition is not None:
        target = frame[partition]
    else:
        target = frame["key"] if "key" in frame else frame.iloc[:, 0]
    part = value_hashes(target) % np.uint64(workers)
    source = frame.iloc[:, 0].astype(str).to_numpy(dtype=object) if "key" in frame else None
    per_part = []
    for p in range(workers):
        positions = np.flatnonzero(part == p)
        if source is not None:
            positions = positions[np.argsort(source[positions], kind="stable")]
        per_part.append(
            [positions[i : i + batch_size] for i in range(0, len(positions), batch_size)]
        )
    return [b for group in zip_longest(*per_part) for b in group if b is not None]


def write_steps(
    driver,
    database: str,
    steps: list[Step],
    run: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    workers: int = DEFAULT_WORKERS,
) -> int:
    """Run each step's query over its rows in batches of ``batch_size``, ``workers``
    transactions at a time (a step finishes before the next one starts: edges need
    their nodes). Deadlocks between concurrent batches are transient errors that the
    driver retries; each batch is atomic, so a retry never half-applies one."""
    written = 0

    def write(step: Step, positions: np.ndarray) -> int:
        rows = records(step.frame.iloc[positions])
        driver.execute_query(step.query, rows=rows, run=run, database_=database)
        return len(rows)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for step in steps:
            log.debug("writing %d %s rows", len(step), step.name)
            batches = _batches(step.frame, batch_size, workers, step.partition)
            for n in pool.map(lambda positions, s=step: write(s, positions), batches):
                written += n
                if progress is not None:
                    progress.update(n)
    return written
