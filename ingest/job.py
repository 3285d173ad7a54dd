"""The ingest job: one dataset directory into Neo4j, online (batched writes).

``ingest_dataset`` composes the pieces: schema first, then for each table file (accounts
first) prepare it, write it, and record it as completed in the run record. Files that an
earlier run completed are skipped by content hash, so running the same dataset again
changes nothing, and a run interrupted anywhere is finished by running it again.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ingest import runs, writer
from ingest.prepare import iter_prepared
from ingest.read import DEFAULT_CHUNK_ROWS, find_tables
from ingest.runs import IngestReport

__all__ = ["ingest_dataset"]


def ingest_dataset(
    driver,
    database: str,
    dataset: Path,
    *,
    quarantine_dir: Path | None = None,
    batch_size: int = writer.DEFAULT_BATCH_SIZE,
    workers: int = writer.DEFAULT_WORKERS,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool | None = None,
) -> IngestReport:
    """Load ``dataset`` into ``database``; return the report (see :class:`IngestReport`).

    ``progress=None`` shows a tqdm bar (rows/s) when stderr is a terminal.
    """
    from tqdm import tqdm

    dataset = Path(dataset)
    tables, ignored = find_tables(dataset)
    report = IngestReport(dataset=str(dataset.resolve()), ignored_files=ignored)
    quarantine = Path(quarantine_dir) / report.run_id if quarantine_dir else None
    report.quarantine_dir = str(quarantine) if quarantine else None
    writer.ensure_schema(driver, database)
    runs.start_run(driver, database, report)
    completed = runs.completed_files(driver, database)
    disable = None if progress is None else not progress
    status = "failed"
    fresh = writer.FreshAccounts()
    try:
        prepared_files = iter_prepared(
            tables,
            known_accounts=lambda ids: writer.existing_accounts(driver, database, ids),
            skip=completed,
            quarantine_dir=quarantine,
            chunk_rows=chunk_rows,
        )
        for prepared in prepared_files:
            report.files.append(prepared.report)
            if prepared.report.status != "loaded":
                continue
            if "accounts" in prepared.frames:
                ids = prepared.frames["accounts"]["account_id"]
                existing = writer.existing_accounts(driver, database, ids.tolist())
                fresh.add(ids[~ids.isin(existing)])
            steps = writer.rows_to_write(prepared, fresh)
            total = sum(len(step) for step in steps)
            with tqdm(
                total=total,
                desc=f"{prepared.report.table:9}",
                unit="rows",
                unit_scale=True,
                file=sys.stderr,
                disable=disable,
            ) as bar:
                report.rows_written += writer.write_steps(
                    driver, database, steps, prepared.report.sha256, batch_size, bar, workers
                )
            runs.mark_file_done(driver, database, report, prepared.report.key)
        status = "completed"
    finally:
        report.duration_s = time.monotonic() - report.started
        runs.finish_run(driver, database, report, status=status)
    return report
