"""Model files: round trip, versions, and a clear error for other features."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gnn.hetero import from_snapshot
from gnn.model_file import list_models, load_model, save_model
from gnn.train import GNNDetector, TreeDetector, train_on_snapshot
from graphs.errors import ModelError
from tests.gnn.conftest import planted_snapshot


@pytest.fixture(scope="module")
def training():
    torch.set_num_threads(1)
    gnn = GNNDetector(hidden_channels=8, epochs=3, fanout=(3, 3), batch_size=128)
    return train_on_snapshot(
        planted_snapshot(n_legit=80, n_rings=6), gnn=gnn, tree=TreeDetector(max_iter=10)
    )


def test_round_trip_gives_the_same_scores_and_metadata(training, tmp_path):
    path = save_model(tmp_path, training.selection, training.graph, training.y)
    assert path.name == "model-0001.pt"
    model = load_model(tmp_path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["winner"] == model.winner == training.selection.winner
    assert meta["features"]["account"][0] == "account_age_days"
    assert len(meta["training_data_sha256"]) == 64
    assert {"gnn", "tree"} <= set(meta["metrics"]) and "val" in meta["metrics"]["gnn"]
    assert meta["hyper_parameters"]["gnn"]["hidden_channels"] == 8
    for name in ("gnn", "tree"):
        before = getattr(training.selection, name).score(training.graph)
        after = getattr(model, name).score(training.graph)
        np.testing.assert_allclose(before, after, rtol=1e-5, atol=1e-6)


def test_newest_by_default_or_one_named(training, tmp_path):
    save_model(tmp_path, training.selection, training.graph, training.y)
    save_model(tmp_path, training.selection, training.graph, training.y, extra={"note": "second"})
    assert [m["version"] for m in list_models(tmp_path)] == ["model-0001", "model-0002"]
    assert load_model(tmp_path).version == "model-0002"
    assert load_model(tmp_path, "1").version == "model-0001"
    assert load_model(tmp_path, "model-0001").version == "model-0001"
    with pytest.raises(ModelError, match="no model 'model-0009'"):
        load_model(tmp_path, "model-0009")


def test_empty_dir_and_garbage_files_fail_clearly(tmp_path):
    with pytest.raises(ModelError, match="run `ringwatch train`"):
        load_model(tmp_path)
    (tmp_path / "model-0001.pt").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable model file"):
        load_model(tmp_path)


def test_model_trained_on_other_features_refuses_to_score(training, tmp_path, tiny_snapshot):
    save_model(tmp_path, training.selection, training.graph, training.y)
    model = load_model(tmp_path)
    graph = from_snapshot(tiny_snapshot)
    assert model.score(graph).shape == (3,)  # same features: fine
    graph.feature_names["account"] = [*graph.feature_names["account"][:-1], "renamed"]
    with pytest.raises(ModelError, match="trained on other account features"):
        model.score(graph)


def test_risk_scores_are_a_series_by_account_id(training, tmp_path, tiny_snapshot):
    save_model(tmp_path, training.selection, training.graph, training.y)
    scores = load_model(tmp_path).risk_scores(tiny_snapshot)
    assert list(scores.index) == ["a1", "a2", "a3"]
    assert scores.between(0, 1).all()


@pytest.mark.parametrize("winner", ["gnn", "tree"])
def test_scores_come_from_the_validation_winner_named_in_the_metadata(training, tmp_path, winner):
    measured, training.selection.winner = training.selection.winner, winner
    try:
        save_model(tmp_path, training.selection, training.graph, training.y)
    finally:
        training.selection.winner = measured
    model = load_model(tmp_path)
    meta = json.loads((tmp_path / "model-0001.json").read_text())
    assert meta["winner"] == model.winner == winner
    expected = getattr(model, winner).score(training.graph)
    np.testing.assert_array_equal(model.score(training.graph), expected)
    assert model.summary()["detector"].startswith(winner)


def test_detect_summary_names_the_model_behind_the_learned_score(training, tmp_path):
    from scripts.detect_job import run_detect

    snapshot = planted_snapshot(n_legit=80, n_rings=6)
    save_model(tmp_path, training.selection, training.graph, training.y)
    scores = load_model(tmp_path).risk_scores(snapshot)
    summary = run_detect(snapshot, learned=scores).summary
    assert summary["learned_model"]["version"] == "model-0001"
    assert summary["learned_model"]["winner"] == training.selection.winner
    assert run_detect(snapshot).summary["learned_model"] is None
