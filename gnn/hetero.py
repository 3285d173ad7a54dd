"""Graphs as PyTorch Geometric ``HeteroData``, with explicit id-to-index maps.

:func:`from_snapshot` turns a :class:`graphs.snapshot.Snapshot` into a :class:`Graph`:
accounts and each identifier type (device, ip, subnet, email, phone, payment_method,
user_agent, creator) are node types; every link kind is an edge type
``("account", kind, node_type)`` with its reverse ``(node_type, "rev_" + kind, "account")``,
and ips point to their subnets. Node ``i`` of a type is ``graph.ids[type][i]``; string
ids never enter a tensor and indices never leave ``gnn/``.

:func:`from_arrays` is the homogeneous mode used on the public benchmarks: one node type
``"node"`` and one edge type, so the same models and training code run unchanged.

Features are raw here (:mod:`gnn.features`); models scale them (``gnn.models.Scaler``).

Examples
--------
>>> import numpy as np
>>> g = from_arrays(np.eye(3), np.array([[0, 1], [1, 2]]), labels=np.array([0, 1, 1]))
>>> g.data["node"].x.shape, g.data["node", "to", "node"].edge_index.shape
(torch.Size([3, 3]), torch.Size([2, 4]))
>>> g.target
'node'
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gnn import features as F

if TYPE_CHECKING:
    from torch_geometric.data import HeteroData

    from graphs.snapshot import Snapshot

__all__ = [
    "ACCOUNT",
    "IDENTIFIER_TYPES",
    "Graph",
    "from_arrays",
    "from_snapshot",
    "label_vector",
    "ring_decision_labels",
]

ACCOUNT = "account"
#: Identifier node types; a snapshot graph has all of them (some maybe without nodes),
#: so every snapshot gives the same node and edge types and the same feature columns.
IDENTIFIER_TYPES = (*sorted(set(F.NODE_TYPE_OF_KIND.values())), "subnet")


@dataclass
class Graph:
    """A ``HeteroData`` plus, per node type, the ids of its nodes in index order.

    ``target`` is the node type that is scored (``"account"``, or ``"node"`` in the
    homogeneous mode); ``feature_names`` names the columns of each type's ``x`` and
    ``log_columns`` says which of them models read as ``log1p`` (counts, amounts);
    ``cache`` keeps what is derived from the graph once (``gnn.train.neighbour_aggregates``);
    ``timings`` holds the seconds spent building it, per stage (for benchmarks).
    """

    data: HeteroData
    ids: dict[str, pd.Index]
    target: str
    feature_names: dict[str, list[str]]
    log_columns: dict[str, list[bool]] = field(default_factory=dict)
    cache: dict = field(default_factory=dict, repr=False)
    timings: dict[str, float] = field(default_factory=dict, repr=False)

    def index_of(self, node_type: str, ids: pd.Index | list[str] | pd.Series) -> np.ndarray:
        """Indices of ``ids`` in ``node_type``; -1 for an id the graph does not hold."""
        return self.ids[node_type].get_indexer(pd.Index(ids))

    @property
    def n_target(self) -> int:
        return len(self.ids[self.target])


def _tensor(frame: pd.DataFrame):
    import torch

    return torch.tensor(frame.to_numpy(dtype=np.float32))


def _edge_index(src: np.ndarray, dst: np.ndarray):
    import torch

    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    if not len(src):
        return torch.empty((2, 0), dtype=torch.long)
    # One int64 key per pair: a 1-d unique is many times faster than ``unique(axis=1)``
    # (which sorts rows as structured values) and gives the same (src, dst) order. Sorted
    # and then deduplicated by hand: numpy 2.4's ``np.unique`` hashes first, 1.4 s per
    # million-edge type on the 1M world against a few hundredths for the sort.
    width = int(dst.max()) + 1
    key = np.sort(src * width + dst)
    if len(key) > 1:
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]
    return torch.from_numpy(np.stack([key // width, key % width]))


def from_snapshot(snapshot: Snapshot) -> Graph:
    """The account–identifier graph of ``snapshot`` with raw features on every node type.

    Links whose account is not in ``snapshot.accounts`` are not edges (there is no node
    for them); repeated links between the same pair are one edge.
    """
    from torch_geometric.data import HeteroData

    began = time.perf_counter()
    data = HeteroData()
    if snapshot.accounts["account_id"].duplicated().any():
        from graphs.errors import ModelError

        raise ModelError("snapshot.accounts has duplicate account_id values")
    # string ids are hashed once, into integer codes that features and edges share
    codes = F.LinkCodes.of(snapshot)
    account_x = F.account_features(snapshot, codes)
    ids = {ACCOUNT: pd.Index(account_x.index, name="account_id")}
    data[ACCOUNT].x = _tensor(account_x)
    names = {ACCOUNT: list(account_x.columns)}
    del account_x
    ident_x = F.identifier_features(snapshot, codes)
    timings = {"features": time.perf_counter() - began}
    began = time.perf_counter()
    empty = pd.DataFrame(columns=[f.name for f in F.IDENTIFIER_FEATURES], dtype=float)
    for node_type in IDENTIFIER_TYPES:
        frame = ident_x.pop(node_type, empty)
        ids[node_type] = pd.Index(frame.index, name="key")
        data[node_type].x = _tensor(frame)
        names[node_type] = list(frame.columns)
    for kind, node_type in {**F.NODE_TYPE_OF_KIND, "subnet": "subnet"}.items():
        data[ACCOUNT, kind, node_type].edge_index = _edge_index(np.empty(0), np.empty(0))
        data[node_type, f"rev_{kind}", ACCOUNT].edge_index = _edge_index(np.empty(0), np.empty(0))
    n_accounts = len(ids[ACCOUNT])
    for node_type, rows in codes.rows.items():
        account, key = codes.account[rows], codes.key[node_type]
        if node_type == "subnet":  # subnet rows are ip rows: one kind of their own
            kind_code, kinds = np.zeros(len(rows), dtype=np.int64), ["subnet"]
        else:
            kind_code, kinds = codes.kind[rows], codes.kinds
        for i, name in enumerate(kinds):
            if name != "subnet" and F.NODE_TYPE_OF_KIND[name] != node_type:
                continue
            edges = np.flatnonzero((kind_code == i) & (account < n_accounts))
            edge_index = _edge_index(account[edges], key[edges])
            data[ACCOUNT, name, node_type].edge_index = edge_index
            data[node_type, f"rev_{name}", ACCOUNT].edge_index = edge_index.flip(0)
    src = np.flatnonzero(codes.subnet_of_ip >= 0)
    edge_index = _edge_index(src, codes.subnet_of_ip[src])
    data["ip", "in_subnet", "subnet"].edge_index = edge_index
    data["subnet", "rev_in_subnet", "ip"].edge_index = edge_index.flip(0)
    logs = {t: [f.log for f in F.IDENTIFIER_FEATURES] for t in IDENTIFIER_TYPES}
    logs[ACCOUNT] = [f.log for f in F.ACCOUNT_FEATURES]
    timings["hetero_data"] = time.perf_counter() - began
    return Graph(
        data=data, ids=ids, target=ACCOUNT, feature_names=names, log_columns=logs, timings=timings
    )


def from_arrays(
    x: np.ndarray,
    edges: np.ndarray,
    labels: np.ndarray | None = None,
    feature_names: list[str] | None = None,
    undirected: bool = True,
    log_columns: list[bool] | None = None,
    neighbour_means: bool = False,
) -> Graph:
    """Homogeneous mode: ``x`` (n x d), ``edges`` (m x 2 or 2 x m index pairs).

    ``undirected`` adds every reverse edge; self-loops are dropped (models keep a node's
    own state through their root weight and residual connections). Ids are ``"0"``,
    ``"1"``, ...; ``labels`` (0/1, optional) go to ``data["node"].y``; ``log_columns``
    marks the columns models should read as ``log1p``. ``neighbour_means`` appends the
    node's degree (read as ``log1p``) and the mean of every column over its neighbours
    (``"mean.<name>"``): the degree is what a mean-aggregating GNN cannot see otherwise.

    >>> g = from_arrays(np.array([[1.0], [3.0], [5.0]]), [[0, 1], [1, 2]], neighbour_means=True)
    >>> g.feature_names["node"], g.data["node"].x[1].tolist(), g.log_columns["node"]
    (['x0', 'degree', 'mean.x0'], [3.0, 2.0, 3.0], [False, True, False])
    """
    import torch
    from torch_geometric.data import HeteroData

    edges = np.asarray(edges)
    if edges.shape[0] != 2:
        edges = edges.T
    src, dst = edges[0], edges[1]
    if undirected:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    keep = src != dst
    data = HeteroData()
    data["node"].x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    data["node", "to", "node"].edge_index = _edge_index(src[keep], dst[keep])
    if labels is not None:
        data["node"].y = torch.as_tensor(np.asarray(labels, dtype=np.float32))
    n, d = data["node"].x.shape
    names = list(feature_names or [f"x{i}" for i in range(d)])
    ids = {"node": pd.Index([str(i) for i in range(n)], name="node_id")}
    logs = {"node": list(log_columns)} if log_columns is not None else {}
    if neighbour_means:
        x0, (src, dst) = data["node"].x, data["node", "to", "node"].edge_index
        degree = torch.bincount(dst, minlength=n).float()
        means = torch.zeros_like(x0).index_add_(0, dst, x0[src]) / degree.clamp_min(1)[:, None]
        data["node"].x = torch.cat([x0, degree[:, None], means], 1)
        logs = {"node": logs.get("node", [False] * d) + [True] + [False] * d}
        names += ["degree"] + [f"mean.{c}" for c in names]
    return Graph(data=data, ids=ids, target="node", feature_names={"node": names}, log_columns=logs)


def label_vector(accounts: pd.DataFrame, extra: pd.Series | None = None) -> pd.Series:
    """Training labels per account: 1.0 fraud, 0.0 legit, NaN unknown.

    ``accounts`` is ``Snapshot.accounts`` (its ``label`` column); ``extra`` (indexed by
    account_id, values ``"fraud"``/``"legit"``, booleans or 0/1) are investigator decisions
    that override it, e.g. members of confirmed (fraud) and dismissed (legit) rings.

    >>> acc = pd.DataFrame({"account_id": ["a", "b", "c"], "label": ["fraud", None, "legit"]})
    >>> label_vector(acc, pd.Series({"b": "fraud", "c": "fraud", "zz": "legit"})).tolist()
    [1.0, 1.0, 1.0]
    """
    ids = pd.Index(accounts["account_id"], name="account_id")
    mapping = {"fraud": 1.0, "legit": 0.0, True: 1.0, False: 0.0}  # 1 == True, 0 == False
    column = accounts["label"] if "label" in accounts else pd.Series(None, index=accounts.index)
    y = pd.Series(column.map(mapping).to_numpy(dtype=float), index=ids)
    if extra is not None and len(extra):
        decided = extra.map(mapping)
        bad = extra[decided.isna() & extra.notna()]
        if len(bad):
            from graphs.errors import ModelError

            raise ModelError(
                f"extra labels must be fraud/legit or 0/1; got {bad.iloc[0]!r} for {bad.index[0]!r}"
            )
        decided = decided[decided.index.isin(ids)]
        y.loc[decided.index] = decided.astype(float)
    return y


def ring_decision_labels(rings: pd.DataFrame) -> pd.Series:
    """Labels from investigators' ring decisions: members of ``confirmed`` rings are
    ``fraud``, of ``dismissed`` rings ``legit`` (fraud wins for an account in both).

    ``rings`` has ``status`` and ``accounts`` (lists), as ``ingest.rings_io.read_rings``
    returns them.

    >>> rings = pd.DataFrame({"status": ["confirmed", "dismissed", "open"],
    ...     "accounts": [["a", "b"], ["b", "c"], ["d"]]})
    >>> ring_decision_labels(rings).to_dict()
    {'a': 'fraud', 'b': 'fraud', 'c': 'legit'}
    """
    decided = rings[rings["status"].isin(("confirmed", "dismissed"))]
    members = decided.explode("accounts").dropna(subset=["accounts"])
    label = np.where(members["status"] == "confirmed", "fraud", "legit")
    frame = pd.DataFrame({"account_id": members["accounts"].to_numpy(), "label": label})
    # "fraud" sorts before "legit": keep the first per account
    frame = frame.sort_values(["account_id", "label"]).drop_duplicates("account_id")
    return pd.Series(
        frame["label"].to_numpy(), index=pd.Index(frame["account_id"], name="account_id")
    )
