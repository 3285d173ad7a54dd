"""The ingest job against the real server: idempotent, incremental, crash-safe, literal
ids, run records, the snapshot reader and the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ingest import snapshot_io
from ingest.job import ingest_dataset
from ingest.prepare import snapshot_from_dataset
from ingest.snapshot_io import read_snapshot
from tests.ingest.helpers import (
    ACCOUNT_HEADER,
    LOGIN_HEADER,
    REQUEST_HEADER,
    graph_dump,
    write_dataset,
)

pytestmark = pytest.mark.neo4j
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    from ingest.synthetic import write_world

    out = tmp_path_factory.mktemp("world") / "w"
    write_world(out, n_accounts=400, seed=7, progress=False)
    return out


def _ingest(driver, db, path, **kw):
    return ingest_dataset(driver, db, path, progress=False, **kw)


def _count(driver, db, query):
    records, _, _ = driver.execute_query(query, database_=db)
    return records[0][0]


def test_ingesting_twice_leaves_the_graph_as_after_once(empty_db, neo4j_settings, tmp_path):
    db = neo4j_settings.database
    dataset = write_dataset(tmp_path / "d")
    first = _ingest(empty_db, db, dataset)
    once = graph_dump(empty_db, db)
    second = _ingest(empty_db, db, dataset)
    assert graph_dump(empty_db, db) == once
    assert first.rows_loaded > 0
    assert {f.status for f in second.files} == {"skipped"}


def test_next_night_adds_nodes_and_updates_edges(empty_db, neo4j_settings, tmp_path):
    db = neo4j_settings.database
    _ingest(empty_db, db, write_dataset(tmp_path / "n1"))
    new_account = ("a4", "2026-03-09T08:00:00Z", "", "", "DE", "10.0.0.1", "", "")
    night2 = write_dataset(
        tmp_path / "n2",
        accounts=(ACCOUNT_HEADER, [new_account]),
        logins=(
            LOGIN_HEADER,
            [
                ("a2", "2026-03-09T10:00:00Z", "10.0.0.1", "", "UA-1", "true"),
                ("a4", "2026-03-09T11:00:00Z", "10.0.0.1", "", "UA-1", "true"),
            ],
        ),
        payments=None,
        requests=(
            REQUEST_HEADER,
            [("2026-03-09T00:00:00Z", "60", "198.51.100.1", "bot/1.0", "", "", "7", "", "")],
        ),
        labels=None,
    )
    report = _ingest(empty_db, db, night2)
    assert not report.rejected, report.details()
    records, _, _ = empty_db.execute_query(
        "MATCH (a:Account {account_id: 'a2'})-[r:USED_IP]->(:IP {ip: '10.0.0.1'}) "
        "RETURN r.count AS count, r.logins AS logins, toString(r.first_seen) AS first, "
        "toString(r.last_seen) AS last",
        database_=db,
    )
    edge = records[0]
    assert (edge["count"], edge["logins"]) == (2, 2)
    assert edge["first"].startswith("2026-03-03T10:00")
    assert edge["last"].startswith("2026-03-09T10:00")
    assert _count(empty_db, db, "MATCH (:IP {ip: '10.0.0.1'})<-[:USED_IP]-(a) RETURN count(a)") == 2
    records, _, _ = empty_db.execute_query(
        "MATCH (i:IP {ip: '198.51.100.1'}) RETURN size(i.win_start) AS n", database_=db
    )
    assert records[0]["n"] == 3  # two windows from night 1 and one from night 2
    assert _count(empty_db, db, "MATCH (a:Account) RETURN count(a)") == 4


def test_cypher_looking_ids_are_stored_literally(empty_db, neo4j_settings, tmp_path):
    db = neo4j_settings.database
    evil = 'x"}) DETACH DELETE n //'
    evil_ua = "UA') MATCH (n) DETACH DELETE n //"
    accounts = [(evil, "2026-03-01", "", "", "", "", "d'1", "")]
    logins = [(evil, "2026-03-02", "10.0.0.1", "d'1", evil_ua, "true")]
    dataset = write_dataset(
        tmp_path / "d",
        accounts=(ACCOUNT_HEADER, accounts),
        logins=(LOGIN_HEADER, logins),
        payments=None,
        requests=None,
        labels=None,
    )
    _ingest(empty_db, db, dataset)
    records, _, _ = empty_db.execute_query(
        "MATCH (a:Account)-[:USED_UA]->(u:UserAgent) RETURN a.account_id AS id, u.ua AS ua",
        database_=db,
    )
    assert [(r["id"], r["ua"]) for r in records] == [(evil, evil_ua)]
    assert _count(empty_db, db, "MATCH (n) RETURN count(n)") > 3


def test_run_record_counts_files_and_rows(empty_db, neo4j_settings, tmp_path):
    db = neo4j_settings.database
    bad_login = ("nobody", "2026-03-02T10:00:00Z", "10.0.0.1", "", "", "")
    dataset = write_dataset(tmp_path / "d")
    with (dataset / "logins.csv").open("a") as handle:
        handle.write(",".join(bad_login) + "\n")
    report = _ingest(empty_db, db, dataset, quarantine_dir=tmp_path / "q")
    assert report.rejected and report.rows_quarantined == 1
    records, _, _ = empty_db.execute_query(
        "MATCH (r:IngestRun {run_id: $id}) RETURN r", id=report.run_id, database_=db
    )
    run = records[0]["r"]
    assert run["status"] == "completed"
    assert run["tables"] == ["accounts", "logins", "payments", "requests", "labels"]
    assert len(run["hashes"]) == 5 and all(len(h) == 64 for h in run["hashes"])
    assert run["rows_quarantined"][1] == 1
    assert run["rows_read"][1] == run["rows_loaded"][1] + 1
    assert len(run["completed"]) == 5
    assert Path(report.files[1].quarantine_file).exists()


def _canonical(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


@pytest.mark.parametrize("reading", ["collected", "apoc-csv", "records"])
def test_read_snapshot_matches_the_snapshot_built_without_neo4j(
    empty_db, neo4j_settings, small_world, monkeypatch, reading
):
    # every way of reading: columns as lists (with the accounts through APOC, as read_snapshot
    # does), every query through APOC's CSV stream (lists as JSON text), or plain records
    if reading != "collected":
        way = {"apoc-csv": "_apoc_columns", "records": "_record_columns"}[reading]
        monkeypatch.setattr(snapshot_io._Reader, "columns", getattr(snapshot_io._Reader, way))
    db = neo4j_settings.database
    _ingest(empty_db, db, small_world)
    got = read_snapshot(empty_db, db)
    expected = snapshot_from_dataset(small_world)
    # the windows of both kinds of client are compared (account windows come as lists)
    assert set(got.windows["client_kind"]) == {"account", "ip"}
    pd.testing.assert_frame_equal(
        _canonical(got.accounts, ["account_id"]), _canonical(expected.accounts, ["account_id"])
    )
    keys = ["account_id", "kind", "key"]
    pd.testing.assert_frame_equal(
        _canonical(got.links, keys), _canonical(expected.links, keys), check_exact=False
    )
    pd.testing.assert_frame_equal(
        _canonical(got.ip_subnets, ["ip"]), _canonical(expected.ip_subnets, ["ip"])
    )
    wkeys = ["client_kind", "client_id", "ip", "user_agent", "window_start"]
    pd.testing.assert_frame_equal(
        _canonical(got.windows, wkeys), _canonical(expected.windows, wkeys)
    )


def _ingest_process(settings, dataset: Path, batch_size: int) -> subprocess.Popen:
    code = (
        "import sys; from neo4j import GraphDatabase; from ingest.job import ingest_dataset\n"
        "d = GraphDatabase.driver(sys.argv[1], auth=('neo4j', sys.argv[2]))\n"
        "ingest_dataset(d, sys.argv[3], sys.argv[4], batch_size=int(sys.argv[5]),"
        " progress=False)\n"
    )
    args = [settings.uri, settings.password, settings.database, str(dataset), str(batch_size)]
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO)


def test_a_killed_ingest_rerun_gives_the_clean_graph(empty_db, neo4j_settings, small_world):
    db = neo4j_settings.database
    _ingest(empty_db, db, small_world)
    clean = graph_dump(empty_db, db)
    empty_db.execute_query("MATCH (n) DETACH DELETE n", database_=db)

    process = _ingest_process(neo4j_settings, small_world, batch_size=50)
    deadline = time.monotonic() + 300
    # kill once the first file is done and the second one is part-written
    query = (
        "MATCH (r:IngestRun) WITH size(r.completed) AS done "
        "MATCH ()-[u:USED_IP]->() RETURN done, count(u) AS used"
    )
    while time.monotonic() < deadline and process.poll() is None:
        records, _, _ = empty_db.execute_query(query, database_=db)
        if records and records[0]["done"] >= 1 and records[0]["used"] > 0:
            break
        time.sleep(0.05)
    assert process.poll() is None, "ingest finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert graph_dump(empty_db, db) != clean

    report = _ingest(empty_db, db, small_world)
    assert report.files[0].status == "skipped"
    assert graph_dump(empty_db, db) == clean


def test_cli_exits_non_zero_and_says_how_much_was_rejected(empty_db, neo4j_settings, tmp_path):
    dataset = write_dataset(tmp_path / "d")
    (dataset / "labels.csv").write_bytes(b"")
    with (dataset / "logins.csv").open("a") as handle:
        handle.write("ghost,2026-03-02T10:00:00Z,10.0.0.1,,,\n")
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_settings.uri,
        "NEO4J_PASSWORD": neo4j_settings.password,
        "NEO4J_DATABASE": neo4j_settings.database,
    }
    result = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "ingest", str(dataset),
         "--quarantine-dir", str(tmp_path / "q")],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "1 rows quarantined" in result.stdout
    assert "1 files rejected" in result.stdout
    assert "labels.csv (empty file" in result.stdout
    assert "Traceback" not in result.stderr
    assert "ringwatch: error: 1 rows quarantined and 1 files rejected" in result.stderr


@pytest.fixture(scope="module")
def bulk_server(managed_server, tmp_path_factory):
    """A second managed server of its own: the offline import resets the database's
    transaction ids, which the session driver's bookmarks would then wait for."""
    if managed_server is None:
        pytest.skip("--bulk needs the managed server")
    import socket

    from scripts.neo4j_server import ManagedServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ManagedServer(
        cache_dir=managed_server.cache_dir,
        data_dir=tmp_path_factory.mktemp("bulk-neo4j"),
        port=port,
        heap="1g",
        pagecache="256m",
    )
    server.install(progress=lambda _msg: None)
    server.start(timeout=300)
    try:
        yield server
    finally:
        server.stop()


def _fresh_driver(server):
    from neo4j import GraphDatabase

    return GraphDatabase.driver(server.uri, auth=("neo4j", server.password))


def test_bulk_import_gives_the_same_graph_as_the_online_path(bulk_server, small_world):
    from ingest.bulk import bulk_ingest

    db = "neo4j"
    with _fresh_driver(bulk_server) as driver:
        _ingest(driver, db, small_world)
        online = graph_dump(driver, db)
        driver.execute_query("MATCH (n) DETACH DELETE n", database_=db)
    report = bulk_ingest(bulk_server, db, small_world)
    assert report.mode == "bulk" and report.rows_written > 0
    with _fresh_driver(bulk_server) as driver:
        assert graph_dump(driver, db) == online
        # the bulk run recorded its files: the same dataset online is now a no-op
        again = _ingest(driver, db, small_world)
        assert {f.status for f in again.files} == {"skipped"}
        assert graph_dump(driver, db) == online


def test_bulk_refuses_a_database_that_has_nodes(bulk_server):
    from graphs.errors import ConfigError
    from ingest.bulk import bulk_ingest

    with _fresh_driver(bulk_server) as driver:
        driver.execute_query("MERGE (:Account {account_id: 'x'})", database_="neo4j")
    with pytest.raises(ConfigError, match="only into an empty database"):
        bulk_ingest(bulk_server, "neo4j", Path("/nonexistent"))


def test_cli_bulk_refuses_a_server_that_is_not_managed(tmp_path):
    env = {**os.environ, "NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_PASSWORD": "x"}
    result = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "ingest", str(tmp_path), "--bulk"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--bulk works only with the managed local server" in result.stderr
