"""Versioned model files: what ``ringwatch train`` writes and ``ringwatch detect`` reads.

A model directory holds ``model-0001.pt``, ``model-0002.pt``, ... and beside each a
``model-NNNN.json`` with the same metadata in readable form: the features of every node
type, the edge types, the hyper-parameters of both detectors, a hash of the training
data, the split sizes, validation (and test) metrics of both, and which one won.
:func:`load_model` picks the highest version unless a name is given.

A :class:`RiskModel` scores a graph only when its node types carry exactly the features
the model was trained on; otherwise it raises :class:`graphs.errors.ModelError` (a model
from older code, or a graph built differently, would otherwise give wrong scores).

The ``.pt`` file is a ``torch.save`` archive with the GNN's ``state_dict`` and the
scikit-learn booster pickled inside; load model files only from a directory you trust
(as with any pickle).

Examples
--------
>>> next_version_path(Path("/nonexistent")).name
'model-0001.pt'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from graphs.errors import ModelError

if TYPE_CHECKING:
    from gnn.hetero import Graph
    from gnn.train import GNNDetector, Selection, TreeDetector
    from graphs.snapshot import Snapshot

__all__ = [
    "FORMAT_VERSION",
    "RiskModel",
    "data_hash",
    "list_models",
    "load_model",
    "next_version_path",
    "save_model",
]

#: Bumped when the file layout changes; older files then fail to load with a ModelError.
FORMAT_VERSION = 1
_NAME = re.compile(r"^model-(\d{4,})\.pt$")


def data_hash(graph: Graph, y: np.ndarray) -> str:
    """sha256 over the target ids, the labels and every node type's features and edges."""
    digest = hashlib.sha256()
    digest.update("\n".join(graph.ids[graph.target]).encode())
    digest.update(np.nan_to_num(np.asarray(y, dtype=np.float64), nan=-1).tobytes())
    for t in sorted(graph.data.node_types):
        digest.update(t.encode())
        digest.update(graph.data[t].x.numpy().tobytes())
    for et in sorted(graph.data.edge_types):
        digest.update("|".join(et).encode())
        digest.update(graph.data[et].edge_index.numpy().tobytes())
    return digest.hexdigest()


def _versions(model_dir: Path) -> list[tuple[int, Path]]:
    if not model_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in model_dir.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def next_version_path(model_dir: Path) -> Path:
    versions = _versions(model_dir)
    return model_dir / f"model-{(versions[-1][0] + 1) if versions else 1:04d}.pt"


def list_models(model_dir: Path) -> list[dict[str, Any]]:
    """Metadata of every model in ``model_dir``, oldest first (from the ``.json`` files)."""
    out = []
    for _, path in _versions(model_dir):
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        out.append({"path": str(path), **meta})
    return out


@dataclass
class RiskModel:
    """A trained GNN and tree baseline, the winner's name and the file's metadata."""

    gnn: GNNDetector
    tree: TreeDetector
    metadata: dict[str, Any]

    @property
    def winner(self) -> str:
        return self.metadata["winner"]

    @property
    def detector(self) -> GNNDetector | TreeDetector:
        return self.gnn if self.winner == "gnn" else self.tree

    @property
    def version(self) -> str:
        return self.metadata.get("version", "unsaved")

    def check(self, graph: Graph) -> None:
        """Raise :class:`ModelError` unless ``graph`` has the features of training."""
        expected = self.metadata["features"]
        if graph.target != self.metadata["target"]:
            raise ModelError(
                f"model {self.version} scores {self.metadata['target']!r} nodes; "
                f"the graph's target is {graph.target!r}"
            )
        for node_type, names in graph.feature_names.items():
            if node_type not in expected:
                raise ModelError(
                    f"model {self.version} was trained without node type {node_type!r}; "
                    "retrain with `ringwatch train`"
                )
            if list(names) != list(expected[node_type]):
                missing = sorted(set(expected[node_type]) - set(names))
                extra = sorted(set(names) - set(expected[node_type]))
                raise ModelError(
                    f"model {self.version} was trained on other {node_type} features "
                    f"(missing {missing or 'none'}, new {extra or 'none'}, or another order); "
                    "retrain with `ringwatch train`"
                )
        missing_types = set(expected) - set(graph.feature_names)
        if missing_types:
            raise ModelError(
                f"model {self.version} needs node types {sorted(missing_types)} "
                "that the graph lacks"
            )

    def score(self, graph: Graph) -> np.ndarray:
        """Calibrated risk of every target node of ``graph`` from the winning detector."""
        self.check(graph)
        return self.detector.score(graph)

    def risk_scores(self, snapshot: Snapshot, graph: Graph | None = None) -> pd.Series:
        """``risk_score`` per account of ``snapshot`` (a Series indexed by account_id):
        what detection's ring scoring and ``accounts.csv`` take. ``attrs["model"]`` names
        the model and the detector that won on validation (detect's summary.json shows it).
        ``graph`` is ``from_snapshot(snapshot)`` when the caller has built it already.
        """
        from gnn.hetero import from_snapshot

        graph = from_snapshot(snapshot) if graph is None else graph
        scores = pd.Series(self.score(graph), index=graph.ids[graph.target], name="risk_score")
        scores.attrs["model"] = self.summary()
        return scores

    def summary(self) -> dict[str, Any]:
        """Version, winning detector (and its model class) and validation AUPRC of both."""
        metrics = self.metadata.get("metrics", {})
        return {
            "version": self.version,
            "winner": self.winner,
            "detector": (
                f"gnn:{self.gnn.model}" if self.winner == "gnn" else "tree:HistGradientBoosting"
            ),
            "val_auprc": {k: v.get("val", {}).get("auprc") for k, v in metrics.items()},
            "training_data_sha256": self.metadata.get("training_data_sha256"),
        }


def save_model(
    model_dir: Path,
    selection: Selection,
    graph: Graph,
    y: np.ndarray,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``selection`` as the next version in ``model_dir``; return the ``.pt`` path."""
    import torch

    model_dir.mkdir(parents=True, exist_ok=True)
    path = next_version_path(model_dir)
    gnn, tree = selection.gnn, selection.tree
    metadata = {
        "format_version": FORMAT_VERSION,
        "version": path.stem,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target": graph.target,
        "features": {t: list(v) for t, v in graph.feature_names.items()},
        "edge_types": ["|".join(et) for et in graph.data.edge_types],
        "hyper_parameters": {"gnn": _jsonable(gnn.get_params()), "tree": tree.get_params()},
        "training_data_sha256": data_hash(graph, y),
        "n_labelled": int((~np.isnan(np.asarray(y, dtype=float))).sum()),
        "metrics": selection.metrics,
        "winner": selection.winner,
        "gnn_best_epoch": gnn.best_epoch_,
        "tree_n_iter": tree.n_iter_,
        "train_seconds": {"gnn": gnn.train_seconds_, "tree": tree.train_seconds_},
        **(extra or {}),
    }
    payload = {
        "format_version": FORMAT_VERSION,
        "metadata": metadata,
        "gnn_params": gnn.get_params(),
        "gnn_state": gnn.net_.state_dict(),
        "gnn_log_columns": _log_columns(gnn.net_),
        "gnn_in_channels": {t: gnn.net_.lin_in[t].in_features for t in gnn.net_.node_types},
        "gnn_metadata": (gnn.net_.node_types, gnn.net_.edge_types),
        "gnn_fitted": _fitted(gnn, ("threshold_", "val_metrics_", "best_epoch_", "history_")),
        "gnn_calibrator": (gnn.calibrator_.a_, gnn.calibrator_.b_),
        "tree": pickle.dumps(tree),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(metadata, indent=2, default=str) + "\n")
    return path


def load_model(model_dir: Path, name: str | None = None) -> RiskModel:
    """The newest model in ``model_dir``, or the one ``name``d (``model-0003``, ``3`` or
    a path to a ``.pt`` file)."""
    import torch

    from gnn.train import Calibrator, GNNDetector

    path = _resolve(model_dir, name)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, pickle.UnpicklingError, EOFError) as error:
        raise ModelError(f"{path}: not a readable model file ({error})") from None
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        found = payload.get("format_version") if isinstance(payload, dict) else None
        raise ModelError(
            f"{path}: model file format {found!r}, this ringwatch reads {FORMAT_VERSION}; "
            "retrain with `ringwatch train`"
        )
    gnn = GNNDetector(**payload["gnn_params"])
    node_types, edge_types = payload["gnn_metadata"]
    net = gnn.build(
        (node_types, edge_types),
        payload["gnn_in_channels"],
        payload["metadata"]["target"],
        payload["gnn_log_columns"],
    )
    net.load_state_dict(payload["gnn_state"])
    gnn.net_ = net.eval()
    for key, value in payload["gnn_fitted"].items():
        setattr(gnn, key, value)
    gnn.calibrator_ = Calibrator()
    gnn.calibrator_.a_, gnn.calibrator_.b_ = payload["gnn_calibrator"]
    tree = pickle.loads(payload["tree"])
    return RiskModel(gnn=gnn, tree=tree, metadata=payload["metadata"])


def _resolve(model_dir: Path, name: str | None) -> Path:
    if name is None:
        versions = _versions(model_dir)
        if not versions:
            raise ModelError(f"no model in {model_dir}: run `ringwatch train` first")
        return versions[-1][1]
    candidate = Path(name)
    if candidate.suffix == ".pt" and candidate.exists():
        return candidate
    stem = f"model-{int(name):04d}" if name.isdigit() else name.removesuffix(".pt")
    path = model_dir / f"{stem}.pt"
    if not path.exists():
        known = ", ".join(p.stem for _, p in _versions(model_dir)) or "none"
        raise ModelError(f"no model {name!r} in {model_dir} (have: {known})")
    return path


def _log_columns(net) -> dict[str, list[bool]]:
    return {t: getattr(net, f"log_{t}").tolist() for t in net.node_types}


def _fitted(obj, names) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names if hasattr(obj, n)}


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
