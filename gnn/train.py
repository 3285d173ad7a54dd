"""Training: splits, metrics, calibration, the GNN detector and its tree baseline.

Both detectors follow one protocol (as PyGOD and scikit-learn do): ``__init__`` stores
hyper-parameters only; ``fit(graph, y, split)`` learns from the labelled target nodes of
``split.train``, early-stops or selects on ``split.val`` and calibrates there; ``score``
returns a calibrated probability for every target node, ``predict`` a boolean at
``threshold_`` (the score at which validation FPR is 1%). Fitted state ends in ``_``;
``score`` or ``predict`` before ``fit`` raise :class:`graphs.errors.NotFittedError`.

- :class:`GNNDetector` trains a :mod:`gnn.models` network on mini-batches from the
  pure-torch neighbour sampler (:mod:`gnn.sampling`), with positives up-weighted by the
  class ratio, early stopping on validation AUPRC, and Platt scaling on validation.
  With ``full_batch=True`` every epoch is one step over the whole graph (exact
  neighbourhoods; for graphs that fit in memory, such as the public benchmarks), and
  ``select_metric="roc_auc"`` early-stops on validation ROC-AUC instead.
- :class:`TreeDetector` is GADBench's strong baseline: scikit-learn's
  ``HistGradientBoostingClassifier`` on the node's own features plus features aggregated
  from its neighbours (:func:`neighbour_aggregates`), early-stopped on validation AUPRC,
  with the same calibration.

:func:`fit_and_select` fits both on the same split and keeps the one with the higher
validation AUPRC. Splits are by time (:func:`time_split`: accounts created later are
validated and tested on); :func:`stratified_split` is the public benchmarks' protocol.
"""

from __future__ import annotations

import copy
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gnn.hetero import Graph
from graphs.errors import ModelError, NotFittedError

__all__ = [
    "Calibrator",
    "GNNDetector",
    "Selection",
    "Split",
    "TreeDetector",
    "binned",
    "fit_and_select",
    "metrics",
    "neighbour_aggregates",
    "quantile_edges",
    "recall_at_fpr",
    "stratified_split",
    "time_split",
    "torch_threads",
    "train_on_snapshot",
]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- splits
@dataclass(frozen=True)
class Split:
    """Indices (into the target node type) of the train, validation and test nodes."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def time_split(
    created_at: pd.Series | np.ndarray,
    y: np.ndarray,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
) -> Split:
    """Split the labelled nodes (``y`` not NaN) by creation time: the oldest
    ``fractions[0]`` train, the next ``fractions[1]`` validate, the newest test.

    >>> t = pd.to_datetime(["2026-01-05", "2026-01-01", "2026-01-03", "2026-01-02", "2026-01-04"])
    >>> s = time_split(t, np.array([0, 1, np.nan, 0, 1.0]), (0.5, 0.25, 0.25))
    >>> s.train.tolist(), s.val.tolist(), s.test.tolist()
    ([1, 3], [4], [0])
    """
    labelled = np.flatnonzero(~np.isnan(np.asarray(y, dtype=float)))
    times = pd.to_datetime(pd.Series(np.asarray(created_at)), utc=True).to_numpy()
    order = labelled[np.argsort(times[labelled], kind="stable")]
    a = round(fractions[0] * len(order))
    b = round((fractions[0] + fractions[1]) * len(order))
    return Split(train=order[:a], val=order[a:b], test=order[b:])


def stratified_split(
    y: np.ndarray, seed: int, fractions: tuple[float, float, float] = (0.4, 0.2, 0.4)
) -> Split:
    """Seeded stratified split of the labelled nodes (the public benchmarks' protocol).

    >>> s = stratified_split(np.array([0, 1] * 10, dtype=float), seed=0)
    >>> len(s.train), len(s.val), len(s.test)
    (8, 4, 8)
    """
    from sklearn.model_selection import train_test_split

    labelled = np.flatnonzero(~np.isnan(np.asarray(y, dtype=float)))
    train, rest = train_test_split(
        labelled, train_size=fractions[0], stratify=y[labelled], random_state=seed
    )
    val_share = fractions[1] / (fractions[1] + fractions[2])
    val, test = train_test_split(rest, train_size=val_share, stratify=y[rest], random_state=seed)
    return Split(train=np.sort(train), val=np.sort(val), test=np.sort(test))


# ---------------------------------------------------------------------------- metrics
def recall_at_fpr(y_true: np.ndarray, score: np.ndarray, fpr: float = 0.01) -> float:
    """Highest recall reachable while at most ``fpr`` of the negatives are flagged.

    >>> recall_at_fpr(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.15]), fpr=0.0)
    0.5
    """
    from sklearn.metrics import roc_curve

    if len(np.unique(y_true)) < 2:
        return float("nan")
    fprs, tprs, _ = roc_curve(y_true, score)
    return float(tprs[fprs <= fpr].max())


def metrics(y_true: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """AUPRC (with its base rate), ROC-AUC and recall at 1% FPR of ``score``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_true = np.asarray(y_true, dtype=float)
    both = len(np.unique(y_true)) == 2
    return {
        "auprc": float(average_precision_score(y_true, score)) if both else float("nan"),
        "base_rate": float(y_true.mean()) if len(y_true) else float("nan"),
        "roc_auc": float(roc_auc_score(y_true, score)) if both else float("nan"),
        "recall_at_1pct_fpr": recall_at_fpr(y_true, score, 0.01),
        "n": len(y_true),
        "n_positive": int(y_true.sum()),
    }


# ------------------------------------------------------------------------ calibration
class Calibrator:
    """Platt scaling: a logistic regression on the raw logit, fitted on validation.

    Training up-weights the rare class, so raw outputs overstate risk; this maps them
    back to probabilities at the validation base rate.

    >>> c = Calibrator().fit(np.array([-2.0, -1, 1, 2]), np.array([0, 0, 1, 1]))
    >>> bool(c.transform(np.array([3.0]))[0] > 0.5)
    True
    """

    def __init__(self) -> None:
        pass

    def fit(self, logit: np.ndarray, y: np.ndarray) -> Calibrator:
        from sklearn.linear_model import LogisticRegression

        if len(np.unique(y)) < 2:
            raise ModelError("calibration needs both classes among the validation labels")
        model = LogisticRegression(C=1e4).fit(np.asarray(logit).reshape(-1, 1), y)
        self.a_ = float(model.coef_[0, 0])
        self.b_ = float(model.intercept_[0])
        return self

    def transform(self, logit: np.ndarray) -> np.ndarray:
        if not hasattr(self, "a_"):
            raise NotFittedError("Calibrator is not fitted: call fit first")
        z = self.a_ * np.asarray(logit, dtype=float) + self.b_
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _threshold_at_fpr(y: np.ndarray, score: np.ndarray, fpr: float = 0.01) -> float:
    negatives = np.sort(score[y == 0])
    if not len(negatives):
        return 0.5
    return float(negatives[min(len(negatives) - 1, int(np.ceil((1 - fpr) * len(negatives))))])


class _Detector:
    """Shared ``score`` / ``predict`` on top of a subclass's ``decision_function``."""

    def get_params(self) -> dict[str, Any]:
        """The hyper-parameters given to ``__init__`` (as scikit-learn's ``get_params``)."""
        import inspect

        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return {name: getattr(self, name) for name in names}

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibrator_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit first")

    def decision_function(self, graph: Graph) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, graph: Graph) -> np.ndarray:
        """Calibrated fraud probability of every target node of ``graph``."""
        self._check_fitted()
        return self.calibrator_.transform(self.decision_function(graph))

    def predict(self, graph: Graph) -> np.ndarray:
        """``score >= threshold_`` (1% FPR on validation) for every target node."""
        return self.score(graph) >= self.threshold_

    def _finish(self, logit_val: np.ndarray, y_val: np.ndarray) -> None:
        self.calibrator_ = Calibrator().fit(logit_val, y_val)
        prob = self.calibrator_.transform(logit_val)
        self.threshold_ = _threshold_at_fpr(y_val, prob)
        self.val_metrics_ = metrics(y_val, prob)


def _check_labels(y: np.ndarray, split: Split) -> None:
    for name in ("train", "val"):
        part = y[getattr(split, name)]
        if np.isnan(part).any():
            raise ModelError(f"the {name} split holds unlabelled nodes")
        if len(np.unique(part)) < 2:
            raise ModelError(
                f"the {name} split needs fraud and legit labels; it has {len(part)} nodes, "
                f"{int(np.nansum(part))} fraud"
            )


# -------------------------------------------------------------------------------- GNN
def _inputs(batch) -> tuple:
    """A sampled mini-batch as the model's arguments, with its per-hop counts so that
    each layer skips the nodes it need not update."""
    return (
        batch.x_dict,
        batch.edge_index_dict,
        batch.collect("num_sampled_nodes"),
        batch.collect("num_sampled_edges"),
    )


class _FullBatch:
    """The whole graph as one batch: features and a :class:`gnn.models.MeanOperator` per
    edge type (built once per graph and device, kept in ``graph.cache``)."""

    def __init__(self, graph: Graph, device) -> None:
        from gnn.models import MeanOperator

        key = ("mean_operators", str(device))
        data = graph.data
        if key not in graph.cache:
            graph.cache[key] = {
                et: MeanOperator(
                    data[et].edge_index, data[et[0]].num_nodes, data[et[2]].num_nodes
                ).to(device)
                for et in data.edge_types
            }
        x_dict = {t: x.to(device) for t, x in data.x_dict.items()}
        self.inputs = (x_dict, graph.cache[key])


@contextmanager
def torch_threads(n: int | None):
    """Run a block with ``n`` intra-op torch (OpenMP) threads; ``None`` changes nothing."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class GNNDetector(_Detector):
    """A heterogeneous GNN trained with neighbour sampling (see the module docstring).

    Parameters are stored as given; ``device=None`` uses CUDA when it is available.
    The defaults are the set-up measured on the 100k world (docs/gnn.md): mini-batches
    of 2048 accounts with fan-out (10, 5), early stopping after 10 epochs without a
    better validation AUPRC. ``threads`` is the number of torch threads for sampled
    training and layer-wise scoring on the CPU (``None``: torch's setting; full-batch
    training keeps torch's setting): one, because mini-batch operations are too small
    to gain from a second thread, and on a shared machine a second OpenMP thread that
    waits for a busy core stalls every operation (docs/gnn.md: an epoch took 5-10x
    longer with two threads than with one at load 8).
    """

    def __init__(
        self,
        model: str = "sage",
        hidden_channels: int = 64,
        num_layers: int = 2,
        dropout: float = 0.2,
        lr: float = 3e-3,
        weight_decay: float = 1e-5,
        epochs: int = 200,
        patience: int = 10,
        fanout: tuple[int, ...] = (10, 5),
        batch_size: int = 2048,
        seed: int = 0,
        device: str | None = None,
        norm: str = "layer",
        full_batch: bool = False,
        select_metric: str = "auprc",
        threads: int | None = 1,
    ) -> None:
        self.model = model
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.patience = patience
        self.fanout = fanout
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.norm = norm
        self.full_batch = full_batch
        self.select_metric = select_metric
        self.threads = threads

    def _threads(self):
        return torch_threads(None if self.full_batch else self.threads)

    def _device(self):
        import torch

        return torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    def build(
        self,
        metadata: tuple[list[str], list[tuple[str, str, str]]],
        in_channels: dict[str, int],
        target: str,
        log_columns: dict[str, list[bool]] | None = None,
    ):
        """An untrained network for these node and edge types (``HeteroData.metadata()``)."""
        from gnn.models import MODELS

        if self.model not in MODELS:
            raise ModelError(f"unknown model {self.model!r}; choose one of {sorted(MODELS)}")
        return MODELS[self.model](
            metadata,
            in_channels,
            target=target,
            hidden_channels=self.hidden_channels,
            num_layers=self.num_layers,
            dropout=self.dropout,
            log_columns=log_columns,
            norm=self.norm,
        )

    def fit(self, graph: Graph, y: np.ndarray, split: Split) -> GNNDetector:
        with self._threads():
            return self._fit(graph, y, split)

    def _fit(self, graph: Graph, y: np.ndarray, split: Split) -> GNNDetector:
        import torch

        from gnn.sampling import UniformSampler, neighbour_loader

        y = np.asarray(y, dtype=float)
        _check_labels(y, split)
        if self.select_metric not in ("auprc", "roc_auc"):
            raise ModelError(
                f"select_metric must be 'auprc' or 'roc_auc', not {self.select_metric!r}"
            )
        torch.manual_seed(self.seed)
        device = self._device()
        data = graph.data
        in_channels = {t: data[t].x.shape[1] for t in data.node_types}
        net = self.build(data.metadata(), in_channels, graph.target, graph.log_columns)
        net = net.fit_scaling(data.x_dict).to(device)
        y_t = torch.as_tensor(np.nan_to_num(y), dtype=torch.float32)
        n_pos = float(y[split.train].sum())
        pos_weight = torch.tensor((len(split.train) - n_pos) / max(n_pos, 1.0), device=device)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        optim = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.full_batch:
            train_loader = [_FullBatch(graph, device)]
        else:
            train_loader = neighbour_loader(
                data,
                UniformSampler(data, self.fanout, seed=self.seed),
                graph.target,
                torch.as_tensor(split.train),
                self.batch_size,
                shuffle=True,
            )
        best, best_state, stale, history = -1.0, None, 0, []
        started = time.perf_counter()
        for epoch in range(self.epochs):
            net.train()
            total = 0.0
            for batch in train_loader:
                optim.zero_grad()
                if self.full_batch:
                    train = torch.as_tensor(split.train, device=device)
                    logit, n = net(*batch.inputs)[train], len(split.train)
                    loss = loss_fn(logit, y_t.to(device)[train])
                else:
                    batch = batch.to(device)
                    n = batch[graph.target].batch_size
                    logit = net(*_inputs(batch))[:n]
                    loss = loss_fn(logit, y_t[batch[graph.target].n_id[:n].cpu()].to(device))
                loss.backward()
                optim.step()
                total += float(loss.detach()) * n
            if self.full_batch:
                val_logit = self.decision_function(graph, net)[split.val]
            else:
                val_logit = self._sampled_logits(net, graph, split.val, seed=self.seed + 1)
            val_auprc = metrics(y[split.val], val_logit)[self.select_metric]
            history.append(
                {
                    "epoch": epoch,
                    "loss": total / len(split.train),
                    "val_auprc": val_auprc,
                    "seconds": time.perf_counter() - started,
                }
            )
            log.info("epoch %d loss %.4f val AUPRC %.4f", epoch, history[-1]["loss"], val_auprc)
            if val_auprc > best:
                best, stale = val_auprc, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                stale += 1
                if stale >= self.patience:
                    break
        net.load_state_dict(best_state)
        self.net_ = net.eval()
        self.history_ = history
        # "val_auprc" holds the select_metric (AUPRC unless select_metric says otherwise)
        self.best_epoch_ = int(np.argmax([h["val_auprc"] for h in history]))
        self.train_seconds_ = time.perf_counter() - started
        began = time.perf_counter()
        self._finish(self.decision_function(graph)[split.val], y[split.val])
        self.timings_ = {"epochs": self.train_seconds_, "calibration": time.perf_counter() - began}
        return self

    def _sampled_logits(self, net, graph: Graph, nodes: np.ndarray, seed: int) -> np.ndarray:
        """Logits of ``nodes`` from sampled neighbourhoods (fixed seed: comparable epochs)."""
        import torch

        from gnn.sampling import UniformSampler, neighbour_loader

        device = self._device()
        net.eval()
        loader = neighbour_loader(
            graph.data,
            UniformSampler(graph.data, self.fanout, seed=seed),
            graph.target,
            torch.as_tensor(nodes),
            max(self.batch_size, 8192),  # forward only: fewer, larger batches are cheaper
        )
        out = []
        with torch.no_grad():
            for batch in loader:
                batch = batch.to(device)
                n = batch[graph.target].batch_size
                out.append(net(*_inputs(batch))[:n].cpu())
        return torch.cat(out).numpy() if out else np.empty(0)

    def decision_function(self, graph: Graph, net=None) -> np.ndarray:
        """Raw logits of every target node (exact full-neighbourhood inference);
        ``net`` scores with that network instead of the fitted one (during ``fit``)."""
        import torch

        if net is None:
            if not hasattr(self, "net_"):
                raise NotFittedError("GNNDetector is not fitted: call fit first")
            net = self.net_
        device = self._device()
        net = net.to(device).eval()
        if self.full_batch:
            with torch.no_grad():
                return net(*_FullBatch(graph, device).inputs).cpu().numpy()
        data = graph.data
        with self._threads():
            return net.inference(data.x_dict, data.edge_index_dict).cpu().numpy()


# ------------------------------------------------------------------------------- tree
def _segment(values, index, n: int, reduce: str):
    import torch

    out = torch.zeros((n, values.shape[1]), dtype=values.dtype)
    return out.index_reduce_(0, index, values, reduce, include_self=False)


def neighbour_aggregates(graph: Graph) -> tuple[np.ndarray, list[str]]:
    """GADBench-style tabular features of every target node, and their names.

    The node's own raw features; then, for every edge type into the target type, the
    number of neighbours and the mean and max over them of their features extended with
    the mean of *their* neighbours' features (so two hops: e.g. for an account, the
    devices it used and the other accounts on those devices).

    >>> from gnn.hetero import from_arrays
    >>> g = from_arrays(np.array([[1.0], [3.0], [5.0]]), [[0, 1], [1, 2]])
    >>> X, names = neighbour_aggregates(g)
    >>> names[:4]
    ['x0', 'to.n', 'to.mean.x0', 'to.mean.mean.x0']
    >>> X[1, :3].tolist()
    [3.0, 2.0, 3.0]
    """
    import torch

    if "neighbour_aggregates" in graph.cache:
        return graph.cache["neighbour_aggregates"]
    data = graph.data
    x = {t: data[t].x.float() for t in data.node_types}
    names = {t: list(graph.feature_names[t]) for t in data.node_types}
    ext, ext_names = {}, {}
    for t in data.node_types:
        parts, part_names = [x[t]], list(names[t])
        for et in data.edge_types:
            if et[2] != t:
                continue
            src, dst = data[et].edge_index
            parts.append(_segment(x[et[0]][src], dst, x[t].shape[0], "mean"))
            part_names += [f"mean.{n}" for n in names[et[0]]]
        ext[t], ext_names[t] = torch.cat(parts, 1), part_names
    target = graph.target
    cols, col_names = [x[target]], list(names[target])
    for et in data.edge_types:
        if et[2] != target:
            continue
        src, dst = data[et].edge_index
        n = x[target].shape[0]
        rel = et[1]
        deg = torch.bincount(dst, minlength=n).float().unsqueeze(1)
        cols += [
            deg,
            _segment(ext[et[0]][src], dst, n, "mean"),
            _segment(ext[et[0]][src], dst, n, "amax"),
        ]
        col_names += [f"{rel}.n"]
        col_names += [f"{rel}.mean.{c}" for c in ext_names[et[0]]]
        col_names += [f"{rel}.max.{c}" for c in ext_names[et[0]]]
    result = torch.cat(cols, 1).numpy().astype(np.float32), col_names
    graph.cache["neighbour_aggregates"] = result
    return result


def quantile_edges(X: np.ndarray, max_bins: int = 255) -> list[np.ndarray]:
    """Per column of ``X``, at most ``max_bins - 1`` thresholds that cut it into bins of
    about equal counts (midpoints between distinct values when there are few).

    The thresholds scikit-learn's histogram boosting finds without sample weights
    (quantiles by ``averaged_inverted_cdf``). We bin before fitting because with sample
    weights (``class_weight``) scikit-learn >= 1.6 finds them with one weighted
    percentile per threshold and column, each sorting the column again: 99% of the
    boosting time on the 100k world's 885 columns (docs/gnn.md).

    >>> [e.tolist() for e in quantile_edges(np.array([[0.0, 1], [1, 1], [2, 1]]), max_bins=2)]
    [[1.0], []]
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    if n == 0:
        return [np.empty(0) for _ in range(X.shape[1])]
    ordered = np.sort(X, axis=0)  # one sort of every column (NaN last)
    # numpy's averaged_inverted_cdf: at n * q an integer j, the mean of the j-th and
    # j+1-th smallest; otherwise the ceil(n * q)-th smallest
    virtual = n * (np.linspace(0, 100, num=max_bins + 1)[1:-1] / 100) - 1
    below = np.floor(virtual)
    share = np.where(virtual - below == 0, 0.5, 1.0)[:, None]
    below = below.astype(int)
    cuts = (1 - share) * ordered[below.clip(0, n - 1)] + share * ordered[(below + 1).clip(0, n - 1)]
    new_value = np.diff(ordered, axis=0) != 0
    edges = []
    for j in range(X.shape[1]):
        column = ordered[:, j]
        if np.isnan(column[-1]):  # rare: the slow, exact path for columns with NaN
            kept = column[~np.isnan(column)]
            distinct = np.unique(kept)
            cut = (
                np.percentile(
                    kept,
                    np.linspace(0, 100, num=max_bins + 1)[1:-1],
                    method="averaged_inverted_cdf",
                )
                if len(kept)
                else []
            )
        else:
            distinct = column[np.concatenate([[True], new_value[:, j]])]
            cut = cuts[:, j]
        if len(distinct) <= max_bins:
            edges.append((distinct[:-1] + distinct[1:]) / 2)
        else:
            edges.append(np.unique(cut))
    return edges


def binned(X: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """``X`` with each value replaced by its bin (how many of its column's ``edges``
    lie below it); NaN stays NaN.

    >>> binned(np.array([[0.5, 3.0], [2.0, np.nan]]), [np.array([1.0]), np.array([])]).tolist()
    [[0.0, 0.0], [1.0, nan]]
    """
    out = np.empty(X.shape, dtype=np.float32)
    for j, cut in enumerate(edges):
        out[:, j] = np.searchsorted(cut, X[:, j], side="left")
    out[np.isnan(X)] = np.nan
    return out


class TreeDetector(_Detector):
    """Gradient-boosted trees on :func:`neighbour_aggregates` (see the module docstring).

    Features are binned by :func:`quantile_edges` of the training rows (``edges_``)
    before boosting, so that class weights do not make scikit-learn's binning slow.
    """

    def __init__(
        self,
        max_iter: int = 400,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        n_iter_no_change: int = 20,
        seed: int = 0,
    ) -> None:
        self.max_iter = max_iter
        self.n_iter_no_change = n_iter_no_change
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.seed = seed

    def fit(self, graph: Graph, y: np.ndarray, split: Split) -> TreeDetector:
        from sklearn.ensemble import HistGradientBoostingClassifier

        y = np.asarray(y, dtype=float)
        _check_labels(y, split)
        started = time.perf_counter()
        X, self.feature_names_ = neighbour_aggregates(graph)
        aggregated = time.perf_counter()
        self.edges_ = quantile_edges(X[split.train])
        X = binned(X, self.edges_)
        binned_at = time.perf_counter()
        # Early stopping on our (time-based) validation split, not a random internal one.
        self.booster_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            class_weight="balanced",
            early_stopping=True,
            scoring="average_precision",
            n_iter_no_change=self.n_iter_no_change,
            random_state=self.seed,
        ).fit(X[split.train], y[split.train], X_val=X[split.val], y_val=y[split.val])
        self.n_iter_ = int(self.booster_.n_iter_)
        self.train_seconds_ = time.perf_counter() - started
        began = time.perf_counter()
        self._finish(self.booster_.decision_function(X[split.val]), y[split.val])
        self.timings_ = {
            "neighbour_aggregates": aggregated - started,
            "binning": binned_at - aggregated,
            "boosting": began - binned_at,
            "calibration": time.perf_counter() - began,
        }
        return self

    def decision_function(self, graph: Graph) -> np.ndarray:
        if not hasattr(self, "booster_"):
            raise NotFittedError("TreeDetector is not fitted: call fit first")
        X = neighbour_aggregates(graph)[0]
        # model files from before binning hold no edges_: their booster binned itself
        edges = getattr(self, "edges_", None)
        return self.booster_.decision_function(X if edges is None else binned(X, edges))


# -------------------------------------------------------------------------- selection
@dataclass
class Selection:
    """Both fitted detectors, their validation and test metrics, and the winner's name."""

    gnn: GNNDetector
    tree: TreeDetector
    winner: str
    metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    @property
    def detector(self) -> _Detector:
        return self.gnn if self.winner == "gnn" else self.tree


def fit_and_select(
    graph: Graph,
    y: np.ndarray,
    split: Split,
    gnn: GNNDetector | None = None,
    tree: TreeDetector | None = None,
) -> Selection:
    """Fit the GNN and the tree baseline on ``split``; the winner has the higher
    validation AUPRC. ``metrics[name]`` holds ``val`` and ``test`` metrics of each."""
    gnn = (gnn or GNNDetector()).fit(graph, y, split)
    tree = (tree or TreeDetector()).fit(graph, y, split)
    scores = {"gnn": gnn.score(graph), "tree": tree.score(graph)}
    result = {}
    for name, detector in (("gnn", gnn), ("tree", tree)):
        result[name] = {"val": detector.val_metrics_}
        if len(split.test):
            result[name]["test"] = metrics(y[split.test], scores[name][split.test])
    winner = "gnn" if gnn.val_metrics_["auprc"] >= tree.val_metrics_["auprc"] else "tree"
    return Selection(gnn=gnn, tree=tree, winner=winner, metrics=result)


@dataclass
class Training:
    """What :func:`train_on_snapshot` built and fitted (all a model file needs)."""

    graph: Graph
    y: np.ndarray
    split: Split
    selection: Selection


def train_on_snapshot(
    snapshot,
    extra_labels: pd.Series | None = None,
    unlabelled: str = "legit",
    gnn: GNNDetector | None = None,
    tree: TreeDetector | None = None,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
) -> Training:
    """Build the graph of ``snapshot``, split it by sign-up time and fit both detectors.

    Labels are ``snapshot.accounts.label`` overridden by ``extra_labels`` (investigator
    decisions). ``unlabelled="legit"`` counts accounts without a label as legitimate
    (most are; measured better than ``"ignore"``, which trains on labelled accounts
    only, see docs/gnn.md).
    """
    from gnn.hetero import from_snapshot, label_vector

    if unlabelled not in ("legit", "ignore"):
        raise ModelError(f"unlabelled must be 'legit' or 'ignore', not {unlabelled!r}")
    graph = from_snapshot(snapshot)
    y = label_vector(snapshot.accounts, extra_labels).to_numpy()
    if unlabelled == "legit":
        y = np.nan_to_num(y, nan=0.0)
    split = time_split(snapshot.accounts["created_at"], y, fractions)
    selection = fit_and_select(graph, y, split, gnn=gnn, tree=tree)
    return Training(graph=graph, y=y, split=split, selection=selection)
