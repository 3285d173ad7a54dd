"""Finding a dataset's table files and reading them as text, chunk by chunk.

Every cell arrives as a Python string exactly as exported (``""`` for an empty cell), so
that ids like ``"00123"`` are never turned into numbers. CSV files (plain or gzip) and
Parquet files are read in chunks of ``chunk_rows`` so memory stays flat whatever the file
size. A file that cannot be read raises :class:`graphs.errors.RejectedFileError` with the
reason; malformed CSV lines are reported per line and the rest of the file is read.
"""

from __future__ import annotations

import hashlib
import re
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyarrow.lib import ArrowException

from graphs.errors import DatasetError, RejectedFileError
from ingest.tables import TABLES

__all__ = ["SUFFIXES", "TableFile", "find_tables", "sha256_file"]

SUFFIXES = (".csv", ".csv.gz", ".parquet")
DEFAULT_CHUNK_ROWS = 250_000
_BAD_LINE = re.compile(r"Skipping line (\d+): (.*)")
_READ_ERRORS = (
    OSError,
    EOFError,
    UnicodeDecodeError,
    ValueError,
    zlib.error,
    pd.errors.ParserError,
    ArrowException,
)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (the identity of its content across runs)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class TableFile:
    """One table file of a dataset, read chunk by chunk.

    ``bad_lines`` collects ``(line, reason)`` for CSV lines that could not be split into
    the header's fields; they count as read and quarantined.
    """

    table: str
    path: Path
    bad_lines: list[tuple[int, str]] = field(default_factory=list)

    @property
    def is_parquet(self) -> bool:
        return self.path.name.endswith(".parquet")

    def columns(self) -> list[str]:
        """The header, or raise :class:`RejectedFileError` (empty or unreadable file)."""
        try:
            if self.is_parquet:
                import pyarrow.parquet as pq

                return list(pq.read_schema(self.path).names)
            if self.path.stat().st_size == 0:
                raise RejectedFileError(self.path, "empty file (not even a header line)")
            return list(pd.read_csv(self.path, nrows=0, encoding="utf-8-sig").columns)
        except pd.errors.EmptyDataError:
            raise RejectedFileError(self.path, "empty file (not even a header line)") from None
        except UnicodeDecodeError as error:
            raise RejectedFileError(self.path, _decode_reason(error)) from None
        except _READ_ERRORS as error:
            raise RejectedFileError(self.path, f"cannot be read: {_short(error)}") from None

    def chunks(self, columns: list[str], chunk_rows: int = DEFAULT_CHUNK_ROWS):
        """Yield text DataFrames of ``columns`` indexed by 1-based data row number."""
        try:
            if self.is_parquet:
                yield from self._parquet_chunks(columns, chunk_rows)
            else:
                yield from self._csv_chunks(columns, chunk_rows)
        except UnicodeDecodeError as error:
            raise RejectedFileError(self.path, _decode_reason(error)) from None
        except _READ_ERRORS as error:
            raise RejectedFileError(self.path, f"cannot be read: {_short(error)}") from None

    def _csv_chunks(self, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
        start = 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            # no usecols: with it pandas accepts lines with too many fields silently
            reader = pd.read_csv(
                self.path,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding="utf-8-sig",
                chunksize=chunk_rows,
                on_bad_lines="warn",
            )
            with reader:
                for chunk in reader:
                    self._collect_bad_lines(caught)
                    chunk = chunk[columns]
                    chunk.index = pd.RangeIndex(start, start + len(chunk))
                    start += len(chunk)
                    yield chunk
            self._collect_bad_lines(caught)

    def _collect_bad_lines(self, caught: list[warnings.WarningMessage]) -> None:
        for warning in caught:
            for line in str(warning.message).splitlines():
                match = _BAD_LINE.search(line)
                if match:
                    self.bad_lines.append((int(match.group(1)), match.group(2).strip()))
        caught.clear()

    def _parquet_chunks(self, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        start = 1
        with pq.ParquetFile(self.path) as handle:
            for batch in handle.iter_batches(batch_size=chunk_rows, columns=columns):
                text = {}
                for name, column in zip(batch.schema.names, batch.columns, strict=True):
                    if pa.types.is_timestamp(column.type) and column.type.tz is None:
                        # a native timestamp without a zone is UTC, like CSV text
                        column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
                    as_text = (
                        column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
                    )
                    text[name] = pc.fill_null(as_text, "").to_pylist()
                chunk = pd.DataFrame(text, columns=columns, dtype=str)
                chunk.index = pd.RangeIndex(start, start + len(chunk))
                start += len(chunk)
                yield chunk


def _decode_reason(error: UnicodeDecodeError) -> str:
    return (
        f"not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start} "
        "of a block): re-export as UTF-8"
    )


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:200] or type(error).__name__


def find_tables(dataset: Path) -> tuple[dict[str, TableFile], list[str]]:
    """The table files of a dataset directory, and the names of files ingest ignores.

    Raises :class:`DatasetError` when the directory does not exist or has no
    ``accounts`` table, and when a table is present in more than one format.
    """
    if not dataset.is_dir():
        raise DatasetError(f"{dataset}: not a dataset directory")
    found: dict[str, TableFile] = {}
    ignored: list[str] = []
    for path in sorted(p for p in dataset.iterdir() if p.is_file()):
        name = path.name
        table = next((name[: -len(sfx)] for sfx in SUFFIXES if name.endswith(sfx)), None)
        if table not in TABLES:
            if name != "truth.csv" and not name.startswith("."):
                ignored.append(name)
            continue
        if table in found:
            raise DatasetError(
                f"{dataset}: table {table} is given twice ({found[table].path.name} and {name})"
            )
        found[table] = TableFile(table, path)
    if "accounts" not in found:
        raise DatasetError(
            f"{dataset}: no accounts table (accounts.csv, accounts.csv.gz or accounts.parquet)"
        )
    return {t: found[t] for t in TABLES if t in found}, ignored
