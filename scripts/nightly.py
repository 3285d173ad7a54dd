"""The nightly job: ingest the night's export, detect, report, record the run.

:func:`run_nightly` takes the driver it works with (the CLI builds it). It refuses to
run while another nightly holds the lock file, logs to a file, writes the detections
and the report into ``out/<export name>/``, and keeps a ``(:DetectRun)`` record in
Neo4j whether the night succeeds or fails.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from graphs.detection import DetectConfig
from graphs.errors import ConfigError, RingwatchError

__all__ = ["NightlyResult", "nightly_lock", "run_nightly"]

log = logging.getLogger("ringwatch.nightly")
LOCK_NAME = ".ringwatch-nightly.lock"


@dataclass
class NightlyResult:
    run_id: str
    out: Path
    summary: dict = field(default_factory=dict)
    ingest_rejected: bool = False

    def line(self) -> str:
        """The one summary line a cron job prints."""
        counts = self.summary.get("counts", {})
        by_kind = counts.get("rings_by_kind", {})
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items())) or "no rings"
        total = sum(self.summary.get("timings_s", {}).values())
        return (
            f"nightly {self.run_id}: {counts.get('rings_written', 0)} rings ({kinds}; "
            f"{counts.get('new_rings', 0)} new, {counts.get('continuing_rings', 0)} continuing), "
            f"{counts.get('flagged_accounts', 0)} accounts flagged of "
            f"{counts.get('accounts', 0):,}, {total:.0f} s; report {self.out / 'report.html'}"
        )


def nightly_lock(out: Path):
    """A non-blocking file lock in ``out``: a second nightly fails at once, clearly."""
    from filelock import FileLock

    out.mkdir(parents=True, exist_ok=True)
    return FileLock(str(out / LOCK_NAME), timeout=0)


def run_nightly(
    driver,
    database: str,
    export: Path,
    out: Path,
    *,
    config: DetectConfig | None = None,
    learned: pd.Series | None = None,
    truth: Path | None = None,
) -> NightlyResult:
    """Ingest ``export``, detect, write files and report under ``out/<export name>``."""
    from filelock import Timeout

    export, out = Path(export), Path(out)
    if not export.is_dir():
        raise ConfigError(f"{export}: the export directory does not exist")
    lock = nightly_lock(out)
    try:
        lock.acquire()
    except Timeout:
        raise ConfigError(
            f"another nightly run holds {lock.lock_file}; refusing to run twice at once"
        ) from None
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    night_dir = out / export.name
    began = time.monotonic()
    record: dict = {"export": str(export.resolve()), "out": str(night_dir)}
    try:
        result, ingest = _night(driver, database, run_id, export, night_dir, record,
                                config=config, learned=learned, truth=truth)  # fmt: skip
    except BaseException as error:
        record["error"] = str(error) if isinstance(error, RingwatchError) else repr(error)
        log.error("run %s failed: %s", run_id, record["error"])
        _finish(driver, database, run_id, "failed", began, record)
        raise
    else:
        _finish(driver, database, run_id, "completed", began, record)
    finally:
        lock.release()
    return NightlyResult(run_id, night_dir, result.summary, ingest_rejected=ingest.rejected)


def _night(driver, database, run_id, export, night_dir, record, *, config, learned, truth):
    from ingest import rings_io
    from ingest.job import ingest_dataset
    from scripts.detect_job import detect_graph, evaluate_dir, write_outputs
    from scripts.report import write_report

    rings_io.start_detect_run(driver, database, run_id, str(export.resolve()))
    log.info("run %s: ingest %s", run_id, export)
    ingest = ingest_dataset(
        driver, database, export, quarantine_dir=night_dir / "quarantine", progress=False
    )
    record["ingest"] = {"summary": ingest.summary(), "rejected": ingest.rejected}
    log.info("ingest: %s", ingest.summary())
    result = detect_graph(driver, database, config=config, learned=learned)
    write_outputs(night_dir, result)
    evaluation = evaluate_dir(truth, night_dir, export) if truth else None
    write_report(night_dir, result.rings, result.accounts, result.summary, evaluation)
    record["summary"] = result.summary
    log.info("detect: %s", result.summary["counts"])
    return result, ingest


def _finish(driver, database: str, run_id: str, status: str, began: float, record: dict) -> None:
    from ingest import rings_io

    try:
        rings_io.finish_detect_run(
            driver, database, run_id, status=status, duration_s=time.monotonic() - began,
            report=record,
        )  # fmt: skip
    except Exception as error:  # the database may be what failed: keep the first error
        log.error("could not record run %s as %s: %s", run_id, status, error)
