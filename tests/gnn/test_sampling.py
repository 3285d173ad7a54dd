"""The pure-torch neighbour sampler and layer-wise inference agree with full-batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnn.hetero import from_arrays, from_snapshot
from gnn.models import MODELS
from gnn.sampling import UniformSampler, neighbour_loader


@pytest.fixture
def ring_graph():
    rng = np.random.default_rng(0)
    return from_arrays(rng.random((40, 3)), rng.integers(0, 40, (2, 160)))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_full_fanout_batches_and_chunked_inference_equal_full_batch(ring_graph, name):
    g = ring_graph
    model = MODELS[name](g.data.metadata(), {"node": 3}, target="node", hidden_channels=8)
    model.fit_scaling(g.data.x_dict).eval()
    full = model(g.data.x_dict, g.data.edge_index_dict)
    chunked = model.inference(g.data.x_dict, g.data.edge_index_dict, chunk_size=7)
    assert torch.allclose(full, chunked, atol=1e-5)
    seeds = torch.tensor([5, 3, 17, 30])
    loader = neighbour_loader(g.data, UniformSampler(g.data, [-1, -1]), "node", seeds, 4)
    batch = next(iter(loader))
    assert batch["node"].n_id[:4].tolist() == [5, 3, 17, 30]
    out = model(batch.x_dict, batch.edge_index_dict)[:4]
    assert torch.allclose(out, full[seeds], atol=1e-5)
    # per-hop trimming: only the seeds' logits, and the same ones
    trimmed = model(
        batch.x_dict,
        batch.edge_index_dict,
        batch.collect("num_sampled_nodes"),
        batch.collect("num_sampled_edges"),
    )
    assert trimmed.shape == (4,)
    assert torch.allclose(trimmed, full[seeds], atol=1e-5)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_trimmed_forward_on_the_account_graph_equals_full_batch(tiny_snapshot, layers):
    g = from_snapshot(tiny_snapshot)
    channels = {t: g.data[t].x.shape[1] for t in g.data.node_types}
    model = MODELS["sage"](
        g.data.metadata(), channels, target="account", hidden_channels=8, num_layers=layers
    )
    model.fit_scaling(g.data.x_dict).eval()
    full = model(g.data.x_dict, g.data.edge_index_dict)
    seeds = torch.tensor([2, 0])
    sampler = UniformSampler(g.data, [-1] * layers)
    batch = next(iter(neighbour_loader(g.data, sampler, "account", seeds, 2)))
    counts = batch.collect("num_sampled_nodes"), batch.collect("num_sampled_edges")
    trimmed = model(batch.x_dict, batch.edge_index_dict, *counts)
    assert torch.allclose(trimmed, full[seeds], atol=1e-5)


def test_fanout_caps_neighbours_per_node():
    # node 0 has 30 in-neighbours
    edges = np.array([np.arange(1, 31), np.zeros(30, dtype=int)])
    g = from_arrays(np.zeros((31, 1)), edges, undirected=False)
    sampler = UniformSampler(g.data, [4], seed=1)
    batch = next(iter(neighbour_loader(g.data, sampler, "node", torch.tensor([0]), 1)))
    edge_index = batch["node", "to", "node"].edge_index
    assert 1 <= edge_index.shape[1] <= 4
    assert (edge_index[1] == 0).all()
    assert len(set(edge_index[0].tolist())) == edge_index.shape[1]  # no repeated edge


def test_sampled_subgraph_edges_exist_in_the_snapshot_graph(tiny_snapshot):
    g = from_snapshot(tiny_snapshot)
    sampler = UniformSampler(g.data, [2, 2])
    batch = next(iter(neighbour_loader(g.data, sampler, "account", torch.tensor([0, 2]), 2)))
    for et in g.data.edge_types:
        full = set(map(tuple, g.data[et].edge_index.t().tolist()))
        local = batch[et].edge_index
        src_ids, dst_ids = batch[et[0]].n_id, batch[et[2]].n_id
        for s, d in local.t().tolist():
            assert (int(src_ids[s]), int(dst_ids[d])) in full
