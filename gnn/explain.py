"""Why an account got its risk score: top contributing features and neighbours.

:func:`explain` works for whichever detector won (GNN or trees) the same way, by
occlusion on the account's two-hop neighbourhood (all it can see):

- a **feature** contributes ``score - score with that feature set to the typical
  (median) account's value``;
- a **neighbour** (an identifier the account used: a card, a device, a subnet...)
  contributes ``score - score with the account's links to it removed``.

Positive contributions raise the risk. The dashboard and ring reasons call
:func:`explain` (one account) or :func:`explain_many` (several, as ``ringwatch detect
--model`` explains its top accounts), or :func:`reasons` for sentences. All occlusions
of one account are scored in one pass over copies of its neighbourhood side by side
(a few dozen variants; the second-hop nodes, which no variant changes, are shared).

Examples
--------
>>> from gnn.explain import Explanation
>>> e = Explanation("a1", 0.9, pd.DataFrame({"feature": ["decline_rate"], "value": [0.8],
...     "typical": [0.0], "contribution": [0.4]}), pd.DataFrame({"node_type": ["payment_method"],
...     "key": ["pm1"], "n_accounts": [7], "contribution": [0.5]}))
>>> reasons(e)
['uses payment_method pm1 shared by 7 accounts (+0.50)', 'decline_rate is 0.8, typically 0 (+0.40)']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from gnn.hetero import Graph
from graphs.errors import ModelError

if TYPE_CHECKING:
    from gnn.model_file import RiskModel

__all__ = ["Explanation", "explain", "explain_many", "reasons"]


@dataclass(frozen=True)
class Explanation:
    """``features``: feature, value, typical, contribution; ``neighbours``: node_type,
    key, n_accounts, contribution; both sorted by contribution, largest first."""

    account_id: str
    score: float
    features: pd.DataFrame
    neighbours: pd.DataFrame


def _local_graph(graph: Graph, index: int, max_neighbours: int) -> tuple[Graph, dict, dict]:
    """The two-hop neighbourhood of target node ``index`` as a Graph (seed is node 0),
    the graph's index of each of its nodes, and per node type how many of them come
    first because they are within one hop (the nodes are numbered hop by hop)."""
    import torch
    from torch_geometric.data import HeteroData
    from torch_geometric.sampler import NodeSamplerInput

    from gnn.sampling import UniformSampler

    # the sampler's index of every edge type is built once per graph, not per account
    # (sorting all edges again made each explanation cost seconds at 100k accounts)
    key = ("explain_sampler", max_neighbours)
    if key not in graph.cache:
        graph.cache[key] = UniformSampler(graph.data, [-1, max_neighbours], seed=0)
    sampler = graph.cache[key]
    sampler.generator.manual_seed(0)  # the same neighbourhood whichever account came first
    out = sampler.sample_from_nodes(
        NodeSamplerInput(input_id=None, node=torch.tensor([index]), input_type=graph.target)
    )
    data = HeteroData()
    for t in graph.data.node_types:
        data[t].x = graph.data[t].x[out.node[t]]
    for et in graph.data.edge_types:
        data[et].edge_index = torch.stack([out.row[et], out.col[et]])
    ids = {t: graph.ids[t][out.node[t].numpy()] for t in graph.data.node_types}
    local = Graph(data, ids, graph.target, graph.feature_names, graph.log_columns)
    near = {t: sum(counts[:2]) for t, counts in out.num_sampled_nodes.items()}
    return local, out.node, near


def _typical(graph: Graph):
    """The median target node's features (computed once per graph)."""
    if "explain_typical" not in graph.cache:
        graph.cache["explain_typical"] = graph.data[graph.target].x.median(0).values
    return graph.cache["explain_typical"]


def _n_accounts(graph: Graph, node_type: str, index: int) -> int:
    """Target nodes linked to identifier ``index`` of ``node_type`` (the most over the
    relations from the target type to it); the counts are computed once per type."""
    import torch

    key = ("explain_n_accounts", node_type)
    if key not in graph.cache:
        n = graph.data[node_type].num_nodes
        count = torch.zeros(n, dtype=torch.long)
        for et in graph.data.edge_types:
            if et[0] == graph.target and et[2] == node_type:
                edges_in = torch.bincount(graph.data[et].edge_index[1], minlength=n)
                count = torch.maximum(count, edges_in)
        graph.cache[key] = count
    return int(graph.cache[key][index])


def _side_by_side(local: Graph, near: dict[str, int], variants: list[tuple]) -> Graph:
    """Copies of ``local``'s seed and its identifiers, one per variant, with the
    second-hop nodes shared by all, as one graph; the seed of copy ``v`` is target node
    ``v * near[target]``.

    ``near[t]``: the first nodes of type ``t`` in ``local`` that are within one hop of
    the seed (all edges point into them). A variant ``(x, drop)`` replaces the seed's
    feature row by ``x`` (unless None) and removes the seed's edges to the identifier
    ``drop = (node_type, local index)`` (both directions; unless None). The seed of each
    copy sees what it would see in its own variant of ``local``: its identifiers, and
    their neighbours (the shared nodes, whose inputs no variant changes); a two-layer
    model gives it the same score as alone, so one pass scores all variants.
    """
    import torch
    from torch_geometric.data import HeteroData

    data = HeteroData()
    k = len(variants)
    for t in local.data.node_types:
        x, m = local.data[t].x, near[t]
        copies = x[:m].repeat(k, 1)
        if t == local.target:
            for v, (row, _) in enumerate(variants):
                if row is not None:
                    copies[v * m] = row
        data[t].x = torch.cat([copies, x[m:]])

    def place(index, node_type: str, v: int):
        m = near[node_type]  # copy v's nodes come after v copies; shared ones after all k
        return torch.where(index < m, index + v * m, index + (k - 1) * m)

    for et in local.data.edge_types:
        src, _, dst = et
        edge_index = local.data[et].edge_index
        parts = []
        for v, (_, drop) in enumerate(variants):
            part = edge_index
            if drop is not None and src == local.target and dst == drop[0]:
                part = part[:, ~((part[0] == 0) & (part[1] == drop[1]))]
            elif drop is not None and dst == local.target and src == drop[0]:
                part = part[:, ~((part[1] == 0) & (part[0] == drop[1]))]
            parts.append(torch.stack([place(part[0], src, v), place(part[1], dst, v)]))
        data[et].edge_index = torch.cat(parts, 1) if parts else edge_index
    return Graph(data, local.ids, local.target, local.feature_names, local.log_columns)


def _seed_scores(
    model: RiskModel, local: Graph, near: dict[str, int], variants: list[tuple], max_edges: int
) -> list[float]:
    """The seed's score under each variant (see :func:`_side_by_side`), with at most
    about ``max_edges`` edges in one pass."""
    n_edges = sum(local.data[et].edge_index.shape[1] for et in local.data.edge_types)
    per_pass = max(1, max_edges // max(n_edges, 1))
    seed_step = near[local.target]
    scores = []
    for a in range(0, len(variants), per_pass):
        part = variants[a : a + per_pass]
        score = model.detector.score(_side_by_side(local, near, part))
        scores.extend(float(score[v * seed_step]) for v in range(len(part)))
    return scores


def explain(
    model: RiskModel, graph: Graph, account_id: str, top: int = 5, max_neighbours: int = 500
) -> Explanation:
    """Top ``top`` features and neighbours behind ``account_id``'s score under ``model``.

    Identifiers shared by more than ``max_neighbours`` accounts are seen through a
    sample of them (the explanation then approximates the score it explains).
    """
    return explain_many(model, graph, [account_id], top=top, max_neighbours=max_neighbours)[0]


def explain_many(
    model: RiskModel,
    graph: Graph,
    account_ids: list[str],
    top: int = 5,
    max_neighbours: int = 500,
    max_edges: int = 2_000_000,
) -> list[Explanation]:
    """:func:`explain` for each of ``account_ids``, in that order.

    Every occlusion of one account (its features, its identifiers) is scored in one
    pass over copies of its neighbourhood side by side (at most about ``max_edges``
    edges per pass), not in one forward pass each: the same numbers, at a fraction of
    the cost (docs/gnn.md, "Speed").
    """
    model.check(graph)
    index = graph.index_of(graph.target, list(account_ids))
    missing = [a for a, i in zip(account_ids, index, strict=True) if i < 0]
    if missing:
        raise ModelError(f"account {missing[0]!r} is not in the graph")
    typical = _typical(graph)
    out = []
    for account_id, i in zip(account_ids, index, strict=True):
        local, nodes, near = _local_graph(graph, int(i), max_neighbours)
        seed_x = local.data[graph.target].x
        changed_features = []
        variants: list[tuple] = [(None, None)]  # the account as it is
        for j, name in enumerate(graph.feature_names[graph.target]):
            if float(seed_x[0, j]) == float(typical[j]):
                continue
            x = seed_x[0].clone()
            x[j] = typical[j]
            changed_features.append((name, float(seed_x[0, j]), float(typical[j])))
            variants.append((x, None))
        identifiers = []
        for et in local.data.edge_types:
            src, _, dst = et
            if src != graph.target or dst == graph.target:
                continue
            edge_index = local.data[et].edge_index
            for u in edge_index[1, edge_index[0] == 0].unique().tolist():
                if (dst, u) in identifiers:
                    continue  # same identifier through another relation (sign-up and use)
                identifiers.append((dst, u))
                variants.append((None, (dst, u)))
        scores = _seed_scores(model, local, near, variants, max_edges)
        base = scores[0]
        n_features = len(changed_features)
        feature_rows = [
            (*row, base - s)
            for row, s in zip(changed_features, scores[1 : 1 + n_features], strict=True)
        ]
        neighbour_rows = [
            (dst, local.ids[dst][u], _n_accounts(graph, dst, int(nodes[dst][u])), base - s)
            for (dst, u), s in zip(identifiers, scores[1 + n_features :], strict=True)
        ]
        out.append(_explanation(account_id, base, feature_rows, neighbour_rows, top))
    return out


def _explanation(account_id, base, feature_rows, neighbour_rows, top) -> Explanation:
    features = pd.DataFrame(feature_rows, columns=["feature", "value", "typical", "contribution"])
    neighbours = pd.DataFrame(
        neighbour_rows, columns=["node_type", "key", "n_accounts", "contribution"]
    )
    return Explanation(
        account_id=account_id,
        score=base,
        features=features.sort_values("contribution", ascending=False)
        .head(top)
        .reset_index(drop=True),
        neighbours=neighbours.sort_values("contribution", ascending=False)
        .head(top)
        .reset_index(drop=True),
    )


def reasons(explanation: Explanation, min_contribution: float = 0.01) -> list[str]:
    """Sentences for the positive contributions, largest first (see module example)."""
    items = []
    for row in explanation.neighbours.itertuples():
        if row.contribution >= min_contribution:
            items.append(
                (
                    row.contribution,
                    f"uses {row.node_type} {row.key} shared by {row.n_accounts} accounts "
                    f"(+{row.contribution:.2f})",
                )
            )
    for row in explanation.features.itertuples():
        if row.contribution >= min_contribution:
            items.append(
                (
                    row.contribution,
                    f"{row.feature} is {_fmt(row.value)}, typically {_fmt(row.typical)} "
                    f"(+{row.contribution:.2f})",
                )
            )
    return [text for _, text in sorted(items, key=lambda item: -item[0])]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2g}"
