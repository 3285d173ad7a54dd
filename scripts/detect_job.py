"""Detection jobs: snapshot in, rings out to files (and Neo4j), and evaluation.

The composition lives here: :func:`run_detect` is the pure part on a snapshot (detect,
choose the written rings, keep ring ids of earlier nights, build the output tables);
:func:`detect_graph` adds the I/O with a driver it is given (read the snapshot, read the
previous rings, write back); :func:`write_outputs` writes rings.jsonl, accounts.csv and
summary.json in the format of ``output-format.md``; :func:`evaluate_dir` scores a
detections directory against a truth file.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from graphs.detection import (
    RING_COLUMNS,
    DetectConfig,
    Detections,
    account_table,
    assign_ring_ids,
    detect,
    written_rings,
)
from graphs.errors import DatasetError
from graphs.snapshot import Snapshot

__all__ = [
    "DetectResult",
    "data_time",
    "detect_graph",
    "evaluate_dir",
    "read_account_scores",
    "release_memory",
    "run_detect",
    "write_outputs",
]

MODEL_VERSION = "rings-1"
#: rings.jsonl fields, in the output format's order: detection's ring columns.
OUTPUT_FIELDS = RING_COLUMNS


@dataclass
class DetectResult:
    """Written rings (with ids and ``continuing``), accounts.csv rows, and the summary."""

    rings: pd.DataFrame
    accounts: pd.DataFrame
    detections: Detections
    summary: dict = field(default_factory=dict)


def data_time(snapshot: Snapshot) -> pd.Timestamp:
    """The newest event in the snapshot: the "as of" time of a detection on it."""
    times = [pd.to_datetime(snapshot.accounts["created_at"], utc=True).max()]
    if len(snapshot.links):
        times.append(pd.to_datetime(snapshot.links["last_seen"], utc=True).max())
    times = [t for t in times if not pd.isna(t)]
    return max(times) if times else pd.Timestamp(0, tz="UTC")


def run_detect(
    snapshot: Snapshot,
    *,
    config: DetectConfig | None = None,
    previous: pd.DataFrame | None = None,
    learned: pd.Series | None = None,
    include_all: bool = False,
) -> DetectResult:
    """Detect on ``snapshot`` and build the output tables (no I/O)."""
    config = config or DetectConfig()
    found = detect(snapshot, config, learned=learned)
    threshold = config.ring_threshold
    chosen = written_rings(found.rings, threshold, include_all=include_all)
    # a scraping cluster is written against its own threshold
    if not include_all:
        keep = (chosen["kind"] != "scraping") | (chosen["score"] >= config.scraping_threshold)
        chosen = chosen.loc[keep].reset_index(drop=True)
    rings = assign_ring_ids(chosen, previous)
    accounts = account_table(found.accounts, rings, threshold)
    summary = {
        "detectors": found.info["detectors"],
        "model_version": MODEL_VERSION,
        "ring_scorer": found.info["ring_scorer"],
        "learned_account_score": found.info["learned_account_score"],
        # which trained model (version, winning detector) gave the learned score, if any
        "learned_model": None if learned is None else learned.attrs.get("model"),
        "thresholds": {"ring": threshold, "scraping": config.scraping_threshold},
        "config": found.info["config"],
        "as_of": data_time(snapshot).isoformat(),
        "counts": {
            "accounts": int(snapshot.n_accounts),
            "candidates": found.info["candidates"],
            "links": found.info["links"],
            "rings_written": len(rings),
            "rings_by_kind": rings["kind"].value_counts().to_dict() if len(rings) else {},
            "new_rings": int((~rings["continuing"]).sum()) if len(rings) else 0,
            "continuing_rings": int(rings["continuing"].sum()) if len(rings) else 0,
            "flagged_accounts": int(accounts["flagged"].sum()),
        },
        "timings_s": dict(found.timings),
        "all_rings": include_all,
    }
    if learned is not None and "timings" in learned.attrs:
        # the model's parts apart from the stage totals (which sum to the run's time)
        summary["model_timings_s"] = dict(learned.attrs["timings"])
    return DetectResult(rings, accounts, found, summary)


def release_memory() -> None:
    """Give the C heap's free pages back to the operating system.

    glibc keeps freed small blocks mapped: on the 1M world about a GiB after the read
    and another after the model's graph is dropped, which the next stage would stack
    on. Nothing to do where the C library is not glibc.
    """
    import contextlib
    import ctypes
    import ctypes.util
    import gc

    gc.collect()  # what a reference cycle still holds
    with contextlib.suppress(OSError, AttributeError, TypeError):  # not glibc
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)


def read_account_scores(path: Path) -> pd.Series:
    """A learned per-account score file (CSV ``account_id, score``) as a Series."""
    try:
        frame = pd.read_csv(path, dtype={"account_id": str})
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: cannot read account scores: {error}") from None
    missing = {"account_id", "score"} - set(frame.columns)
    if missing:
        raise DatasetError(f"{path}: account scores need column(s) {', '.join(sorted(missing))}")
    scores = pd.to_numeric(frame["score"], errors="coerce")
    bad = scores.isna() | (scores < 0) | (scores > 1)
    if bad.any():
        row = int(bad.idxmax()) + 2
        raise DatasetError(f"{path}: row {row}: score must be a number in [0, 1]")
    return pd.Series(scores.to_numpy(), index=frame["account_id"], name="score")


def detect_graph(
    driver,
    database: str,
    *,
    config: DetectConfig | None = None,
    learned: pd.Series | None = None,
    include_all: bool = False,
    write_back: bool = True,
    score: Callable[[Snapshot], pd.Series] | None = None,
) -> DetectResult:
    """Read the graph, detect, and write rings and risk scores back into Neo4j.

    ``score(snapshot)``, when given, computes the learned per-account score from the
    snapshot read here (a model's inference), so the graph is read once, not once for
    the model and once for detection (about a minute each at 1M accounts).
    """
    from ingest import rings_io
    from ingest.snapshot_io import read_snapshot

    began = time.perf_counter()
    snapshot = read_snapshot(driver, database)
    read_s = time.perf_counter() - began
    release_memory()
    score_s = None
    if score is not None:
        began = time.perf_counter()
        learned = score(snapshot)
        score_s = round(time.perf_counter() - began, 3)
        release_memory()  # the model's graph and features (GiBs at 1M accounts)
    previous = rings_io.read_rings(driver, database)
    result = run_detect(
        snapshot, config=config, previous=previous, learned=learned, include_all=include_all
    )
    began = time.perf_counter()
    if write_back:
        from ingest import writer

        writer.ensure_schema(driver, database)
        # per-account reasons for the account page (graphs/account_reasons.py)
        from graphs.account_reasons import account_reasons

        reasons = account_reasons(
            result.rings, result.accounts, snapshot.links,
            threshold=result.summary["thresholds"]["ring"], learned=learned,
            explanations=None if learned is None else learned.attrs.get("explanations"),
        )  # fmt: skip
        result.summary["written"] = rings_io.write_detections(
            driver, database, result.rings, result.accounts, detected_at=data_time(snapshot),
            reasons=reasons,
        )  # fmt: skip
    result.summary["timings_s"] = {
        "read": round(read_s, 3),
        **({"model": score_s} if score_s is not None else {}),
        **result.summary["timings_s"],
        "write": round(time.perf_counter() - began, 3),
    }
    return result


def _json_time(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def write_outputs(out: Path, result: DetectResult) -> None:
    """rings.jsonl (best first), accounts.csv and summary.json into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "rings.jsonl").open("w") as handle:
        for ring in result.rings.to_dict("records"):
            record = {key: ring[key] for key in OUTPUT_FIELDS}
            record["score"] = float(record["score"])
            record["accounts"] = list(record["accounts"])
            record["ips"] = list(record["ips"])
            record["first_seen"] = _json_time(record["first_seen"])
            record["last_seen"] = _json_time(record["last_seen"])
            handle.write(json.dumps(record) + "\n")
    table = result.accounts.copy()
    table["flagged"] = table["flagged"].map({True: "true", False: "false"})
    table.to_csv(out / "accounts.csv", index=False)
    (out / "summary.json").write_text(json.dumps(result.summary, indent=2, default=str) + "\n")


# ------------------------------------------------------------------------- evaluation
def _read_rings(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DatasetError(f"{path}: no rings.jsonl in the detections directory")
    rows = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path}: line {number}: not JSON: {error.msg}") from None
    return pd.DataFrame(rows, columns=["ring_id", "kind", "score", "accounts", "ips"])


def _dataset_accounts(dataset: Path) -> list[str]:
    """Every account id of a dataset directory (or of its night-* directories)."""
    from ingest.read import find_tables

    dirs = [dataset, *sorted(p for p in dataset.glob("night-*") if p.is_dir())]
    ids: list[str] = []
    for directory in dirs:
        try:
            tables, _ = find_tables(directory)
        except DatasetError:
            continue  # the root of a multi-night world holds no tables
        path = tables["accounts"].path
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path, columns=["account_id"])
        else:
            frame = pd.read_csv(path, usecols=["account_id"], dtype=str, keep_default_na=False)
        ids.extend(frame["account_id"].astype(str))
    return ids


def evaluate_dir(truth_path: Path, detections: Path, dataset: Path | None = None) -> dict:
    """Metrics of ``output-format.md`` for the rings in ``detections`` (see
    :func:`graphs.evaluation.evaluate`), plus the precision-recall curve."""
    from graphs.evaluation import evaluate, pr_curve

    truth_path, detections = Path(truth_path), Path(detections)
    try:
        truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False).replace("", None)
    except OSError as error:
        raise DatasetError(f"{truth_path}: cannot read truth file: {error.strerror}") from None
    rings = _read_rings(detections / "rings.jsonl")
    accounts_path = detections / "accounts.csv"
    if not accounts_path.exists():
        raise DatasetError(f"{accounts_path}: no accounts.csv in the detections directory")
    scored = pd.read_csv(accounts_path, dtype={"account_id": str, "ring_id": str})
    scored["flagged"] = scored["flagged"].astype(str).str.lower().eq("true")
    universe = _dataset_accounts(Path(dataset) if dataset else truth_path.parent)
    report = evaluate(truth, rings, scored, universe)
    report["pr_curve"] = pr_curve(truth, scored, universe)
    report["truth"] = str(truth_path)
    report["detections"] = str(detections)
    return report


def evaluation_tables(report: dict) -> str:
    """The evaluation as text tables: overall, per kind, per scenario."""

    def fmt(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    lines = []
    metrics = ("ring_recall", "ring_precision", "account_precision", "account_recall",
               "auprc", "base_rate", "lookalike_fpr")  # fmt: skip
    rows = {"overall": report["overall"], **report["per_kind"]}
    lines.append(f"{'':16}" + "".join(f"{m:>18}" for m in metrics))
    for name, values in rows.items():
        lines.append(f"{name:16}" + "".join(f"{fmt(values.get(m)):>18}" for m in metrics))
    lines.append("")
    scenario_metrics = ("abuse_groups", "ring_recall", "account_recall", "auprc",
                        "lookalike_fpr", "lookalike_entities")  # fmt: skip
    lines.append(f"{'scenario':20}{'kind':14}" + "".join(f"{m:>19}" for m in scenario_metrics))
    scenarios = sorted(report["per_scenario"].items(), key=lambda kv: (kv[1]["kind"], kv[0]))
    for name, values in scenarios:
        lines.append(
            f"{name:20}{values['kind']:14}"
            + "".join(f"{fmt(values.get(m)):>19}" for m in scenario_metrics)
        )
    return "\n".join(lines)
