"""Shared fixtures: a real Neo4j server for the integration tests.

The session starts one managed server (the same code path as ``ringwatch neo4j start``)
in a throw-away data directory on a free port, and stops it when the session ends, also
when tests fail. ``RINGWATCH_TEST_NEO4J_URI`` / ``RINGWATCH_TEST_NEO4J_PASSWORD`` point
the tests at an existing server instead. The tests empty its database, so they never
take the ``NEO4J_URI`` that every ringwatch command uses: a shell set up for a real
graph would otherwise lose it to ``pytest``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from scripts.settings import Neo4jSettings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


#: An existing server for the tests (they delete every node of its database).
TEST_URI = "RINGWATCH_TEST_NEO4J_URI"
# Nothing in the tests may reach a server of the shell that runs them: commands called
# in-process find Neo4j through these (scripts/settings.py).
for _name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE",
              "RINGWATCH_NEO4J_DATA", "RINGWATCH_NEO4J_PORT"):  # fmt: skip
    os.environ.pop(_name, None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def managed_server(tmp_path_factory: pytest.TempPathFactory):
    """A managed server started for this session, or None with ``TEST_URI`` set."""
    if os.environ.get(TEST_URI):
        yield None
        return
    from scripts.neo4j_server import ManagedServer

    server = ManagedServer.from_settings(
        data_dir=tmp_path_factory.mktemp("neo4j"), port=_free_port(), heap="1g", pagecache="512m"
    )
    server.install(progress=lambda _msg: None)
    server.start(timeout=180)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def neo4j_settings(managed_server) -> Neo4jSettings:
    """Settings of the running real Neo4j server for this test session."""
    if managed_server is None:
        return Neo4jSettings(
            uri=os.environ[TEST_URI],
            user=os.environ.get("RINGWATCH_TEST_NEO4J_USER", "neo4j"),
            password=os.environ["RINGWATCH_TEST_NEO4J_PASSWORD"],
            database=os.environ.get("RINGWATCH_TEST_NEO4J_DATABASE", "neo4j"),
            source="env",
        )
    return Neo4jSettings(uri=managed_server.uri, user="neo4j", password=managed_server.password)


@pytest.fixture(scope="session")
def driver(neo4j_settings: Neo4jSettings):
    from neo4j import GraphDatabase

    with GraphDatabase.driver(
        neo4j_settings.uri, auth=(neo4j_settings.user, neo4j_settings.password)
    ) as drv:
        yield drv


@pytest.fixture
def empty_db(driver, neo4j_settings: Neo4jSettings):
    """The test database, emptied of nodes before the test (constraints are kept).

    Deleted in batches (an auto-commit transaction running ``CALL ... IN TRANSACTIONS``), so
    a large graph left by an earlier test never needs one huge transaction.
    """
    with driver.session(database=neo4j_settings.database) as session:
        session.run(
            "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()
    return driver
