"""Writer helpers without a server: batches for concurrent workers and the parameter
rows made from aggregated frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ingest.prepare import combine_files, prepare_dataset
from ingest.writer import _batches, records, rows_to_write
from tests.ingest.helpers import write_dataset


def test_batches_cover_every_row_once_and_keep_a_target_in_one_partition():
    frame = pd.DataFrame(
        {"account_id": [f"a{i}" for i in range(100)], "key": [f"ip{i % 7}" for i in range(100)]}
    )
    batches = _batches(frame, batch_size=10, workers=2)
    positions = np.concatenate(batches)
    assert sorted(positions.tolist()) == list(range(100))
    assert all(len(b) <= 10 for b in batches)
    # each batch holds the targets of one partition only: two concurrent batches never
    # write to the same (possibly dense) target node
    hashes = pd.util.hash_array(frame["key"].to_numpy(object)) % 2
    part = dict(zip(frame["key"], hashes, strict=True))
    for batch in batches:
        assert len({part[key] for key in frame["key"].iloc[batch]}) == 1


def test_ip_rows_keep_a_subnet_in_one_partition_and_small_steps_use_every_worker():
    ips = [f"10.0.{i % 5}.{i}" for i in range(40)]
    frame = pd.DataFrame({"ip": ips, "subnet": [f"10.0.{i % 5}.0/24" for i in range(40)]})
    batches = _batches(frame, batch_size=10_000, workers=2, partition="subnet")
    assert sorted(np.concatenate(batches).tolist()) == list(range(40))
    # fewer rows than one batch are still shared by the workers (batches of about n / 2)
    assert len(batches) >= 2 and all(len(b) <= 20 for b in batches)
    # a subnet's rows are all in one partition: batches of the two partitions (which run
    # concurrently) never merge IN_SUBNET edges into the same subnet
    hashes = pd.util.hash_array(frame["subnet"].to_numpy(object)) % 2
    part = dict(zip(frame["subnet"], hashes, strict=True))
    for batch in batches:
        assert len({part[s] for s in frame["subnet"].iloc[batch]}) == 1


def test_one_worker_keeps_the_order():
    frame = pd.DataFrame({"account_id": list("abcde")})
    assert [b.tolist() for b in _batches(frame, 2, 1)] == [[0, 1], [2, 3], [4]]


def test_records_are_plain_parameters():
    frame = pd.DataFrame(
        {
            "id": pd.Series(["00123", None], dtype="str"),
            "ts": pd.to_datetime(["2026-03-01T10:00:00.123Z", None], utc=True),
            "n": [1, 2],
        }
    )
    assert records(frame) == [
        {"id": "00123", "ts": 1772359200123, "n": 1},
        {"id": None, "ts": None, "n": 2},
    ]


def test_steps_write_nodes_before_edges(tmp_path):
    prepared = prepare_dataset(write_dataset(tmp_path / "d")).files
    names = [step.name for step in rows_to_write(prepared[0])]
    assert names.index("Account") < names.index("HAS_EMAIL")
    assert names.index("Email") < names.index("HAS_EMAIL")


def test_combined_edges_carry_the_hash_of_the_last_file(tmp_path):
    files = prepare_dataset(write_dataset(tmp_path / "d")).files
    combined = combine_files(files)
    hashes = {f.report.table: f.report.sha256 for f in files}
    used_ip = combined["USED_IP"].set_index(["account_id", "key"])["last_run"]
    assert used_ip[("00123", "203.0.113.7")] == hashes["requests"]  # logins, then requests
    assert used_ip[("a2", "10.0.0.1")] == hashes["logins"]
