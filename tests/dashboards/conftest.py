"""Fixtures of the dashboard tests: graphs in the test Neo4j, the dashboard served by the
real ``ringwatch dashboard`` command, and headless Chromium.

Two graphs: ``pipeline_graph`` is what production shows, a tiny ``ingest.synthetic``
world loaded by ingest's ``ingest_dataset`` with rings from detection's ``detect_graph``
write-back (the browser tests run on it); ``sample_graph`` is
:func:`dashboards.sample.sample_world`, whose every ring and member a test can predict
(the query tests run on it). Screenshots go to ``artifacts/screenshots/`` (gitignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboards.sample import sample_world, write_sample

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TEST_USER = "tester"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PIPELINE_ACCOUNTS = 1500  # about 50 s of generate + ingest + detect; five rings
PIPELINE_SEED = 3


def _empty(driver, database: str) -> None:
    with driver.session(database=database) as session:  # batched: the graph may be big
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS").consume()


@pytest.fixture(scope="module")
def sample_graph(driver, neo4j_settings):
    """The test database holding a fresh sample ring graph (for this module's tests)."""
    database = neo4j_settings.database
    _empty(driver, database)
    world = sample_world(rings=24, background=120, seed=5)
    write_sample(driver, database, world)
    return world


@pytest.fixture(scope="module")
def pipeline_graph(driver, neo4j_settings, tmp_path_factory):
    """The test database holding a tiny synthetic world as ingest and detection write it;
    returns detection's result (``rings`` with ids, members and scores)."""
    from ingest import synthetic
    from ingest.job import ingest_dataset
    from scripts.detect_job import detect_graph

    database = neo4j_settings.database
    _empty(driver, database)
    world = tmp_path_factory.mktemp("pipeline") / "world"
    synthetic.write_world(world, n_accounts=PIPELINE_ACCOUNTS, seed=PIPELINE_SEED)
    ingest_dataset(driver, database, world, progress=False)
    result = detect_graph(driver, database)
    if len(result.rings) < 3:
        pytest.fail(f"the pipeline world has {len(result.rings)} rings; the tests need 3+")
    return result


@pytest.fixture(scope="module")
def dashboard_url(pipeline_graph, neo4j_settings, tmp_path_factory):
    """``ringwatch dashboard`` serving the pipeline graph on a free loopback port."""
    port = _free_port()
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_settings.uri,
        "NEO4J_USER": neo4j_settings.user,
        "NEO4J_PASSWORD": neo4j_settings.password,
        "NEO4J_DATABASE": neo4j_settings.database,
    }
    env.pop("RINGWATCH_DASHBOARD_USERS", None)
    log_path = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    command = [sys.executable, "-m", "scripts.cli", "dashboard", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--user", TEST_USER], cwd=REPO, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the dashboard did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def browser():
    """Headless system Chromium driven by Playwright (its own browser download is not used)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("RINGWATCH_CHROMIUM") or shutil.which("chromium")
    if not executable:
        pytest.fail("no chromium on PATH: run scripts/bootstrap.sh (installs Debian's chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser page; its last state is saved as a screenshot whatever happens."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"last-{request.node.name}.png", full_page=True)
        context.close()


def screenshot(page, name: str) -> Path:
    """Save a named full-page screenshot into artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
