"""The dashboard in a real browser: headless system Chromium, driven by Playwright, against
``ringwatch dashboard`` serving a tiny synthetic world as ingest and detection wrote it
into the real test Neo4j. Expectations are read from Neo4j with plain Cypher."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

from dashboards import queries, views
from graphs.model import Prop
from tests.dashboards.conftest import TEST_USER, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.neo4j]

#: The cytoscape.js instance behind the ring view's graph.
CY = "document.getElementById('ring-graph')._cyreg.cy"


def _rows(driver, neo4j_settings, query: str, **params) -> list[dict]:
    records, _, _ = driver.execute_query(query, params, database_=neo4j_settings.database)
    return [record.data() for record in records]


def _open_rings(driver, neo4j_settings) -> list[dict]:
    return _rows(
        driver,
        neo4j_settings,
        "MATCH (r:Ring) WHERE r.status = 'open' "
        "RETURN r.ring_id AS id, r.score AS score, COUNT { (r)<-[:MEMBER_OF]-() } AS size "
        "ORDER BY r.score DESC",
    )


def _wait_for_sizes(page, expected: list[int]) -> None:
    """Wait until the queue's size column reads ``expected``, top to bottom."""
    page.wait_for_function(
        """expected => JSON.stringify(
              [...document.querySelectorAll('#queue-table td[data-dash-column="size"]')]
              .map(td => +td.innerText)) === JSON.stringify(expected)""",
        arg=expected,
    )


def _wait_for_nodes(page, graph_id: str = "ring-graph", more_than: int = 0) -> None:
    """Wait until the cytoscape graph ``graph_id`` exists and has more than N nodes."""
    page.wait_for_function(
        """([id, n]) => { const el = document.getElementById(id);
                         return !!(el && el._cyreg && el._cyreg.cy.nodes().length > n); }""",
        arg=[graph_id, more_than],
    )


def _tap(page, node_id: str) -> None:
    """Tap a graph node as a click would (returning nothing: Playwright would otherwise
    serialise the whole cytoscape collection that ``emit`` returns)."""
    page.evaluate(f"id => {{ {CY}.getElementById(id).emit('tap'); }}", node_id)


def _open_ring_page(page, url: str, ring_id: str) -> None:
    page.goto(f"{url}/ring/{quote(ring_id)}")
    page.wait_for_selector("#ring-graph")
    _wait_for_nodes(page)


def _graph_node_ids(page) -> set[str]:
    return set(page.evaluate(f"() => {CY}.nodes().map(n => n.id())"))


def _expected_elements(driver, neo4j_settings, ring_id: str) -> list[dict]:
    data = queries.ring_graph_data(driver, neo4j_settings.database, ring_id)
    return views.ring_elements(data.members, data.identifiers)


def test_queue_loads_open_rings_by_score_and_sorts(page, dashboard_url, driver, neo4j_settings):
    open_rings = _open_rings(driver, neo4j_settings)
    page.goto(dashboard_url + "/")
    page.wait_for_selector('#queue-table td[data-dash-column="score"]')
    assert page.locator("#queue-count").inner_text().startswith(f"{len(open_rings):,} rings match")
    ids = page.locator('td[data-dash-column="ring_id"]').all_inner_texts()
    assert ids == [r["id"] for r in open_rings][:25]
    scores = [float(t) for t in page.locator('td[data-dash-column="score"]').all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    assert set(page.locator('td[data-dash-column="status"]').all_inner_texts()) == {"open"}
    screenshot(page, "queue")

    sort = page.locator('th[data-dash-column="size"] .column-header--sort')
    sort.click()  # ascending
    _wait_for_sizes(page, sorted(r["size"] for r in open_rings)[:25])
    sort.click()  # descending
    _wait_for_sizes(page, sorted((r["size"] for r in open_rings), reverse=True)[:25])
    screenshot(page, "queue-sorted-by-size")
    assert page.errors == []


def test_opening_a_ring_shows_its_graph(page, dashboard_url, driver, neo4j_settings):
    page.goto(dashboard_url + "/")
    first = page.locator('td[data-dash-column="ring_id"] a').first
    ring_id = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(f"/ring/{ring_id}$"))
    _wait_for_nodes(page)

    expected = _expected_elements(driver, neo4j_settings, ring_id)
    assert _graph_node_ids(page) == {e["data"]["id"] for e in expected if "source" not in e["data"]}
    data = queries.ring_graph_data(driver, neo4j_settings.database, ring_id)
    members = {f"{m['label']}:{m['key']}" for m in data.members}
    assert members <= _graph_node_ids(page)
    assert len(_graph_node_ids(page) - members) > 0  # the identifiers they share
    assert page.locator("h2").first.inner_text() == f"Ring {ring_id}"
    rows = page.locator('#ring-members td[data-dash-column="link"]').all_inner_texts()
    assert sorted(rows) == sorted(m["key"] for m in data.members)[:25]
    screenshot(page, "ring")

    with page.expect_download() as download:
        page.click("#ring-export")
    assert download.value.suggested_filename == f"{ring_id}-members.csv"
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "type,id,risk_score,created_at,status,country,email,label,reasons"
    assert sorted(line.split(",")[1] for line in lines[1:]) == sorted(
        m["key"] for m in data.members
    )
    assert page.errors == []


def test_ring_node_details_and_expanding_more(page, dashboard_url, driver, neo4j_settings):
    rings = _rows(driver, neo4j_settings, "MATCH (r:Ring) RETURN r.ring_id AS id")
    ring_id, more = next(
        (r["id"], nodes)
        for r in rings
        if (
            nodes := [
                e["data"]["id"]
                for e in _expected_elements(driver, neo4j_settings, r["id"])
                if e["data"].get("what") == "outside"
            ]
        )
    )
    _open_ring_page(page, dashboard_url, ring_id)
    before = _graph_node_ids(page)
    member = sorted(n for n in before if not n.startswith("more:"))[0]
    _tap(page, member)
    page.wait_for_selector("#ring-details a")
    assert "type" in page.locator("#ring-details").inner_text()

    _tap(page, more[0])
    _wait_for_nodes(page, more_than=len(before))
    assert len(_graph_node_ids(page) - before) >= 1
    screenshot(page, "ring-expanded")
    assert page.errors == []


def test_setting_a_case_status_persists_and_shows_after_reload(
    page, dashboard_url, driver, neo4j_settings
):
    ring_id = _open_rings(driver, neo4j_settings)[-1]["id"]
    _open_ring_page(page, dashboard_url, ring_id)
    page.click("#ring-case-status")
    page.get_by_role("option", name="confirmed").click()
    page.fill("#ring-case-assignee", "ann")
    page.fill("#ring-case-note", "same card on 6 accounts")
    page.click("#ring-case-save")
    page.wait_for_function(
        "() => document.getElementById('ring-case-message').innerText.startsWith('Saved')"
    )

    ring = _rows(
        driver, neo4j_settings, "MATCH (r:Ring {ring_id: $id}) RETURN r{.*} AS ring", id=ring_id
    )[0]["ring"]
    assert ring[Prop.STATUS] == "confirmed"
    assert ring[Prop.ASSIGNEE] == "ann"
    assert ring[Prop.NOTE] == "same card on 6 accounts"
    assert ring[Prop.STATUS_BY] == TEST_USER
    assert ring[Prop.STATUS_AT] is not None

    page.reload()
    page.wait_for_selector("#ring-case-message")
    assert page.locator("#ring-case-status").inner_text().strip() == "confirmed"
    assert page.input_value("#ring-case-assignee") == "ann"
    message = page.locator("#ring-case-message").inner_text()
    assert message.startswith(f"confirmed by {TEST_USER} at ")
    screenshot(page, "ring-case-saved")

    page.goto(dashboard_url + "/cases")
    page.wait_for_selector("#cases-table td")
    assert ring_id in page.locator("#cases-table").inner_text()
    screenshot(page, "my-cases")
    assert page.errors == []


def _choose(page, status: str) -> None:
    page.click("#ring-case-status")
    page.get_by_role("option", name=status, exact=True).click()


def _history(page) -> list[list[str]]:
    """The case history table's rows as cell texts (when, by, status, assignee, note)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#ring-case-history tbody tr')]
                 .map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))
                 .filter(cells => cells.length)"""
    )


def test_case_history_shows_every_decision_newest_first_after_reload(
    page, dashboard_url, driver, neo4j_settings
):
    ring_id = _open_rings(driver, neo4j_settings)[0]["id"]
    _open_ring_page(page, dashboard_url, ring_id)
    assert _history(page) == []
    for status, assignee, note in (
        ("in_progress", "ann", "looking at the cards"),
        ("dismissed", "bo", "a family sharing one laptop"),
    ):
        _choose(page, status)
        page.fill("#ring-case-assignee", assignee)
        page.fill("#ring-case-note", note)
        page.click("#ring-case-save")
        page.wait_for_function(
            "s => document.getElementById('ring-case-message').innerText.startsWith('Saved. ' + s)",
            arg=status,
        )

    stored = _rows(
        driver,
        neo4j_settings,
        "MATCH (:Ring {ring_id: $id})-[:HAS_DECISION]->(d:CaseDecision) "
        "RETURN d.status AS status, d.decided_by AS by ORDER BY d.decided_at DESC",
        id=ring_id,
    )
    assert stored == [
        {"status": "dismissed", "by": TEST_USER},
        {"status": "in_progress", "by": TEST_USER},
    ]

    page.reload()
    page.wait_for_selector("#ring-case-history tbody td")
    rows = _history(page)
    assert [row[1:] for row in rows] == [
        [TEST_USER, "dismissed", "bo", "a family sharing one laptop"],
        [TEST_USER, "in_progress", "ann", "looking at the cards"],
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row[0]) for row in rows)
    assert page.locator("#ring-case-status").inner_text().strip() == "dismissed"
    page.locator("#ring-case-history").scroll_into_view_if_needed()
    screenshot(page, "ring-case-history")
    assert page.errors == []


def test_an_account_page_shows_its_risk_and_reasons(page, dashboard_url, driver, neo4j_settings):
    row = _rows(
        driver,
        neo4j_settings,
        "MATCH (a:Account)-[:MEMBER_OF]->(r:Ring {kind: 'fake_account'}) "
        "WHERE a.reasons IS NOT NULL "
        "RETURN a.account_id AS id, a.risk_score AS risk, a.reasons AS reasons "
        "ORDER BY a.risk_score DESC, id LIMIT 1",
    )[0]
    page.goto(f"{dashboard_url}/account/{quote(row['id'])}")
    page.wait_for_selector("#account-reasons li")
    assert page.locator(".rw-risk").inner_text().strip() == f"{row['risk']:.3f}"
    shown = page.locator("#account-reasons li").all_inner_texts()
    assert shown == row["reasons"]
    assert re.fullmatch(
        r"member of fake_account ring R-\w+ \(score \d\.\d{3}, \d+ accounts\).*", shown[0]
    )
    assert page.locator("#account-rings li").count() >= 1
    page.wait_for_selector("#account-timeline .main-svg")
    screenshot(page, "account-reasons")
    assert page.errors == []


def test_cypher_page_refuses_a_write_and_changes_nothing(
    page, dashboard_url, driver, neo4j_settings
):
    state = "MATCH (n) RETURN count(n) AS n, collect(DISTINCT n.status) AS statuses"
    before = _rows(driver, neo4j_settings, state)
    page.goto(dashboard_url + "/cypher")
    page.wait_for_selector("#cypher-text")
    page.fill("#cypher-text", "MATCH (r:Ring) SET r.status = 'dismissed' RETURN count(r)")
    page.fill("#cypher-json", "")
    page.click("#cypher-run")
    page.wait_for_selector("#cypher-message .rw-error")
    message = page.locator("#cypher-message").inner_text()
    assert message.startswith("Refused: this query would change the database")
    assert "nothing was changed" in message
    assert _rows(driver, neo4j_settings, state) == before
    screenshot(page, "cypher-refused")

    page.fill("#cypher-text", "MATCH (r:Ring)<-[m:MEMBER_OF]-(a) RETURN r, m, a LIMIT 5")
    page.click("#cypher-run")
    page.wait_for_function(
        "() => document.getElementById('cypher-message').innerText.startsWith('5 rows')"
    )
    assert page.locator("#cypher-table td").count() == 15
    _wait_for_nodes(page, "cypher-graph")
    screenshot(page, "cypher-graph")
    assert page.errors == []


def test_cypher_page_runs_a_saved_query_with_its_parameter_form(
    page, dashboard_url, driver, neo4j_settings
):
    a, b = _rows(
        driver,
        neo4j_settings,
        "MATCH (r:Ring {kind: 'fake_account'})<-[:MEMBER_OF]-(a:Account) "
        "WITH r, collect(a.account_id) AS ids ORDER BY r.score DESC LIMIT 1 "
        "RETURN ids[0] AS a, ids[1] AS b",
    )[0].values()
    page.goto(dashboard_url + "/cypher?name=shared_identifiers")
    page.wait_for_selector("#cypher-form input")
    assert "MATCH" in page.input_value("#cypher-text")
    page.fill('[id*="\\"name\\":\\"a\\""]', a)
    page.fill('[id*="\\"name\\":\\"b\\""]', b)
    page.click("#cypher-run")
    page.wait_for_function(
        "() => / rows/.test(document.getElementById('cypher-message').innerText)"
    )
    assert page.locator('#cypher-table td[data-dash-column="kind"]').count() >= 1
    screenshot(page, "cypher-saved-query")

    page.fill('[id*="\\"name\\":\\"b\\""]', "")
    page.click("#cypher-run")
    page.wait_for_selector("#cypher-message .rw-error")
    assert "parameter b is required" in page.locator("#cypher-message").inner_text()
    assert page.errors == []


def test_search_finds_an_account_by_its_canonical_email(
    page, dashboard_url, driver, neo4j_settings
):
    account_id, email = _rows(
        driver,
        neo4j_settings,
        "MATCH (a:Account)-[:MEMBER_OF]->(r:Ring) WHERE a.email IS NOT NULL "
        "RETURN a.account_id AS id, a.email AS email ORDER BY r.score DESC, id LIMIT 1",
    )[0].values()
    page.goto(dashboard_url + "/search")
    page.fill("#search-text", email)
    page.press("#search-text", "Enter")
    page.wait_for_selector("#search-found")
    assert account_id in page.locator("#search-found a.search-account").all_inner_texts()
    screenshot(page, "search-email")

    page.locator("#search-found a.search-account").filter(has_text=account_id).first.click()
    page.wait_for_selector("#account-timeline .main-svg")
    assert page.locator("h2").first.inner_text() == f"Account {account_id}"
    assert "score" in page.locator(".rw-panel").first.inner_text()
    page.locator(".rw-chip:not([disabled])").first.click()
    page.wait_for_selector("#account-neighbour-table td")
    screenshot(page, "account")
    assert page.errors == []


def test_search_by_raw_email_and_identifier_neighbourhood(
    page, dashboard_url, driver, neo4j_settings
):
    raw, address = _rows(
        driver,
        neo4j_settings,
        "MATCH (:Account)-[e:HAS_EMAIL]->(m:Email) "
        "RETURN e.raw AS raw, m.address AS address ORDER BY e.raw <> m.address DESC LIMIT 1",
    )[0].values()
    page.goto(dashboard_url + f"/search?q={quote(raw)}")
    page.wait_for_selector("#search-found")
    link = page.locator("#search-found > li > a").filter(has_text=address).first
    link.click()
    page.wait_for_url(re.compile("/identifier"))
    _wait_for_nodes(page, "identifier-graph")
    assert page.locator("h2").first.inner_text() == f"Email {address}"
    screenshot(page, "identifier")
    assert page.errors == []
