"""The managed Neo4j server, for real: it runs, answers Cypher, has APOC, refuses a
wrong password; and the CLI's error paths give one line and a non-zero exit."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError

from graphs.errors import Neo4jServerError
from scripts.neo4j_server import ManagedServer

pytestmark = pytest.mark.neo4j


def test_server_answers_return_1(driver, neo4j_settings):
    records, _, _ = driver.execute_query("RETURN 1 AS one", database_=neo4j_settings.database)
    assert records[0]["one"] == 1


def test_server_is_5_26_community(driver, neo4j_settings):
    records, _, _ = driver.execute_query(
        "CALL dbms.components() YIELD versions, edition RETURN versions[0] AS v, edition",
        database_=neo4j_settings.database,
    )
    assert records[0]["v"].startswith("5.26.")
    assert records[0]["edition"] == "community"


def test_apoc_is_present(driver, neo4j_settings):
    records, _, _ = driver.execute_query(
        "RETURN apoc.version() AS v, apoc.coll.sort([3, 1, 2]) AS s",
        database_=neo4j_settings.database,
    )
    assert records[0]["v"].startswith("5.26")
    assert records[0]["s"] == [1, 2, 3]


def test_wrong_password_is_refused(neo4j_settings):
    with (
        GraphDatabase.driver(neo4j_settings.uri, auth=("neo4j", "not-the-password")) as bad,
        pytest.raises(AuthError),
    ):
        bad.verify_connectivity()


def test_password_file_is_private(managed_server):
    if managed_server is None:
        pytest.skip("external server")
    assert managed_server.password_file.stat().st_mode & 0o077 == 0


def test_status_reports_running(managed_server):
    if managed_server is None:
        pytest.skip("external server")
    status = managed_server.status()
    assert status["state"] == "running"
    assert status["pid"] == str(managed_server.pid())
    assert status["uri"] == managed_server.uri


def test_start_refuses_a_taken_port(managed_server, tmp_path):
    if managed_server is None:
        pytest.skip("external server")
    other = ManagedServer(
        cache_dir=managed_server.cache_dir, data_dir=tmp_path / "other", port=managed_server.port
    )
    other.write_config()
    other.password_file.write_text("x\n")
    with pytest.raises(Neo4jServerError, match=f"port {managed_server.port} .* already taken"):
        other.start(timeout=5)


@pytest.fixture
def second_server(managed_server, tmp_path):
    """Factory: another managed instance on its own data dir and a free port (cached jars)."""
    if managed_server is None:
        pytest.skip("external server")

    def make(name: str, heap: str, pagecache: str) -> ManagedServer:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = ManagedServer(
            cache_dir=managed_server.cache_dir, data_dir=tmp_path / name, port=port,
            heap=heap, pagecache=pagecache,
        )  # fmt: skip
        server.install(progress=lambda _m: None)
        return server

    return make


def test_start_and_stop_a_second_instance(second_server):
    """Full lifecycle on its own data dir: install (cached jars), start, query, stop."""
    server = second_server("second", heap="512m", pagecache="128m")
    pid = server.start(timeout=180)
    try:
        with GraphDatabase.driver(server.uri, auth=("neo4j", server.password)) as drv:
            assert drv.execute_query("RETURN 2 AS two").records[0]["two"] == 2
    finally:
        assert server.stop()
    assert server.pid() is None
    assert server.status()["state"] == "stopped"
    assert pid > 0


def test_server_dying_at_start_is_reported_with_its_log(second_server):
    server = second_server("broken", heap="256m", pagecache="64m")
    server.heap = "0.5zb"  # the JVM refuses this heap size and exits at once
    with pytest.raises(Neo4jServerError, match=r"died at start .*last log lines: .*heap"):
        server.start(timeout=60)
    assert server.pid() is None


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def test_cli_without_java_gives_one_line(tmp_path):
    env = {"PATH": str(tmp_path), "RINGWATCH_NEO4J_DATA": str(tmp_path / "d"),
           "RINGWATCH_CACHE_DIR": str(tmp_path / "c"), "HOME": str(tmp_path)}  # fmt: skip
    result = _cli("neo4j", "install", env=env)
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        "ringwatch: error: Java 17 or later is required but `java` is not on PATH"
    ]


def test_cli_without_maven_gives_one_line(tmp_path):
    import shutil

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(shutil.which("java"))
    env = {"PATH": str(bin_dir), "RINGWATCH_NEO4J_DATA": str(tmp_path / "d"),
           "RINGWATCH_CACHE_DIR": str(tmp_path / "c"), "HOME": str(tmp_path)}  # fmt: skip
    result = _cli("neo4j", "install", env=env)
    assert result.returncode == 3
    assert "Maven (`mvn`) is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_start_before_install_gives_one_line(tmp_path):
    import os

    env = {**os.environ, "RINGWATCH_NEO4J_DATA": str(tmp_path / "d"),
           "RINGWATCH_CACHE_DIR": str(tmp_path / "c")}  # fmt: skip
    result = _cli("neo4j", "status", env=env)
    assert result.returncode == 1
    assert "not installed" in result.stdout


def test_cli_download_failure_gives_one_line(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    import shutil

    (bin_dir / "java").symlink_to(shutil.which("java"))
    fake_mvn = bin_dir / "mvn"
    fake_mvn.write_text(
        "#!/bin/sh\necho '[ERROR] Could not transfer artifact org.neo4j:neo4j'\nexit 1\n"
    )
    fake_mvn.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RINGWATCH_NEO4J_DATA": str(tmp_path / "d"),
           "RINGWATCH_CACHE_DIR": str(tmp_path / "c"), "HOME": str(tmp_path)}  # fmt: skip
    result = _cli("neo4j", "install", env=env)
    assert result.returncode == 3
    assert result.stderr.startswith("ringwatch: error: downloading Neo4j from Maven Central failed")
    assert "Could not transfer artifact" in result.stderr
