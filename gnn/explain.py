"""Why an account got its risk score: top contributing features and neighbours.

:func:`explain` works for whichever detector won (GNN or trees) the same way, by
occlusion on the account's two-hop neighbourhood (all it can see):

- a **feature** contributes ``score - score with that feature set to the typical
  (median) account's value``;
- a **neighbour** (an identifier the account used: a card, a device, a subnet...)
  contributes ``score - score with the account's links to it removed``.

Positive contributions raise the risk. The dashboard and ring reasons call
:func:`explain` (one account, a few dozen small forward passes) or :func:`reasons` for
sentences.

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

__all__ = ["Explanation", "explain", "reasons"]


@dataclass(frozen=True)
class Explanation:
    """``features``: feature, value, typical, contribution; ``neighbours``: node_type,
    key, n_accounts, contribution; both sorted by contribution, largest first."""

    account_id: str
    score: float
    features: pd.DataFrame
    neighbours: pd.DataFrame


def _local_graph(graph: Graph, index: int, max_neighbours: int) -> tuple[Graph, dict]:
    """The two-hop neighbourhood of target node ``index`` as a Graph (seed is node 0)."""
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
    return local, out.node


def _with(local: Graph, x: dict | None = None, drop: tuple[str, int] | None = None) -> Graph:
    """A copy of ``local`` with the seed's features replaced, or its edges to the
    identifier ``drop = (node_type, local index)`` removed (both directions)."""
    from torch_geometric.data import HeteroData

    data = HeteroData()
    for t in local.data.node_types:
        data[t].x = x[t] if x and t in x else local.data[t].x
    for et in local.data.edge_types:
        edge_index = local.data[et].edge_index
        if drop is not None:
            src, _, dst = et
            if src == local.target and dst == drop[0]:
                keep = ~((edge_index[0] == 0) & (edge_index[1] == drop[1]))
                edge_index = edge_index[:, keep]
            elif dst == local.target and src == drop[0]:
                keep = ~((edge_index[1] == 0) & (edge_index[0] == drop[1]))
                edge_index = edge_index[:, keep]
        data[et].edge_index = edge_index
    return Graph(data, local.ids, local.target, local.feature_names, local.log_columns)


def explain(
    model: RiskModel, graph: Graph, account_id: str, top: int = 5, max_neighbours: int = 500
) -> Explanation:
    """Top ``top`` features and neighbours behind ``account_id``'s score under ``model``.

    Identifiers shared by more than ``max_neighbours`` accounts are seen through a
    sample of them (the explanation then approximates the score it explains).
    """
    model.check(graph)
    index = int(graph.index_of(graph.target, [account_id])[0])
    if index < 0:
        raise ModelError(f"account {account_id!r} is not in the graph")
    detector = model.detector
    local, _ = _local_graph(graph, index, max_neighbours)
    base = float(detector.score(local)[0])

    x_all = graph.data[graph.target].x
    typical = x_all.median(0).values
    seed_x = local.data[graph.target].x
    feature_rows = []
    for j, name in enumerate(graph.feature_names[graph.target]):
        if float(seed_x[0, j]) == float(typical[j]):
            continue
        x = seed_x.clone()
        x[0, j] = typical[j]
        changed = float(detector.score(_with(local, x={graph.target: x}))[0])
        feature_rows.append((name, float(seed_x[0, j]), float(typical[j]), base - changed))
    features = pd.DataFrame(feature_rows, columns=["feature", "value", "typical", "contribution"])

    neighbour_rows = []
    for et in local.data.edge_types:
        src, _, dst = et
        if src != graph.target or dst == graph.target:
            continue
        edge_index = local.data[et].edge_index
        for u in edge_index[1, edge_index[0] == 0].unique().tolist():
            if any(r[0] == dst and r[4] == u for r in neighbour_rows):
                continue  # same identifier through another relation (sign-up and use)
            changed = float(detector.score(_with(local, drop=(dst, u)))[0])
            n_accounts = _n_accounts(graph, dst, local.ids[dst][u])
            neighbour_rows.append((dst, local.ids[dst][u], n_accounts, base - changed, u))
    neighbours = pd.DataFrame(
        [r[:4] for r in neighbour_rows], columns=["node_type", "key", "n_accounts", "contribution"]
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


def _n_accounts(graph: Graph, node_type: str, key: str) -> int:
    index = graph.index_of(node_type, [key])[0]
    count = 0
    for et in graph.data.edge_types:
        if et[0] == graph.target and et[2] == node_type:
            edge_index = graph.data[et].edge_index
            count = max(count, int((edge_index[1] == index).sum()))
    return count


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
