"""HeteroData build: node and edge types, id maps, labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnn.features import ACCOUNT_FEATURES, IDENTIFIER_FEATURES
from gnn.hetero import (
    ACCOUNT,
    IDENTIFIER_TYPES,
    from_arrays,
    from_snapshot,
    label_vector,
    ring_decision_labels,
)
from graphs.errors import ModelError


def test_every_node_type_has_an_id_map_matching_its_rows(tiny_snapshot):
    g = from_snapshot(tiny_snapshot)
    assert set(g.data.node_types) == {ACCOUNT, *IDENTIFIER_TYPES}
    for t in g.data.node_types:
        assert g.data[t].x.shape[0] == len(g.ids[t])
    assert list(g.ids[ACCOUNT]) == ["a1", "a2", "a3"]
    assert list(g.ids["device"]) == ["d1", "d3"]
    assert g.data[ACCOUNT].x.shape == (3, len(ACCOUNT_FEATURES))
    assert g.data["device"].x.shape == (2, len(IDENTIFIER_FEATURES))
    assert g.data["phone"].x.shape == (0, len(IDENTIFIER_FEATURES))  # present, empty


def test_edges_join_the_right_indices_both_ways(tiny_snapshot):
    g = from_snapshot(tiny_snapshot)
    edges = g.data[ACCOUNT, "device", "device"].edge_index
    pairs = {(g.ids[ACCOUNT][a], g.ids["device"][d]) for a, d in edges.t().tolist()}
    assert pairs == {("a1", "d1"), ("a2", "d1"), ("a3", "d3")}
    reverse = g.data["device", "rev_device", ACCOUNT].edge_index
    assert sorted(map(tuple, reverse.flip(0).t().tolist())) == sorted(
        map(tuple, edges.t().tolist())
    )
    assert g.data[ACCOUNT, "signup_device", "device"].edge_index.shape == (2, 1)
    in_subnet = g.data["ip", "in_subnet", "subnet"].edge_index
    assert in_subnet.shape == (2, 3)
    # accounts reach their subnets directly too
    subnet_of = g.data[ACCOUNT, "subnet", "subnet"].edge_index
    assert {g.ids["subnet"][s] for s in subnet_of[1].tolist()} == {"10.0.0.0/24", "2001:db8::/48"}


def test_index_of_maps_ids_and_marks_unknown(tiny_snapshot):
    g = from_snapshot(tiny_snapshot)
    assert g.index_of(ACCOUNT, ["a3", "a1", "nope"]).tolist() == [2, 0, -1]


def test_same_edge_types_whatever_the_data(tiny_snapshot):
    g = from_snapshot(tiny_snapshot)
    accounts_only = from_snapshot(
        type(tiny_snapshot)(accounts=tiny_snapshot.accounts, links=tiny_snapshot.links.iloc[:0])
    )
    assert g.data.metadata() == accounts_only.data.metadata()
    assert g.feature_names == accounts_only.feature_names


def test_duplicate_account_ids_are_refused(tiny_snapshot):
    accounts = pd.concat([tiny_snapshot.accounts, tiny_snapshot.accounts.iloc[:1]])
    with pytest.raises(ModelError, match="duplicate account_id"):
        from_snapshot(type(tiny_snapshot)(accounts=accounts, links=tiny_snapshot.links))


def test_homogeneous_mode_adds_reverse_edges_and_drops_self_loops():
    g = from_arrays(np.zeros((3, 2)), np.array([[0, 1], [1, 1], [2, 0]]), labels=[0, 1, 0])
    edges = set(map(tuple, g.data["node", "to", "node"].edge_index.t().tolist()))
    assert edges == {(0, 1), (1, 0), (2, 0), (0, 2)}
    assert g.data["node"].y.tolist() == [0, 1, 0]
    assert g.target == "node"


def test_labels_with_investigator_overrides(tiny_snapshot):
    y = label_vector(tiny_snapshot.accounts)
    assert y.loc["a1"] == 1 and np.isnan(y.loc["a2"]) and y.loc["a3"] == 0
    y = label_vector(tiny_snapshot.accounts, pd.Series({"a1": "legit", "a2": True}))
    assert y.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ModelError, match="fraud/legit"):
        label_vector(tiny_snapshot.accounts, pd.Series({"a1": "maybe"}))


def test_ring_decisions_become_labels():
    rings = pd.DataFrame(
        {
            "status": ["dismissed", "confirmed", "in_progress"],
            "accounts": [["x", "y"], ["y"], ["z"]],
        }
    )
    assert ring_decision_labels(rings).to_dict() == {"x": "legit", "y": "fraud"}
