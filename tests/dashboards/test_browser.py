"""The dashboard in a real browser: headless system Chromium, driven by Playwright, against
``ringwatch dashboard`` serving a sample ring graph in the real test Neo4j."""

from __future__ import annotations

import re

import pytest

from dashboards import queries, views
from graphs.model import Label, Prop
from tests.dashboards.conftest import TEST_USER, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.neo4j]

#: The cytoscape.js instance behind the ring view's graph.
CY = "document.getElementById('ring-graph')._cyreg.cy"


def _sizes(page) -> list[int]:
    return [int(t) for t in page.locator('td[data-dash-column="size"]').all_inner_texts()]


def _scores(page) -> list[float]:
    return [float(t) for t in page.locator('td[data-dash-column="score"]').all_inner_texts()]


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
    page.goto(f"{url}/ring/{ring_id}")
    page.wait_for_selector("#ring-graph")
    _wait_for_nodes(page)


def _graph_node_ids(page) -> set[str]:
    return set(page.evaluate(f"() => {CY}.nodes().map(n => n.id())"))


def test_queue_loads_open_rings_by_score_and_sorts(page, dashboard_url, sample_graph):
    page.goto(dashboard_url + "/")
    page.wait_for_selector('#queue-table td[data-dash-column="score"]')
    open_rings = [r for r in sample_graph["rings"] if r[Prop.STATUS] == "open"]
    expect_count = f"{len(open_rings):,} rings match"
    assert page.locator("#queue-count").inner_text().startswith(expect_count)
    scores = _scores(page)
    assert len(scores) == min(25, len(open_rings))
    assert scores == sorted(scores, reverse=True)
    assert set(page.locator('td[data-dash-column="status"]').all_inner_texts()) == {"open"}
    screenshot(page, "queue")

    sort = page.locator('th[data-dash-column="size"] .column-header--sort')
    sort.click()  # ascending
    page.wait_for_function(
        "() => { const s = [...document.querySelectorAll('td[data-dash-column=\"size\"]')]"
        ".map(td => +td.innerText); return s.every((v, i) => i == 0 || s[i-1] <= v)"
        " && s[0] < s[s.length - 1]; }"
    )
    sizes = _sizes(page)
    assert sizes == sorted(sizes)
    sort.click()  # descending
    page.wait_for_function(
        "() => { const s = [...document.querySelectorAll('td[data-dash-column=\"size\"]')]"
        ".map(td => +td.innerText); return s.every((v, i) => i == 0 || s[i-1] >= v)"
        " && s[0] > s[s.length - 1]; }"
    )
    assert _sizes(page) == sorted(_sizes(page), reverse=True)
    assert _sizes(page)[0] == max(
        sum(1 for m in sample_graph["members"] if m["r"] == r[Prop.RING_ID]) for r in open_rings
    )
    screenshot(page, "queue-sorted-by-size")
    assert page.errors == []


def test_opening_a_ring_shows_its_graph(page, dashboard_url, driver, neo4j_settings):
    page.goto(dashboard_url + "/")
    first = page.locator('td[data-dash-column="ring_id"] a').first
    ring_id = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(f"/ring/{ring_id}$"))
    _wait_for_nodes(page)

    data = queries.ring_graph_data(driver, neo4j_settings.database, ring_id)
    expected = views.ring_elements(data.members, data.identifiers)
    expected_nodes = {e["data"]["id"] for e in expected if "source" not in e["data"]}
    assert _graph_node_ids(page) == expected_nodes
    members = {f"{Label.ACCOUNT}:{m['key']}" for m in data.members}
    assert members <= _graph_node_ids(page)
    assert any(n.startswith(("Device:", "PaymentMethod:", "IP:")) for n in _graph_node_ids(page))
    assert page.locator("h2").first.inner_text() == f"Ring {ring_id}"
    rows = page.locator('#ring-members td[data-dash-column="link"]').all_inner_texts()
    assert sorted(rows) == sorted(m["key"] for m in data.members)
    screenshot(page, "ring")
    assert page.errors == []


def test_ring_node_details_and_expanding_more(page, dashboard_url, sample_graph):
    ring_id = max(sample_graph["rings"], key=lambda r: r[Prop.SCORE])[Prop.RING_ID]
    _open_ring_page(page, dashboard_url, ring_id)
    before = _graph_node_ids(page)
    more = [n for n in before if n.startswith("more:")]
    assert more, "the sample's popular user agents are shared with accounts outside the ring"

    member = sorted(n for n in before if n.startswith("Account:"))[0]
    _tap(page, member)
    page.wait_for_selector("#ring-details a")
    assert "risk score" in page.locator("#ring-details").inner_text()

    _tap(page, more[0])
    _wait_for_nodes(page, more_than=len(before))
    after = _graph_node_ids(page)
    assert len(after - before) >= 10
    screenshot(page, "ring-expanded")
    assert page.errors == []


def test_setting_a_case_status_persists_and_shows_after_reload(
    page, dashboard_url, driver, neo4j_settings, sample_graph
):
    ring_id = next(r[Prop.RING_ID] for r in sample_graph["rings"] if r[Prop.STATUS] == "open")
    _open_ring_page(page, dashboard_url, ring_id)
    page.click("#ring-case-status")
    page.get_by_role("option", name="confirmed").click()
    page.fill("#ring-case-assignee", "ann")
    page.fill("#ring-case-note", "same card on 6 accounts")
    page.click("#ring-case-save")
    page.wait_for_function(
        "() => document.getElementById('ring-case-message').innerText.startsWith('Saved')"
    )

    records, _, _ = driver.execute_query(
        "MATCH (r:Ring {ring_id: $id}) RETURN r{.*} AS ring",
        id=ring_id,
        database_=neo4j_settings.database,
    )
    ring = records[0]["ring"]
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


def test_cypher_page_refuses_a_write_and_changes_nothing(
    page, dashboard_url, driver, neo4j_settings
):
    def ring_states():
        records, _, _ = driver.execute_query(
            "MATCH (r:Ring) RETURN r.ring_id AS id, r.status AS status ORDER BY id",
            database_=neo4j_settings.database,
        )
        return [tuple(r) for r in records]

    before = ring_states()
    page.goto(dashboard_url + "/cypher")
    page.wait_for_selector("#cypher-text")
    page.fill("#cypher-text", "MATCH (r:Ring) SET r.status = 'dismissed' RETURN count(r)")
    page.fill("#cypher-json", "")
    page.click("#cypher-run")
    page.wait_for_selector("#cypher-message .rw-error")
    message = page.locator("#cypher-message").inner_text()
    assert message.startswith("Refused: this query would change the database")
    assert "nothing was changed" in message
    assert ring_states() == before
    screenshot(page, "cypher-refused")

    page.fill("#cypher-text", "MATCH (r:Ring)<-[m:MEMBER_OF]-(a:Account) RETURN r, m, a LIMIT 5")
    page.click("#cypher-run")
    page.wait_for_function(
        "() => document.getElementById('cypher-message').innerText.startsWith('5 rows')"
    )
    assert page.locator("#cypher-table td").count() == 15
    _wait_for_nodes(page, "cypher-graph")
    screenshot(page, "cypher-graph")
    assert page.errors == []


def test_search_finds_an_account_by_its_canonical_email(page, dashboard_url, sample_graph):
    account = next(a for a in sample_graph["accounts"] if a[Prop.ACCOUNT_ID].startswith("a-R-"))
    email = account[Prop.ACCOUNT_EMAIL]
    page.goto(dashboard_url + "/search")
    page.fill("#search-text", email)
    page.press("#search-text", "Enter")
    page.wait_for_selector("#search-found")
    links = page.locator("#search-found a.search-account").all_inner_texts()
    assert links == [account[Prop.ACCOUNT_ID]]
    screenshot(page, "search-email")

    page.locator("#search-found a.search-account").first.click()
    page.wait_for_selector("#account-timeline .main-svg")
    assert page.locator("h2").first.inner_text() == f"Account {account[Prop.ACCOUNT_ID]}"
    assert "score" in page.locator(".rw-panel").first.inner_text()
    page.locator("#account-identifiers").wait_for()
    page.locator(".rw-chip").filter(has_text="UserAgent").click()
    page.wait_for_selector("#account-neighbour-table td")
    screenshot(page, "account")
    assert page.errors == []


def test_search_by_raw_email_and_identifier_neighbourhood(page, dashboard_url, sample_graph):
    raw = next(
        e["props"][Prop.RAW]
        for e in sample_graph["edges"]["HAS_EMAIL"]
        if "+promo" in e["props"][Prop.RAW]
    )
    page.goto(dashboard_url + f"/search?q={raw.replace('+', '%2B')}")
    page.wait_for_selector("#search-found")
    page.locator("#search-found > li > a").first.click()
    page.wait_for_url(re.compile("/identifier"))
    _wait_for_nodes(page, "identifier-graph", more_than=1)
    assert page.locator("h2").first.inner_text().startswith("Email ")
    screenshot(page, "identifier")
    assert page.errors == []


def test_cypher_page_runs_a_saved_query_with_its_parameter_form(page, dashboard_url, sample_graph):
    ring_id = sample_graph["rings"][0][Prop.RING_ID]
    a, b = [m["a"] for m in sample_graph["members"] if m["r"] == ring_id][:2]
    page.goto(dashboard_url + "/cypher?name=shared_identifiers")
    page.wait_for_selector("#cypher-form input")
    assert "MATCH" in page.input_value("#cypher-text")
    page.fill('[id*="\\"name\\":\\"a\\""]', a)
    page.fill('[id*="\\"name\\":\\"b\\""]', b)
    page.click("#cypher-run")
    page.wait_for_function(
        "() => / rows/.test(document.getElementById('cypher-message').innerText)"
    )
    kinds = page.locator('#cypher-table td[data-dash-column="kind"]').all_inner_texts()
    assert "Device" in kinds and "PaymentMethod" in kinds
    screenshot(page, "cypher-saved-query")

    page.fill('[id*="\\"name\\":\\"b\\""]', "")
    page.click("#cypher-run")
    page.wait_for_selector("#cypher-message .rw-error")
    assert "parameter b is required" in page.locator("#cypher-message").inner_text()
    assert page.errors == []
