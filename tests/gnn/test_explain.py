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


@pytest.mark.parametrize("max_edges", [10**9, 1])  # all variants in one pass; one per pass
def test_occlusions_side_by_side_score_as_separate_passes(model_and_graph, max_edges):
    # explain scores every occlusion of an account in one pass over copies of its
    # neighbourhood: each copy's seed must get the score of its own variant alone
    from torch_geometric.data import HeteroData

    from gnn.explain import _local_graph, _seed_scores
    from gnn.hetero import Graph

    model, graph = model_and_graph
    ring_member = next(i for i in graph.ids["account"] if int(i[1:]) >= 120)
    local, _, near = _local_graph(graph, int(graph.index_of("account", [ring_member])[0]), 500)
    x = local.data["account"].x[0].clone()
    x[0] = x[0] + 3.0
    variants = [(None, None), (x, None)]
    for et in local.data.edge_types:
        if et[0] == "account" and et[2] != "account":
            ends = local.data[et].edge_index
            variants += [(None, (et[2], u)) for u in ends[1, ends[0] == 0].unique().tolist()]
    assert len(variants) > 3

    def alone(row, drop) -> float:
        data = HeteroData()
        for t in local.data.node_types:
            data[t].x = local.data[t].x.clone()
        if row is not None:
            data["account"].x[0] = row
        for src, rel, dst in local.data.edge_types:
            e = local.data[src, rel, dst].edge_index
            if drop is not None and (src, dst) == ("account", drop[0]):
                e = e[:, ~((e[0] == 0) & (e[1] == drop[1]))]
            elif drop is not None and (src, dst) == (drop[0], "account"):
                e = e[:, ~((e[1] == 0) & (e[0] == drop[1]))]
            data[src, rel, dst].edge_index = e
        g = Graph(data, local.ids, local.target, local.feature_names, local.log_columns)
        return float(model.detector.score(g)[0])

    together = _seed_scores(model, local, near, variants, max_edges)
    separate = [alone(row, drop) for row, drop in variants]
    assert together == pytest.approx(separate, abs=1e-5)
    assert len(set(round(s, 6) for s in separate)) > 1  # the occlusions change the score
