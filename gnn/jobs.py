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


#: ``score_job`` explains this many of the highest-scored accounts by default.
EXPLAIN_TOP = 20


def score_job(
    snapshot: Snapshot, model_dir: Path, name: str | None = None, explain_top: int = EXPLAIN_TOP
) -> tuple[pd.Series, str]:
    """Calibrated ``risk_score`` per account of ``snapshot`` from the newest (or named)
    model, and that model's version.

    The ``explain_top`` highest-scored accounts are explained (:func:`gnn.explain.explain_many`:
    top contributing features and neighbours, by occlusion on their neighbourhoods); their
    sentences are in ``scores.attrs["explanations"]`` (account_id -> list of str), which
    detection turns into the accounts' reasons. The work is bounded by ``explain_top``.
    ``scores.attrs["timings"]`` holds the seconds of each part (``load``, ``features``,
    ``graph``, ``forward``, ``explain``): detect's summary.json shows them as
    ``model_timings_s`` beside the stage's total.
    """
    from gnn.explain import explain_many, reasons
    from gnn.hetero import from_snapshot
    from gnn.model_file import load_model

    began = time.perf_counter()
    model = load_model(model_dir, name)
    timings = {"load": time.perf_counter() - began}
    graph = from_snapshot(snapshot)
    timings["features"] = graph.timings["features"]
    timings["graph"] = graph.timings["hetero_data"]
    began = time.perf_counter()
    scores = model.risk_scores(snapshot, graph=graph)
    timings["forward"] = time.perf_counter() - began
    began = time.perf_counter()
    top = [str(a) for a in scores.nlargest(min(explain_top, len(scores))).index]
    explained = explain_many(model, graph, top, top=3)
    scores.attrs["explanations"] = {e.account_id: reasons(e) for e in explained}
    timings["explain"] = time.perf_counter() - began
    scores.attrs["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return scores, model.version
