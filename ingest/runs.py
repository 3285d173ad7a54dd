"""Run records: one ``(:IngestRun)`` per ingest, and the report it carries.

A run is created as ``running`` before the first write; the ``table:sha256`` key of each
file is appended to its ``completed`` list as soon as that file is fully written, so a
re-run after a crash skips exactly the files that finished; the run is closed with the
per-file counts (as parallel lists) and the whole report as JSON.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field

from ingest import cypher
from ingest.prepare import FileReport

__all__ = ["IngestReport", "completed_files", "finish_run", "mark_file_done", "start_run"]


@dataclass
class IngestReport:
    """What one ingest did: per-file reports, totals and where quarantined rows went."""

    dataset: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    mode: str = "online"
    files: list[FileReport] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    quarantine_dir: str | None = None
    rows_written: int = 0
    started: float = field(default_factory=time.monotonic)
    duration_s: float = 0.0
    #: Seconds of each stage in order (the bulk path: prepare, csv, stop, import, ...).
    stages_s: dict[str, float] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files if f.status != "rejected")

    @property
    def rejected_files(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "rejected"]

    @property
    def rejected(self) -> bool:
        """Whether anything was rejected (a file or a row): the command exits non-zero."""
        return bool(self.rejected_files) or self.rows_quarantined > 0

    def summary(self) -> str:
        """One line for the command line."""
        skipped = sum(f.status == "skipped" for f in self.files)
        rate = self.rows_read / self.duration_s if self.duration_s else 0.0
        parts = [
            f"ingest {self.run_id} ({self.mode}): {self.rows_loaded:,} of {self.rows_read:,} "
            f"rows loaded from {len(self.files) - skipped - len(self.rejected_files)} files "
            f"in {self.duration_s:.1f} s ({rate:,.0f} rows/s)"
        ]
        if skipped:
            parts.append(f"{skipped} files skipped (already loaded)")
        if self.rows_quarantined:
            parts.append(f"{self.rows_quarantined:,} rows quarantined in {self.quarantine_dir}")
        if self.rejected_files:
            names = ", ".join(f"{f.file} ({f.reason})" for f in self.rejected_files)
            parts.append(f"{len(self.rejected_files)} files rejected: {names}")
        return "; ".join(parts)

    def details(self) -> list[str]:
        """Per-file lines: status, counts, broken rules and ignored columns."""
        lines = []
        for f in self.files:
            line = f"  {f.table:9} {f.status:8} read {f.rows_read:>10,}  quarantined "
            line += f"{f.rows_quarantined:>8,}  {f.file}"
            if f.reason:
                line += f"  ({f.reason})"
            lines.append(line)
            for rule, n in sorted(f.rules.items(), key=lambda kv: -kv[1]):
                lines.append(f"      {n:>8,}  {rule}")
            if f.ignored_columns:
                lines.append(f"      ignored columns: {', '.join(f.ignored_columns)}")
            if f.quarantine_file:
                lines.append(f"      quarantined rows: {f.quarantine_file}")
        if self.ignored_files:
            lines.append(f"  ignored files: {', '.join(self.ignored_files)}")
        return lines

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k not in ("files", "started")}
        data["files"] = [{**asdict(f), "rows_loaded": f.rows_loaded} for f in self.files]
        return json.dumps(data, sort_keys=True)


def completed_files(driver, database: str) -> set[str]:
    """``table:sha256`` of every file some earlier run wrote completely."""
    records, _, _ = driver.execute_query(cypher.COMPLETED_FILES, database_=database, routing_="r")
    return {record["key"] for record in records}


def start_run(driver, database: str, report: IngestReport) -> None:
    driver.execute_query(
        cypher.RUN_START, run_id=report.run_id, dataset=report.dataset, database_=database
    )


def mark_file_done(driver, database: str, report: IngestReport, key: str) -> None:
    driver.execute_query(cypher.RUN_FILE_DONE, run_id=report.run_id, key=key, database_=database)


def finish_run(driver, database: str, report: IngestReport, status: str = "completed") -> None:
    files = report.files
    driver.execute_query(
        cypher.RUN_FINISH,
        run_id=report.run_id,
        status=status,
        duration_s=report.duration_s,
        files=[f.file for f in files],
        tables=[f.table for f in files],
        hashes=[f.sha256 for f in files],
        file_status=[f.status for f in files],
        rows_read=[f.rows_read for f in files],
        rows_loaded=[f.rows_loaded for f in files],
        rows_quarantined=[f.rows_quarantined for f in files],
        report=report.to_json(),
        database_=database,
    )
