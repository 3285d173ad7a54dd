"""Heterogeneous message-passing models, in the style of PyG's ``BasicGNN``.

:class:`HeteroGNN` does everything but the convolution: it scales raw features
(``log1p`` where :mod:`gnn.features` says so, then standardises with statistics stored as
buffers, so a model file carries them), projects each node type to ``hidden_channels``,
runs ``num_layers`` rounds of message passing and reads a logit off the target node type.
A round sums, at every destination type, one convolution per incoming edge type (as
``HeteroConv(aggr="sum")`` does), then applies a normalisation (LayerNorm by default),
ReLU, dropout and a residual connection: separating a node's own state from its
neighbours' is what lets a model work on graphs where fraudsters link to honest accounts
(heterophily).

Subclasses override one hook, :meth:`HeteroGNN.init_conv`:

- :class:`HeteroSAGE`: ``SAGEConv`` with mean aggregation per relation (with a separate
  root weight; equal to R-GCN with per-relation mean normalisation).
- :class:`HeteroGraphConv`: ``GraphConv`` with sum aggregation per relation, which sees
  how many neighbours there are, not only what they look like.
- :class:`HeteroGAT`: ``GATConv`` with attention over neighbours per relation.

``num_layers=0`` gives an MLP on the node's own features (the no-graph ablation).
``norm`` chooses the normalisation in each round: ``"layer"`` (the default),
``"batch"`` or ``"none"``.

Full-batch training (``GNNDetector(full_batch=True)``) passes a :class:`MeanOperator` per
edge type instead of an ``edge_index``: the mean over in-neighbours as one sparse matrix
product, with its transpose kept for the backward pass, so an epoch over Tolokers'
million edges never materialises one message per edge. ``HeteroSAGE``'s convolution
accepts either and gives the same result.

Examples
--------
>>> import torch
>>> from gnn.hetero import from_arrays
>>> g = from_arrays(torch.rand(4, 3).numpy(), [[0, 1], [1, 2], [2, 3]])
>>> model = HeteroSAGE(g.data.metadata(), {"node": 3}, target="node", hidden_channels=8)
>>> model(g.data.x_dict, g.data.edge_index_dict).shape
torch.Size([4])
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import (
    BatchNorm1d,
    Dropout,
    Identity,
    LayerNorm,
    Linear,
    ModuleDict,
    ModuleList,
    ReLU,
    Sequential,
)
from torch_geometric.nn import GATConv, GraphConv, SAGEConv
from torch_geometric.nn.conv import MessagePassing

__all__ = ["MODELS", "HeteroGAT", "HeteroGNN", "HeteroGraphConv", "HeteroSAGE", "MeanOperator"]

EdgeType = tuple[str, str, str]
_CLIP = 10.0  # standardised inputs beyond +-10 std carry no more information


def _key(edge_type: EdgeType) -> str:
    return "__".join(edge_type)


class _SparseProduct(torch.autograd.Function):
    """``op @ x`` whose backward is ``op_t @ grad`` with a precomputed transpose (torch
    would otherwise transpose the sparse matrix, a sort of every edge, at each step)."""

    @staticmethod
    def forward(ctx, x: Tensor, op: Tensor, op_t: Tensor) -> Tensor:
        ctx.op_t = op_t
        return op @ x

    @staticmethod
    def backward(ctx, grad: Tensor):
        return ctx.op_t @ grad, None, None


class MeanOperator:
    """The mean over each destination node's in-neighbours, as a sparse linear map.

    ``edge_index`` holds ``(source, destination)`` index pairs; a node without
    in-neighbours gets zeros (as PyG's mean aggregation gives).

    >>> op = MeanOperator(torch.tensor([[0, 1, 2], [2, 2, 0]]), num_src=3, num_dst=3)
    >>> op(torch.tensor([[1.0], [3.0], [5.0]])).squeeze(1).tolist()
    [5.0, 0.0, 2.0]
    """

    def __init__(self, edge_index: Tensor, num_src: int, num_dst: int) -> None:
        src, dst = edge_index[0].long(), edge_index[1].long()
        deg = torch.bincount(dst, minlength=num_dst).clamp_min(1).float()
        value = 1.0 / deg[dst]
        self.op = (
            torch.sparse_coo_tensor(torch.stack([dst, src]), value, (num_dst, num_src))
            .coalesce()
            .to_sparse_csr()
        )
        self.op_t = (
            torch.sparse_coo_tensor(torch.stack([src, dst]), value, (num_src, num_dst))
            .coalesce()
            .to_sparse_csr()
        )

    def __call__(self, x: Tensor) -> Tensor:
        return _SparseProduct.apply(x, self.op, self.op_t)

    def to(self, device) -> MeanOperator:
        self.op, self.op_t = self.op.to(device), self.op_t.to(device)
        return self


class _SAGEConv(SAGEConv):
    """``SAGEConv`` (mean) that also takes a :class:`MeanOperator` in place of the edges."""

    def forward(self, x, edge_index, size=None) -> Tensor:
        if not isinstance(edge_index, MeanOperator):
            return super().forward(x, edge_index, size)
        x_src, x_dst = x if isinstance(x, tuple) else (x, x)
        return self.lin_l(edge_index(x_src)) + self.lin_r(x_dst)


def _norm(kind: str, channels: int) -> torch.nn.Module:
    if kind == "layer":
        return LayerNorm(channels)
    if kind == "batch":
        return BatchNorm1d(channels)
    if kind == "none":
        return Identity()
    from graphs.errors import ModelError

    raise ModelError(f"norm must be 'layer', 'batch' or 'none', not {kind!r}")


class HeteroGNN(torch.nn.Module):
    """Base class; see the module docstring. Subclasses implement :meth:`init_conv`."""

    def __init__(
        self,
        metadata: tuple[list[str], list[EdgeType]],
        in_channels: dict[str, int],
        target: str,
        hidden_channels: int = 64,
        num_layers: int = 2,
        dropout: float = 0.2,
        log_columns: dict[str, list[bool]] | None = None,
        norm: str = "layer",
    ) -> None:
        super().__init__()
        node_types, edge_types = metadata
        self.node_types = list(node_types)
        self.edge_types = [tuple(et) for et in edge_types]
        self.target = target
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        log_columns = log_columns or {}
        for t in self.node_types:
            n = in_channels[t]
            mask = torch.tensor(log_columns.get(t, [False] * n), dtype=torch.bool)
            self.register_buffer(f"log_{t}", mask)
            self.register_buffer(f"mean_{t}", torch.zeros(n))
            self.register_buffer(f"std_{t}", torch.ones(n))
        self.lin_in = ModuleDict({t: Linear(in_channels[t], hidden_channels) for t in node_types})
        self.convs = ModuleList(
            ModuleDict(
                {
                    _key(et): self.init_conv(et, hidden_channels, hidden_channels)
                    for et in edge_types
                }
            )
            for _ in range(num_layers)
        )
        self.norms = ModuleList(
            ModuleDict({t: _norm(norm, hidden_channels) for t in node_types})
            for _ in range(num_layers)
        )
        self.dropout = Dropout(dropout)
        self.head = Sequential(
            Linear(hidden_channels, hidden_channels),
            ReLU(),
            Dropout(dropout),
            Linear(hidden_channels, 1),
        )

    def init_conv(self, edge_type: EdgeType, in_channels: int, out_channels: int) -> MessagePassing:
        """The convolution for one edge type in one layer (the hook subclasses override)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ scaling
    def _log(self, node_type: str, x: Tensor) -> Tensor:
        mask = getattr(self, f"log_{node_type}")
        return torch.where(mask, torch.log1p(x.clamp_min(0)), x)

    @torch.no_grad()
    def fit_scaling(self, x_dict: dict[str, Tensor]) -> HeteroGNN:
        """Store per-column mean and std of the (log-)features of every node type."""
        for t in self.node_types:
            x = self._log(t, x_dict[t].float())
            if len(x):
                getattr(self, f"mean_{t}").copy_(x.mean(0))
                getattr(self, f"std_{t}").copy_(x.std(0, unbiased=False).clamp_min(1e-6))
        return self

    def scale(self, node_type: str, x: Tensor) -> Tensor:
        x = (self._log(node_type, x) - getattr(self, f"mean_{node_type}")) / getattr(
            self, f"std_{node_type}"
        )
        return x.clamp(-_CLIP, _CLIP)

    # ------------------------------------------------------------------ forward
    def embed(self, x_dict: dict[str, Tensor]) -> dict[str, Tensor]:
        return {t: self.lin_in[t](self.scale(t, x)) for t, x in x_dict.items() if t in self.lin_in}

    def layer(
        self,
        i: int,
        h_src: dict[str, Tensor],
        h_dst: dict[str, Tensor],
        edge_index_dict: dict[EdgeType, Tensor],
    ) -> dict[str, Tensor]:
        """Round ``i`` of message passing from ``h_src`` into the nodes of ``h_dst``."""
        summed: dict[str, Tensor] = {}
        for et, edge_index in edge_index_dict.items():
            src, _, dst = et
            if dst not in h_dst or src not in h_src or _key(et) not in self.convs[i]:
                continue
            size = (h_src[src].shape[0], h_dst[dst].shape[0])
            msg = self.convs[i][_key(et)]((h_src[src], h_dst[dst]), edge_index, size=size)
            summed[dst] = msg if dst not in summed else summed[dst] + msg
        out = {}
        for t, h in h_dst.items():
            if t in summed:
                h = h + self.dropout(torch.relu(self.norms[i][t](summed[t])))
            out[t] = h
        return out

    def forward(
        self,
        x_dict: dict[str, Tensor],
        edge_index_dict: dict[EdgeType, Tensor],
        num_sampled_nodes: dict[str, list[int]] | None = None,
        num_sampled_edges: dict[EdgeType, list[int]] | None = None,
    ) -> Tensor:
        """Logits of every node of the target type in ``x_dict``.

        With the per-hop counts of a sampled mini-batch (``gnn.sampling``: nodes and
        edges numbered hop by hop), layer ``i`` updates only the nodes within
        ``num_layers - 1 - i`` hops of the seeds, over the edges into them: the same
        logits for the seeds at a fraction of the cost (PyG's ``trim_to_layer``); the
        other nodes' logits are then not computed, so only the seeds' are returned.
        """
        h = self.embed(x_dict)
        for i in range(self.num_layers):
            if num_sampled_nodes is None or num_sampled_edges is None:
                h = self.layer(i, h, h, edge_index_dict)
                continue
            hops = self.num_layers - 1 - i  # the nodes this layer must update
            keep = {t: sum(num_sampled_nodes[t][: hops + 1]) for t in h}
            edges = {
                et: e[:, : sum(num_sampled_edges[et][: hops + 1])]
                for et, e in edge_index_dict.items()
            }
            h = self.layer(i, h, {t: v[: keep[t]] for t, v in h.items()}, edges)
        return self.head(h[self.target]).squeeze(-1)

    @torch.no_grad()
    def inference(
        self,
        x_dict: dict[str, Tensor],
        edge_index_dict: dict[EdgeType, Tensor],
        chunk_size: int = 65_536,
    ) -> Tensor:
        """Logits of all target nodes, layer by layer over full neighbourhoods.

        Exact (no sampling) and memory-bounded: each layer is computed for ``chunk_size``
        destination nodes at a time, so only one chunk's messages exist at once. A layer
        updates only the node types that later layers read (the last one only the
        target), and a type's previous embeddings are freed once no type left in the
        layer reads them (the 1M world: 5.7M nodes of 64 floats, 1.4 GiB per copy).
        """
        device = next(self.parameters()).device
        updated = self._updated_types(edge_index_dict)
        csc = {
            et: _by_destination(edge_index, x_dict[et[2]].shape[0])
            for et, edge_index in edge_index_dict.items()
            if et[2] in updated[0]
        }
        h = {
            t: _fill(
                len(x), chunk_size, lambda a, b, t=t, x=x: self.embed({t: x[a:b].to(device)})[t]
            )
            for t, x in x_dict.items()
            if t in self.lin_in and len(x)
        }
        for i in range(self.num_layers):
            # the target first (it reads every other type), then the rest in h's order
            todo = [t for t in dict.fromkeys((self.target, *h)) if t in updated[i] and t in h]
            new = {}
            for n, t in enumerate(todo):
                new[t] = _fill(
                    len(h[t]),
                    chunk_size,
                    lambda a, b, i=i, h=h, t=t: self._layer_chunk(i, h, t, a, b, csc),
                )
                left = set(todo[n + 1 :])
                for s in [s for s in h if s not in left]:
                    if not any(et[0] == s and et[2] in left for et in csc):
                        del h[s]  # no type left in this layer reads it
            h = new
        target = h[self.target]
        return _fill(len(target), chunk_size, lambda a, b: self.head(target[a:b]).squeeze(-1))

    def _updated_types(self, edge_index_dict: dict[EdgeType, Tensor]) -> list[set[str]]:
        """Per layer, the node types whose output a later layer (or the head) reads."""
        updated, wanted = [], {self.target}
        for _ in range(self.num_layers):
            updated.insert(0, wanted)
            wanted = wanted | {et[0] for et in edge_index_dict if et[2] in wanted}
        return updated

    def _layer_chunk(self, i: int, h: dict[str, Tensor], t: str, a: int, b: int, csc) -> Tensor:
        """Layer ``i``'s output for nodes ``a`` to ``b - 1`` of type ``t``."""
        device = h[t].device
        edges = {}
        for et, (ptr, src) in csc.items():
            if et[2] == t and et[0] in h:
                lo, hi = int(ptr[a]), int(ptr[b])
                dst = torch.repeat_interleave(torch.arange(b - a), ptr[a + 1 : b + 1] - ptr[a:b])
                edges[et] = torch.stack([src[lo:hi], dst]).to(device)
        return self.layer(i, h, {t: h[t][a:b]}, edges)[t]


def _fill(n: int, chunk_size: int, rows) -> Tensor:
    """``rows(a, b)`` for ``chunk_size`` rows at a time, written into one tensor of ``n``
    rows (not a list of parts and their concatenation: half the peak)."""
    out = None
    for a in range(0, n, chunk_size):
        b = min(a + chunk_size, n)
        part = rows(a, b)
        if out is None:
            out = part.new_empty((n, *part.shape[1:]))
        out[a:b] = part
    return out if out is not None else torch.empty(0)


def _by_destination(edge_index: Tensor, n_dst: int) -> tuple[Tensor, Tensor]:
    """``(ptr, src)``: the sources of the edges into each destination, destination by
    destination (``src[ptr[d]:ptr[d + 1]]`` point into ``d``, in their given order)."""
    dst = edge_index[1]
    ptr = torch.zeros(n_dst + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(torch.bincount(dst, minlength=n_dst), 0)
    if len(dst) < 2 or bool((dst[1:] >= dst[:-1]).all()):
        return ptr, edge_index[0]  # already in order (reverse edges): no copy
    return ptr, edge_index[0, torch.argsort(dst, stable=True)]


class HeteroSAGE(HeteroGNN):
    """GraphSAGE per relation: mean of neighbours plus a root weight."""

    def init_conv(self, edge_type: EdgeType, in_channels: int, out_channels: int) -> MessagePassing:
        return _SAGEConv((in_channels, in_channels), out_channels, aggr="mean")


class HeteroGraphConv(HeteroGNN):
    """GraphConv per relation with sum aggregation (sees neighbourhood sizes)."""

    def init_conv(self, edge_type: EdgeType, in_channels: int, out_channels: int) -> MessagePassing:
        return GraphConv((in_channels, in_channels), out_channels, aggr="add")


class HeteroGAT(HeteroGNN):
    """GAT per relation: attention over neighbours (4 heads, concatenated)."""

    heads = 4

    def init_conv(self, edge_type: EdgeType, in_channels: int, out_channels: int) -> MessagePassing:
        return GATConv(
            (in_channels, in_channels),
            out_channels // self.heads,
            heads=self.heads,
            add_self_loops=False,
        )


#: Model classes by the name used on the command line and in model files.
MODELS: dict[str, type[HeteroGNN]] = {
    "sage": HeteroSAGE,
    "graphconv": HeteroGraphConv,
    "gat": HeteroGAT,
}
