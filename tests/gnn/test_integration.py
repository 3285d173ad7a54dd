"""Train, then detect, against the real Neo4j server: the path ``ringwatch train`` /
``ringwatch detect`` take (read_snapshot, ring decisions as labels, model file, learned
score into detection)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from ingest.synthetic import write_world

    out = tmp_path_factory.mktemp("gnn-world") / "w"
    write_world(out, n_accounts=1500, seed=13, progress=False)
    return out


def test_train_then_detect_on_the_server(empty_db, neo4j_settings, world, tmp_path):
    import torch

    from gnn.hetero import ring_decision_labels
    from gnn.jobs import score_job, train_job
    from gnn.model_file import list_models
    from graphs.detection import detect
    from ingest.job import ingest_dataset
    from ingest.rings_io import read_rings
    from ingest.snapshot_io import read_snapshot

    torch.set_num_threads(1)
    db = neo4j_settings.database
    ingest_dataset(empty_db, db, world, progress=False)
    snapshot = read_snapshot(empty_db, db)
    assert snapshot.n_accounts == 1500
    decisions = ring_decision_labels(read_rings(empty_db, db))  # none yet: empty
    path, meta = train_job(
        snapshot,
        tmp_path / "models",
        extra_labels=decisions,
        gnn_params={"epochs": 3, "hidden_channels": 16, "fanout": (5, 5)},
    )
    assert path.exists() and meta["winner"] in ("gnn", "tree")
    assert [m["version"] for m in list_models(tmp_path / "models")] == ["model-0001"]

    scores, version = score_job(snapshot, tmp_path / "models")
    assert version == "model-0001"
    assert scores.index.equals(pd.Index(snapshot.accounts["account_id"]))
    assert scores.between(0, 1).all()

    found = detect(snapshot, learned=scores)
    risk = found.accounts.set_index("account_id")["risk_score"]
    # an account's risk is at least its learned score (detection takes the larger)
    assert (risk.reindex(scores.index) >= scores - 1e-9).all()
    assert found.info["learned_account_score"] is True

    # the model's own explanations of its top accounts, and through the write-back into
    # the reasons the account page shows
    explained = scores.attrs["explanations"]
    assert set(explained) == set(scores.nlargest(len(explained)).index)
    assert any(explained.values())
    from scripts.detect_job import detect_graph

    # as `ringwatch detect --model` runs it: the model scores the snapshot detect reads
    seen = {}

    def score(snap):
        seen["scores"], _ = score_job(snap, tmp_path / "models")
        return seen["scores"]

    result = detect_graph(empty_db, db, score=score)
    assert "model" in result.summary["timings_s"]
    explained = seen["scores"].attrs["explanations"]
    # every account at or above the flag threshold has reasons (a GNN score alone can put
    # an account there, outside any ring)
    risky = result.accounts["risk_score"] >= result.summary["thresholds"]["ring"]
    flagged = set(result.accounts.loc[risky, "account_id"])
    records = empty_db.execute_query(
        "MATCH (a:Account) WHERE a.reasons IS NOT NULL RETURN a.account_id AS id, a.reasons AS r",
        database_=db,
    ).records
    stored = {r["id"]: r["r"] for r in records}
    assert set(stored) == flagged
    with_gnn = [i for i in flagged & set(explained) if explained[i]]
    assert with_gnn, "no flagged account among the explained ones"
    for account in with_gnn:
        assert any(line.startswith("GNN") for line in stored[account]), stored[account]
