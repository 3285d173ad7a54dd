"""The GNN's jobs, for the command line to compose: train and write a model file, and
score a snapshot with a saved model.

They take a :class:`graphs.snapshot.Snapshot` (read by the caller from Neo4j or a
dataset directory) and a model directory; the CLI decides where those come from.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from graphs.snapshot import Snapshot

__all__ = ["score_job", "train_job"]


def train_job(
    snapshot: Snapshot,
    model_dir: Path,
    extra_labels: pd.Series | None = None,
    unlabelled: str = "legit",
    gnn_params: dict[str, Any] | None = None,
    seed: int = 0,
) -> tuple[Path, dict[str, Any]]:
    """Fit both detectors on ``snapshot`` and save the next model version; return its
    path and metadata."""
    from gnn.model_file import load_model, save_model
    from gnn.train import GNNDetector, TreeDetector, train_on_snapshot

    started = time.perf_counter()
    training = train_on_snapshot(
        snapshot,
        extra_labels=extra_labels,
        unlabelled=unlabelled,
        gnn=GNNDetector(**(gnn_params or {}), seed=seed),
        tree=TreeDetector(seed=seed),
    )
    known = snapshot.accounts["label"].value_counts()
    extra = {
        "labels": {k: int(known.get(k, 0)) for k in ("fraud", "legit")},
        "unlabelled": unlabelled,
        "n_extra_labels": 0 if extra_labels is None else len(extra_labels),
        "split": {k: len(getattr(training.split, k)) for k in ("train", "val", "test")},
        "n_accounts": snapshot.n_accounts,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    path = save_model(model_dir, training.selection, training.graph, training.y, extra=extra)
    return path, load_model(model_dir, str(path)).metadata


#: ``score_job`` explains this many of the highest-scored accounts by default (about 3 s
#: each on the 100k world: occlusion runs a few dozen forward passes per account).
EXPLAIN_TOP = 20


def score_job(
    snapshot: Snapshot, model_dir: Path, name: str | None = None, explain_top: int = EXPLAIN_TOP
) -> tuple[pd.Series, str]:
    """Calibrated ``risk_score`` per account of ``snapshot`` from the newest (or named)
    model, and that model's version.

    The ``explain_top`` highest-scored accounts are explained (:func:`gnn.explain.explain`:
    top contributing features and neighbours, a few dozen small forward passes each); their
    sentences are in ``scores.attrs["explanations"]`` (account_id -> list of str), which
    detection turns into the accounts' reasons. The work is bounded by ``explain_top``.
    """
    from gnn.explain import explain, reasons
    from gnn.hetero import from_snapshot
    from gnn.model_file import load_model

    model = load_model(model_dir, name)
    graph = from_snapshot(snapshot)
    scores = model.risk_scores(snapshot, graph=graph)
    top = scores.nlargest(min(explain_top, len(scores))).index
    scores.attrs["explanations"] = {
        str(account): reasons(explain(model, graph, str(account), top=3)) for account in top
    }
    return scores, model.version
