"""The bulk path's import files without Neo4j: bucketed spilling changes nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ingest import bulk
from ingest.read import find_tables
from tests.ingest.helpers import LOGIN_HEADER, write_dataset, write_table


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from ingest.synthetic import write_world

    out = tmp_path_factory.mktemp("world") / "w"
    write_world(out, n_accounts=300, seed=11, progress=False)
    return out


def _import_files(dataset: Path, work: Path, buckets: int, chunk_rows: int = 250_000):
    tables, _ = find_tables(dataset)
    spill = bulk.Spill(work / "spill", buckets)
    reports = bulk.prepare_into(tables, spill, workers=2, chunk_rows=chunk_rows)
    files = bulk.write_import_files(spill, work / "csv")
    return files, reports


def _rows(files: bulk.ImportFiles) -> dict[str, tuple[list[str], list[tuple[str, ...]]]]:
    """Each import file group's header and its rows (of all parts) in a canonical order."""
    out = {}
    for name, (_, _, paths) in files.groups.items():
        rows = []
        for path in paths:
            with path.open(newline="", encoding="utf-8") as handle:
                rows.extend(csv.reader(handle))
        out[name] = (rows[0], sorted(map(tuple, rows[1:])))
    return out


def test_buckets_and_chunks_give_the_same_import_files(world, tmp_path):
    one, _ = _import_files(world, tmp_path / "one", buckets=1)
    many, _ = _import_files(world, tmp_path / "many", buckets=7, chunk_rows=1_000)
    assert one.rows == many.rows > 0
    expected = _rows(one)
    assert set(expected) >= {"accounts", "used_ip", "ips", "subnets"}
    assert _rows(many) == expected
    # one argument per group, its header first and then one part per bucket that has rows
    kinds = [arg.split("=", 2)[:2] for arg in one.args]
    assert kinds == [arg.split("=", 2)[:2] for arg in many.args]
    accounts = next(arg for arg in many.args if arg.startswith("--nodes=Account="))
    paths = accounts.split("=", 2)[2].split(",")
    assert paths[0].endswith("accounts.header.csv") and len(paths) == 1 + 7


def test_a_file_rejected_midway_leaves_nothing_in_the_import(tmp_path):
    dataset = write_dataset(tmp_path / "d", payments=None, requests=None, labels=None)
    # ~1 MB of good rows before the bad byte: several chunks are spilled before it
    good = [("00123", "2026-03-02T10:00:00Z", "10.9.9.9", "dX", "UA-Z", "true")] * 20_000
    write_table(dataset, "logins", LOGIN_HEADER, good)
    with (dataset / "logins.csv").open("ab") as handle:
        handle.write(b"a2,2026-03-02T10:00:00Z,10.0.0.1,d\xff,UA,true\n")  # not UTF-8
    files, reports = _import_files(dataset, tmp_path / "w", buckets=3, chunk_rows=1_000)
    logins = next(r for r in reports if r.table == "logins")
    assert logins.status == "rejected"
    rows = _rows(files)
    assert "used_ip" not in rows and "used_device" not in rows
    assert all("10.9.9.9" not in row for row in rows["ips"][1])
    assert len(rows["accounts"][1]) == 3
