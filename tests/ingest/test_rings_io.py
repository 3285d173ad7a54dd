"""Detection write-back against the real Neo4j server: rings, ids, status, risk, runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from graphs.detection import assign_ring_ids
from ingest import rings_io, writer

pytestmark = pytest.mark.neo4j
T = pd.Timestamp("2026-03-05T00:00:00Z")


def _accounts(driver, db, ids):
    driver.execute_query(
        "UNWIND $ids AS id MERGE (:Account {account_id: id})", ids=list(ids), database_=db
    )


def _rings(*members: list[str]) -> pd.DataFrame:
    rows = [
        {
            "kind": "fake_account",
            "score": 0.9,
            "accounts": list(m),
            "ips": [],
            "reasons": [f"{len(m)} accounts share 1 device"],
            "first_seen": T,
            "last_seen": T,
        }
        for m in members
    ]
    return pd.DataFrame(rows)


def _risk(ids, value=0.9):
    return pd.DataFrame({"account_id": list(ids), "risk_score": value})


def _membership(driver, db) -> dict[str, set[str]]:
    records, _, _ = driver.execute_query(
        "MATCH (a:Account)-[:MEMBER_OF]->(r:Ring) RETURN r.ring_id AS ring, "
        "collect(a.account_id) AS members",
        database_=db,
    )
    return {r["ring"]: set(r["members"]) for r in records}


def test_write_back_keeps_ids_and_investigator_status_across_nights(empty_db, neo4j_settings):
    db = neo4j_settings.database
    writer.ensure_schema(empty_db, db)
    _accounts(empty_db, db, ["a1", "a2", "a3", "a4", "b1", "b2"])
    night1 = assign_ring_ids(_rings(["a1", "a2", "a3"], ["b1", "b2"]))
    counts = rings_io.write_detections(
        empty_db, db, night1, _risk(["a1", "a2", "a3", "b1", "b2"]), detected_at=T
    )
    assert counts["rings"] == 2 and counts["risk_scores_written"] == 5
    ring_a = night1.at[0, "ring_id"]
    empty_db.execute_query(
        "MATCH (r:Ring {ring_id: $id}) SET r.status = 'confirmed'", id=ring_a, database_=db
    )

    # next night: ring a gained a4 and lost nobody; ring b is gone
    previous = rings_io.read_rings(empty_db, db)
    night2 = assign_ring_ids(_rings(["a1", "a2", "a3", "a4"]), previous)
    assert night2.at[0, "ring_id"] == ring_a
    rings_io.write_detections(
        empty_db, db, night2, _risk(["a1", "a2", "a3", "a4"]), detected_at=T + pd.Timedelta("1D")
    )
    records, _, _ = empty_db.execute_query(
        "MATCH (r:Ring {ring_id: $id}) RETURN r.status AS status, r.detected_at AS first, "
        "r.last_detected_at AS last",
        id=ring_a,
        database_=db,
    )
    assert records[0]["status"] == "confirmed"
    assert records[0]["first"] < records[0]["last"]
    assert _membership(empty_db, db)[ring_a] == {"a1", "a2", "a3", "a4"}


def test_members_that_left_a_ring_lose_their_membership(empty_db, neo4j_settings):
    db = neo4j_settings.database
    writer.ensure_schema(empty_db, db)
    _accounts(empty_db, db, ["a1", "a2", "a3", "a4"])
    night1 = assign_ring_ids(_rings(["a1", "a2", "a3", "a4"]))
    rings_io.write_detections(empty_db, db, night1, _risk(["a1"]), detected_at=T)
    night2 = assign_ring_ids(_rings(["a1", "a2", "a3"]), rings_io.read_rings(empty_db, db))
    rings_io.write_detections(empty_db, db, night2, _risk(["a1"]), detected_at=T)
    assert _membership(empty_db, db) == {night1.at[0, "ring_id"]: {"a1", "a2", "a3"}}


def _reasons(driver, db) -> dict[str, list[str]]:
    records, _, _ = driver.execute_query(
        "MATCH (a:Account) WHERE a.reasons IS NOT NULL RETURN a.account_id AS id, a.reasons AS r",
        database_=db,
    )
    return {r["id"]: r["r"] for r in records}


def test_account_reasons_are_written_where_changed_and_cleared_when_unflagged(
    empty_db, neo4j_settings
):
    db = neo4j_settings.database
    writer.ensure_schema(empty_db, db)
    _accounts(empty_db, db, ["a1", "a2", "a3"])
    rings = assign_ring_ids(_rings(["a1", "a2", "a3"]))
    first = {"a1": ["member of ring x"], "a2": ["member of ring x", "shares device d"]}
    counts = rings_io.write_detections(
        empty_db, db, rings, _risk(["a1", "a2", "a3"]), detected_at=T, reasons=first
    )
    assert (counts["reasons_written"], counts["reasons_cleared"]) == (2, 0)
    assert _reasons(empty_db, db) == first
    # the next night: a1 unchanged, a2 changed, a3 newly flagged ... and then a1 is not
    second = {"a2": ["shares device d"], "a3": ["member of ring y"]}
    counts = rings_io.write_detections(
        empty_db, db, rings, _risk(["a1", "a2", "a3"]), detected_at=T, reasons=second
    )
    assert (counts["reasons_written"], counts["reasons_cleared"]) == (2, 1)
    assert _reasons(empty_db, db) == second
    counts = rings_io.write_detections(
        empty_db, db, rings, _risk(["a1", "a2", "a3"]), detected_at=T, reasons=second
    )
    assert (counts["reasons_written"], counts["reasons_cleared"]) == (0, 0)
    # a caller that computes no reasons leaves the stored ones alone
    counts = rings_io.write_detections(empty_db, db, rings, _risk(["a1"]), detected_at=T)
    assert "reasons_written" not in counts and _reasons(empty_db, db) == second


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    from ingest.synthetic import write_world

    out = tmp_path_factory.mktemp("world") / "w"
    write_world(out, n_accounts=1500, seed=5, progress=False)
    return out


def test_detect_on_an_unchanged_graph_changes_nothing(empty_db, neo4j_settings, small_world):
    from ingest.job import ingest_dataset
    from scripts.detect_job import detect_graph

    db = neo4j_settings.database
    ingest_dataset(empty_db, db, small_world, progress=False)
    first = detect_graph(empty_db, db)
    assert len(first.rings) > 0
    ring_id = first.rings.at[0, "ring_id"]
    empty_db.execute_query(
        "MATCH (r:Ring {ring_id: $id}) SET r.status = 'in_progress'", id=ring_id, database_=db
    )
    before = empty_db.execute_query(
        "MATCH (r:Ring) RETURN r {.*} AS ring ORDER BY r.ring_id", database_=db
    ).records
    second = detect_graph(empty_db, db)
    after = empty_db.execute_query(
        "MATCH (r:Ring) RETURN r {.*} AS ring ORDER BY r.ring_id", database_=db
    ).records
    assert [r["ring"] for r in after] == [r["ring"] for r in before]
    assert second.rings["ring_id"].tolist() == first.rings["ring_id"].tolist()
    assert second.rings["continuing"].all()
    assert second.summary["written"]["risk_scores_written"] == 0
    assert second.summary["written"]["reasons_written"] == 0
    records, _, _ = empty_db.execute_query(
        "MATCH (a:Account) WHERE a.risk_score IS NULL RETURN count(a) AS n", database_=db
    )
    assert records[0]["n"] == 0  # every account carries its risk


def test_detect_writes_account_reasons_and_keeps_case_decisions(
    empty_db, neo4j_settings, small_world
):
    """Detection writes reasons for flagged accounts only; re-detection never touches an
    investigator's decisions, and training reads the latest decision as labels."""
    from dashboards import queries
    from gnn.hetero import ring_decision_labels
    from ingest.job import ingest_dataset
    from scripts.detect_job import detect_graph

    db = neo4j_settings.database
    ingest_dataset(empty_db, db, small_world, progress=False)
    first = detect_graph(empty_db, db)
    stored = _reasons(empty_db, db)
    flagged = set(first.accounts.loc[first.accounts["risk_score"] >= 0.5, "account_id"])
    assert flagged and set(stored) == flagged
    assert all(1 <= len(lines) <= 4 for lines in stored.values())
    ring = first.rings.iloc[0]
    member = ring["accounts"][0]
    assert stored[member][0].startswith(f"member of {ring['kind']} ring {ring['ring_id']} ")
    assert first.summary["written"]["reasons_written"] == len(flagged)

    ring_id = ring["ring_id"]
    for status, by in (("confirmed", "ann"), ("dismissed", "bo")):
        update = queries.CaseUpdate(status=status, assignee="ann", note=f"{by} looked", by=by)
        queries.set_case(empty_db, db, ring_id, update)
    history = queries.case_history(empty_db, db, ring_id)
    detect_graph(empty_db, db)
    assert queries.case_history(empty_db, db, ring_id) == history
    assert [d["status"] for d in history] == ["dismissed", "confirmed"]
    summary, _ = queries.ring_summary(empty_db, db, ring_id)
    assert (summary["status"], summary["status_by"], summary["note"]) == (
        "dismissed", "bo", "bo looked",
    )  # fmt: skip
    labels = ring_decision_labels(rings_io.read_rings(empty_db, db))
    assert set(labels.index) == set(ring["accounts"]) and set(labels) == {"legit"}


def test_nightly_refuses_a_second_run_and_records_runs(empty_db, neo4j_settings, small_world,
                                                        tmp_path):  # fmt: skip
    from graphs.errors import ConfigError
    from scripts.nightly import nightly_lock, run_nightly

    db = neo4j_settings.database
    out = tmp_path / "runs"
    with nightly_lock(out), pytest.raises(ConfigError, match="refusing to run twice"):
        run_nightly(empty_db, db, small_world, out)
    result = run_nightly(empty_db, db, small_world, out, truth=small_world / "truth.csv")
    night = out / small_world.name
    for name in ("rings.jsonl", "accounts.csv", "summary.json", "report.html", "report.json"):
        assert (night / name).exists(), name
    assert "Precision-recall" in (night / "report.html").read_text()
    assert result.line().startswith(f"nightly {result.run_id}: ")
    records, _, _ = empty_db.execute_query(
        "MATCH (r:DetectRun) RETURN r.status AS status, r.report AS report", database_=db
    )
    assert [r["status"] for r in records] == ["completed"]
