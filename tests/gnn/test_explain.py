"""Reasons for a score: features and neighbours by occlusion."""

from __future__ import annotations

import pytest
import torch

from gnn.explain import explain, reasons
from gnn.model_file import RiskModel
from gnn.train import GNNDetector, TreeDetector, train_on_snapshot
from graphs.errors import ModelError
from tests.gnn.conftest import planted_snapshot


@pytest.fixture(scope="module")
def model_and_graph():
    torch.set_num_threads(1)
    t = train_on_snapshot(
        planted_snapshot(n_legit=120, n_rings=8),
        gnn=GNNDetector(hidden_channels=16, epochs=15, fanout=(5, 5), batch_size=64),
        tree=TreeDetector(max_iter=40),
    )
    sel = t.selection
    meta = {"winner": sel.winner, "target": "account", "features": t.graph.feature_names}
    return RiskModel(gnn=sel.gnn, tree=sel.tree, metadata=meta), t.graph


@pytest.mark.parametrize("winner", ["gnn", "tree"])
def test_a_ring_members_shared_identifiers_explain_its_score(model_and_graph, winner):
    model, graph = model_and_graph
    model = RiskModel(model.gnn, model.tree, {**model.metadata, "winner": winner})
    ring_member = next(i for i in graph.ids["account"] if int(i[1:]) >= 120)
    e = explain(model, graph, ring_member)
    assert e.score == pytest.approx(
        float(model.score(graph)[graph.index_of("account", [ring_member])[0]]), abs=1e-4
    )
    assert set(e.neighbours["node_type"]) <= {"device", "payment_method", "ip", "subnet"}
    top = e.neighbours.iloc[0]
    assert top["key"].startswith("ring-") and top["n_accounts"] == 5
    assert top["contribution"] > 0
    assert any("shared by 5 accounts" in r for r in reasons(e))


def test_unknown_account(model_and_graph):
    model, graph = model_and_graph
    with pytest.raises(ModelError, match="not in the graph"):
        explain(model, graph, "zzz")
