"""Uniform neighbour sampling in pure PyTorch, for PyG's ``NodeLoader``.

PyG's own ``NeighborLoader`` needs the compiled ``pyg-lib`` or ``torch-sparse``, neither
of which is built for the torch we use, so it raises ``ImportError``. This sampler does
the same job with tensor operations only: per hop and edge type, a destination node
keeps all its in-neighbours when it has at most ``k`` of them, else ``k`` drawn uniformly
(with replacement, then de-duplicated, so possibly fewer). Drawing with replacement keeps
the cost at ``O(k)`` per node even for an identifier shared by a million accounts.

It returns PyG's ``HeteroSamplerOutput``, so ``NodeLoader`` builds the mini-batch
``HeteroData`` (seed nodes first in ``batch[target].n_id``, ``batch_size`` seeds). Nodes
are numbered hop by hop and edges are stored hop by hop, with the counts per hop in
``batch[t].num_sampled_nodes`` and ``batch[et].num_sampled_edges``, so a model can skip
the nodes and edges a layer does not need (as PyG's ``trim_to_layer`` does).

Examples
--------
>>> import torch
>>> from torch_geometric.data import HeteroData
>>> data = HeteroData()
>>> data["node"].x = torch.zeros(4, 1)
>>> data["node", "to", "node"].edge_index = torch.tensor([[1, 2, 3], [0, 0, 1]])
>>> sampler = UniformSampler(data, fanout=[5, 5], seed=0)
>>> loader = neighbour_loader(data, sampler, "node", torch.tensor([0]), batch_size=1)
>>> sorted(next(iter(loader))["node"].n_id.tolist())
[0, 1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch_geometric.sampler import BaseSampler, HeteroSamplerOutput

if TYPE_CHECKING:
    from torch_geometric.data import HeteroData
    from torch_geometric.loader import NodeLoader

__all__ = ["UniformSampler", "neighbour_loader"]


def _csc(edge_index: torch.Tensor, num_dst: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(colptr, src sorted by dst, edge ids in that order)``."""
    dst = edge_index[1]
    perm = torch.argsort(dst, stable=True)
    counts = torch.bincount(dst, minlength=num_dst)
    colptr = torch.zeros(num_dst + 1, dtype=torch.long)
    colptr[1:] = torch.cumsum(counts, 0)
    return colptr, edge_index[0, perm].contiguous(), perm


def _pick(colptr: torch.Tensor, nodes: torch.Tensor, k: int, gen: torch.Generator):
    """Positions (into the CSC arrays) of sampled in-edges of ``nodes``, and their
    destination's position in ``nodes``."""
    start = colptr[nodes]
    deg = colptr[nodes + 1] - start
    take_all = deg <= k if k >= 0 else torch.ones_like(deg, dtype=torch.bool)
    # Nodes with few neighbours: every in-edge.
    all_nodes = torch.nonzero(take_all).flatten()
    all_deg = deg[all_nodes]
    owner = torch.repeat_interleave(all_nodes, all_deg)
    first = torch.cumsum(all_deg, 0) - all_deg
    offset = torch.arange(int(all_deg.sum()), dtype=torch.long) - torch.repeat_interleave(
        first, all_deg
    )
    pos = start[owner] + offset
    # Nodes with many neighbours: k draws with replacement, duplicates removed (a
    # position belongs to one destination, so de-duplicating positions is enough).
    many = torch.nonzero(~take_all).flatten()
    if len(many):
        draw = (torch.rand((len(many), k), generator=gen) * deg[many, None]).long()
        drawn, inverse = torch.unique((start[many, None] + draw).flatten(), return_inverse=True)
        owner_many = torch.empty(len(drawn), dtype=torch.long)
        owner_many[inverse] = many.repeat_interleave(k)
        pos = torch.cat([pos, drawn])
        owner = torch.cat([owner, owner_many])
    return pos, owner


class UniformSampler(BaseSampler):
    """Uniform multi-hop neighbour sampler over a ``HeteroData`` (see module docstring).

    ``fanout[h]`` is the number of neighbours per node and edge type at hop ``h``; -1
    takes them all (full neighbourhoods: exact layer outputs, for small graphs).
    """

    def __init__(self, data: HeteroData, fanout: Sequence[int], seed: int = 0) -> None:
        self.fanout = list(fanout)
        self.num_nodes = {t: data[t].num_nodes for t in data.node_types}
        self.csc = {et: _csc(data[et].edge_index, self.num_nodes[et[2]]) for et in data.edge_types}
        self.generator = torch.Generator().manual_seed(seed)

    def sample_from_nodes(self, index, **kwargs):
        seed_type = index.input_type
        seeds = index.node
        nodes = {t: [] for t in self.num_nodes}
        # global -> local map per type, -1 where not yet sampled
        local = {t: torch.full((n,), -1, dtype=torch.long) for t, n in self.num_nodes.items()}
        count = dict.fromkeys(self.num_nodes, 0)

        def add(node_type: str, glob: torch.Tensor) -> torch.Tensor:
            """Add the unseen nodes of ``glob``; return the newly added ones."""
            glob = torch.unique(glob)
            new = glob[local[node_type][glob] < 0]
            local[node_type][new] = torch.arange(count[node_type], count[node_type] + len(new))
            count[node_type] += len(new)
            nodes[node_type].append(new)
            return new

        # Seeds (unique) keep their order: the loader reads the first batch_size as seeds.
        local[seed_type][seeds] = torch.arange(len(seeds))
        count[seed_type] = len(seeds)
        nodes[seed_type].append(seeds)
        frontier = {seed_type: seeds}
        rows: dict = {et: [] for et in self.csc}
        cols: dict = {et: [] for et in self.csc}
        edges: dict = {et: [] for et in self.csc}
        num_sampled_nodes = {t: [0] for t in self.num_nodes}
        num_sampled_nodes[seed_type][0] = len(seeds)
        num_sampled_edges = {et: [] for et in self.csc}
        for k in self.fanout:
            reached: dict[str, list[torch.Tensor]] = {}
            for et, (colptr, src, perm) in self.csc.items():
                dst_nodes = frontier.get(et[2])
                if dst_nodes is None or not len(dst_nodes):
                    num_sampled_edges[et].append(0)
                    continue
                pos, owner = _pick(colptr, dst_nodes, k, self.generator)
                src_glob = src[pos]
                reached.setdefault(et[0], []).append(src_glob)
                rows[et].append(src_glob)  # global for now, mapped below
                cols[et].append(local[et[2]][dst_nodes[owner]])
                edges[et].append(perm[pos])
                num_sampled_edges[et].append(len(pos))
            frontier = {}
            for t in self.num_nodes:
                new = (
                    add(t, torch.cat(reached[t]))
                    if t in reached
                    else torch.empty(0, dtype=torch.long)
                )
                frontier[t] = new
                num_sampled_nodes[t].append(len(new))
        out_row, out_col, out_edge = {}, {}, {}
        for et in self.csc:
            if rows[et]:
                out_row[et] = local[et[0]][torch.cat(rows[et])]
                out_col[et] = torch.cat(cols[et])
                out_edge[et] = torch.cat(edges[et])
            else:
                out_row[et] = out_col[et] = out_edge[et] = torch.empty(0, dtype=torch.long)
        node = {
            t: torch.cat(v) if v else torch.empty(0, dtype=torch.long) for t, v in nodes.items()
        }
        return HeteroSamplerOutput(
            node=node,
            row=out_row,
            col=out_col,
            edge=out_edge,
            num_sampled_nodes=num_sampled_nodes,
            num_sampled_edges=num_sampled_edges,
            metadata=(index.input_id, index.time),
        )

    def sample_from_edges(self, index, neg_sampling=None):  # pragma: no cover - not used
        raise NotImplementedError("UniformSampler samples from nodes only")


def neighbour_loader(
    data: HeteroData,
    sampler: UniformSampler,
    node_type: str,
    nodes: torch.Tensor,
    batch_size: int,
    shuffle: bool = False,
) -> NodeLoader:
    """A PyG ``NodeLoader`` over ``nodes`` of ``node_type`` using ``sampler``."""
    from torch_geometric.loader import NodeLoader

    return NodeLoader(
        data,
        node_sampler=sampler,
        input_nodes=(node_type, nodes),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=0,
    )
