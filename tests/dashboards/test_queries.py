"""The dashboard's queries against the real test Neo4j holding the sample ring graph."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from dashboards import queries
from dashboards.sample import LAST_RUN
from graphs.errors import QueryError
from graphs.model import Prop

pytestmark = pytest.mark.neo4j
P = Prop


@pytest.fixture(scope="module")
def db(sample_graph, driver, neo4j_settings):
    """``(driver, database)`` over the sample graph."""
    return driver, neo4j_settings.database


def _members(world, ring_id: str) -> list[str]:
    return [m["a"] for m in world["members"] if m["r"] == ring_id]


def test_queue_defaults_to_open_rings_by_score(db, sample_graph):
    page = queries.ring_page(*db)
    open_rings = sorted(
        (r for r in sample_graph["rings"] if r[P.STATUS] == "open"), key=lambda r: -r[P.SCORE]
    )
    assert page.total == len(open_rings)
    assert [row["ring_id"] for row in page.rows] == [r[P.RING_ID] for r in open_rings[:25]]
    assert page.cutoff == LAST_RUN
    new = {r[P.RING_ID] for r in open_rings if r[P.DETECTED_AT] == LAST_RUN}
    assert {row["ring_id"] for row in page.rows if row["new"]} == new & {
        row["ring_id"] for row in page.rows
    }


def test_queue_pages_filters_and_sorts_in_neo4j(db, sample_graph):
    everything = queries.RingFilter(statuses=("open", "in_progress", "confirmed", "dismissed"))
    pages = [
        queries.ring_page(*db, everything, sort="size", descending=False, page=n, page_size=10)
        for n in range(3)
    ]
    ids = [row["ring_id"] for page in pages for row in page.rows]
    assert len(ids) == len(set(ids)) == len(sample_graph["rings"])
    sizes = [row["size"] for page in pages for row in page.rows]
    assert sizes == sorted(sizes)
    assert sizes[-1] == max(
        len(_members(sample_graph, r[P.RING_ID])) for r in sample_graph["rings"]
    )

    scraping = queries.ring_page(
        *db, queries.RingFilter(statuses=everything.statuses, kinds=("scraping",))
    )
    assert scraping.total == sum(r[P.KIND] == "scraping" for r in sample_graph["rings"])
    high = queries.ring_page(*db, queries.RingFilter(statuses=everything.statuses, min_score=0.9))
    assert all(row["score"] >= 0.9 for row in high.rows)
    new = queries.ring_page(*db, queries.RingFilter(statuses=everything.statuses, only_new=True))
    assert new.total == sum(r[P.DETECTED_AT] == LAST_RUN for r in sample_graph["rings"])
    late = LAST_RUN - timedelta(days=3)
    recent = queries.ring_page(*db, queries.RingFilter(statuses=everything.statuses, since=late))
    assert recent.total == sum(r[P.LAST_SEEN] >= late for r in sample_graph["rings"])


def test_queue_search_by_ring_id_member_and_reason(db, sample_graph):
    everything = ("open", "in_progress", "confirmed", "dismissed")
    ring = sample_graph["rings"][3]
    by_id = queries.ring_page(*db, queries.RingFilter(statuses=everything, search=ring[P.RING_ID]))
    assert [row["ring_id"] for row in by_id.rows] == [ring[P.RING_ID]]
    member = _members(sample_graph, ring[P.RING_ID])[0]
    by_member = queries.ring_page(*db, queries.RingFilter(statuses=everything, search=member))
    assert [row["ring_id"] for row in by_member.rows] == [ring[P.RING_ID]]
    by_reason = queries.ring_page(
        *db, queries.RingFilter(statuses=everything, search="CREATED WITHIN")
    )
    assert by_reason.total == len(sample_graph["rings"])
    injection = queries.ring_page(
        *db, queries.RingFilter(statuses=everything, search="' OR 1=1 //")
    )
    assert injection.total == 0


def test_queue_refuses_an_unknown_sort_column(db):
    with pytest.raises(ValueError, match=re.escape("cannot sort rings by 'r.score; MATCH'")):
        queries.ring_page(*db, sort="r.score; MATCH")


def test_ring_graph_data_has_members_and_shared_identifiers(db, sample_graph):
    ring_id = sample_graph["rings"][0][P.RING_ID]
    data = queries.ring_graph_data(*db, ring_id)
    assert data.size == len(_members(sample_graph, ring_id))
    assert sorted(m["key"] for m in data.members) == sorted(_members(sample_graph, ring_id))
    labels = {i["label"] for i in data.identifiers}
    assert {"Device", "PaymentMethod"} <= labels
    for ident in data.identifiers:
        assert len({link["member"] for link in ident["links"]}) >= 2
        assert ident["neighbours"] >= len(ident["links"]) or ident["label"] == "Subnet"
    assert queries.ring_graph_data(*db, "R-missing") is None


def test_outside_neighbours_leave_out_the_ring(db, sample_graph):
    ring_id = sample_graph["rings"][0][P.RING_ID]
    data = queries.ring_graph_data(*db, ring_id)
    ua = next(i for i in data.identifiers if i["label"] == "UserAgent")
    outside = queries.outside_neighbours(*db, "UserAgent", ua["key"], ring_id=ring_id, limit=500)
    members = set(_members(sample_graph, ring_id))
    assert outside and not members & {row["key"] for row in outside}
    assert len(outside) == ua["neighbours"] - len(ua["links"])
    with pytest.raises(ValueError, match="no neighbourhood for label"):
        queries.outside_neighbours(*db, "Account) DETACH DELETE (x", "k")


@pytest.mark.parametrize("limit", [1, 7, 500])
def test_popular_identifiers_walk_the_risk_index_to_the_same_neighbours(
    db, sample_graph, monkeypatch, limit
):
    ring_id = sample_graph["rings"][0][P.RING_ID]
    data = queries.ring_graph_data(*db, ring_id)
    ua = next(i for i in data.identifiers if i["label"] == "UserAgent")

    def rows(ring):
        found = queries.outside_neighbours(*db, "UserAgent", ua["key"], ring_id=ring, limit=limit)
        return [(r["key"], r["props"][P.RISK_SCORE], sorted(r["rels"]), r["count"]) for r in found]

    def above_last(found):  # rows tied with the last one may be any of the tied
        return [row for row in found if row[1] > found[-1][1]]

    read_all = {ring: rows(ring) for ring in (ring_id, None)}
    monkeypatch.setattr(queries, "INDEX_WALK_FROM", 0)  # every identifier is "popular"
    for ring, expected in read_all.items():
        walked = rows(ring)
        assert [row[1] for row in walked] == [row[1] for row in expected]
        assert above_last(walked) == above_last(expected)
    assert len(read_all[None]) == min(limit, ua["neighbours"])


def test_account_data_neighbours_and_search(db, sample_graph):
    ring_id = sample_graph["rings"][0][P.RING_ID]
    account_id = _members(sample_graph, ring_id)[0]
    data = queries.account_data(*db, account_id)
    assert data.account[P.ACCOUNT_ID] == account_id
    assert [r[P.RING_ID] for r in data.rings] == [ring_id]
    assert {i["rel"] for i in data.identifiers} >= {"HAS_EMAIL", "USED_IP", "PAID_WITH"}
    device = next(i for i in data.identifiers if i["rel"] == "SIGNED_UP_ON")
    users = {
        e["a"] for rel in ("SIGNED_UP_ON", "USED_DEVICE") for e in sample_graph["edges"][rel]
        if e["k"] == device["key"]
    }  # fmt: skip
    assert device["accounts"] == len(users)  # distinct accounts, not relationships
    counts = {row["label"]: row for row in queries.neighbour_counts(*db, account_id)}
    assert counts["Device"]["accounts"] >= 1
    neighbours = queries.account_neighbours(*db, account_id, "Device")
    assert set(_members(sample_graph, ring_id)) - {account_id} >= {
        n["account_id"] for n in neighbours
    }
    found = queries.search_entities(*db, [("Email", data.account[P.ACCOUNT_EMAIL])])
    assert [a[P.ACCOUNT_ID] for a in found[0]["accounts"]] == [account_id]
    assert queries.account_data(*db, "nobody") is None


def test_a_case_decision_is_stored_listed_and_survives_redetection(db, sample_graph):
    from ingest.rings_io import write_detections

    driver, database = db
    ring = next(r for r in sample_graph["rings"] if r[P.STATUS] == "open")
    ring_id = ring[P.RING_ID]
    update = queries.CaseUpdate(status="in_progress", assignee="ann", note="check cards", by="bo")
    first_at = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    saved = queries.set_case(driver, database, ring_id, update, at=first_at)
    assert saved[P.STATUS] == "in_progress" and saved[P.STATUS_BY] == "bo"
    assert ring_id in {c["ring_id"] for c in queries.my_cases(driver, database, "ann")}
    assert ring_id in {c["ring_id"] for c in queries.my_cases(driver, database, "bo")}
    second = queries.CaseUpdate(status="confirmed", assignee="ann", note="same cards", by="cy")
    latest = queries.set_case(driver, database, ring_id, second, at=first_at + timedelta(hours=2))
    assert (latest[P.STATUS], latest[P.STATUS_BY]) == ("confirmed", "cy")
    history = queries.case_history(driver, database, ring_id)
    assert [(d[P.STATUS], d[P.DECIDED_BY], d[P.NOTE]) for d in history] == [
        ("confirmed", "cy", "same cards"),
        ("in_progress", "bo", "check cards"),
    ]
    assert history[0][P.DECIDED_AT] == first_at + timedelta(hours=2)
    assert ring_id in {c["ring_id"] for c in queries.my_cases(driver, database, "cy")}

    # the next night finds the same ring again: detection's write-back keeps the case
    members = _members(sample_graph, ring_id)
    rings = pd.DataFrame(
        [
            {
                "ring_id": ring_id,
                "kind": ring[P.KIND],
                "score": 0.99,
                "reasons": ["found again"],
                "accounts": members,
                "ips": [],
                "first_seen": pd.Timestamp(ring[P.FIRST_SEEN]),
                "last_seen": pd.Timestamp(ring[P.LAST_SEEN]),
            }
        ]
    )
    accounts = pd.DataFrame({"account_id": members, "risk_score": [0.9] * len(members)})
    later = pd.Timestamp(LAST_RUN + timedelta(days=1))
    write_detections(driver, database, rings, accounts, detected_at=later)
    summary, _ = queries.ring_summary(driver, database, ring_id)
    assert summary[P.SCORE] == 0.99
    assert (summary[P.STATUS], summary[P.ASSIGNEE], summary[P.NOTE]) == (
        "confirmed",
        "ann",
        "same cards",
    )
    assert queries.case_history(driver, database, ring_id) == history
    assert queries.set_case(driver, database, "R-missing", update) is None
    with pytest.raises(ValueError, match="status 'closed' is not one of"):
        queries.CaseUpdate(status="closed", assignee=None, note=None, by="bo")


@pytest.mark.parametrize(
    "query",
    [
        "CREATE (x:Evil) RETURN x",
        "MATCH (r:Ring) SET r.status = 'dismissed'",
        "MATCH (n) DETACH DELETE n",
        "CREATE INDEX evil FOR (n:Evil) ON (n.x)",
        "CALL apoc.cypher.runWrite('CREATE (:Evil)', {})",
        "CALL apoc.periodic.iterate('MATCH (r:Ring) RETURN r', 'SET r.status = 1', {})",
        "PROFILE MATCH (r:Ring) SET r.status = 'dismissed'",
        "CALL { CREATE (:Evil) } IN TRANSACTIONS",
    ],
)
def test_read_only_runner_refuses_writes_and_changes_nothing(db, query):
    driver, database = db
    before, _, _ = driver.execute_query(
        "MATCH (n) RETURN count(n) AS n, collect(DISTINCT n.status) AS s", database_=database
    )
    with pytest.raises(QueryError, match=r"^Refused: this query would change the database"):
        queries.run_read_only(driver, database, query)
    after, _, _ = driver.execute_query(
        "MATCH (n) RETURN count(n) AS n, collect(DISTINCT n.status) AS s", database_=database
    )
    assert before[0].data() == after[0].data()


def test_read_only_runner_limits_rows_times_out_and_returns_graph_values(db):
    result = queries.run_read_only(*db, "MATCH (a:Account) RETURN a.account_id", row_limit=7)
    assert len(result.rows) == 7 and result.truncated
    result = queries.run_read_only(
        *db, "MATCH p = (a:Account)-[e:USED_DEVICE]->(d) RETURN a, e, d, p LIMIT $n", {"n": 2}
    )
    assert result.columns == ["a", "e", "d", "p"] and not result.truncated
    a, e, _, p = result.rows[0]
    assert a["_node"]["labels"] == ["Account"] and e["_rel"]["type"] == "USED_DEVICE"
    assert e["_rel"]["start"] == a["_node"]["id"] and len(p["_path"]["rels"]) == 1
    with pytest.raises(QueryError, match="time limit"):
        queries.run_read_only(*db, "CALL apoc.util.sleep(5000)", timeout_s=1)
    with pytest.raises(QueryError, match="Invalid input"):
        queries.run_read_only(*db, "MATCH (n RETURN n")
