"""The GNN and its tree baseline on public graph-fraud benchmarks, beside published numbers.

The same model code as ``ringwatch train``, in the homogeneous mode
(:func:`gnn.hetero.from_arrays`), on the datasets of ``../shared/datasets`` (see its
README for the protocol): Tolokers on its 10 shipped splits (ROC-AUC, mean and std);
Amazon-UPU and Reddit on seeded stratified 40/20/40 splits, five seeds (ROC-AUC and
AUPRC with the base rate). Prints a table and writes JSON.

The GNN is ``GNNDetector`` with :data:`GNN_PARAMS` (full-batch GraphSAGE, chosen on
Tolokers' validation masks only, see docs/gnn.md); the graph gets each node's degree and
neighbour means as extra input columns (``from_arrays(neighbour_means=True)``). It
early-stops on the dataset's headline metric on validation (:data:`SELECT_METRIC`).

Usage::

    .venv/bin/python scripts/public_benchmarks.py --out artifacts/public_benchmarks.json
    .venv/bin/python scripts/public_benchmarks.py --datasets tolokers --runs 2   # quick look
    # in parallel, then combined (same table and JSON as one run):
    .venv/bin/python scripts/public_benchmarks.py --datasets tolokers --splits 0-4 --out a.json
    .venv/bin/python scripts/public_benchmarks.py --datasets tolokers --splits 5-9 --out b.json
    .venv/bin/python scripts/public_benchmarks.py --merge a.json b.json --out all.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"

#: Published numbers, from ../shared/datasets/README.md (ROC-AUC and AUPRC in %).
PUBLISHED = {
    "tolokers": {
        "GCN": {"roc_auc": (83.64, 0.67)},
        "GraphSAGE": {"roc_auc": (82.43, 0.44)},
        "GAT": {"roc_auc": (83.70, 0.47)},
        "GAT-sep (best published)": {"roc_auc": (83.78, 0.43)},
        "Graph Transformer": {"roc_auc": (83.23, 0.64)},
        "ResNet (no graph)": {"roc_auc": (72.95, 1.06)},
    },
    "amazon_upu": {
        "TAM (unsupervised)": {"roc_auc": (70.64, None), "auprc": (26.34, None)},
        "GCTAM (unsupervised)": {"roc_auc": (84.38, None)},
    },
    "reddit": {
        "TAM (unsupervised)": {"roc_auc": (60.23, None)},
        "GADBench models": {"note": "AUPRC close to the base rate"},
    },
}

#: Hyper-parameters used here (chosen on Tolokers' validation masks only, see docs/gnn.md).
GNN_PARAMS = {
    "model": "sage",
    "hidden_channels": 64,
    "num_layers": 2,
    "dropout": 0.2,
    "lr": 1e-3,
    "epochs": 300,
    "patience": 40,
    "norm": "layer",
    "full_batch": True,
}

#: Extra input columns: degree and neighbour means (``from_arrays(neighbour_means=True)``).
NEIGHBOUR_MEANS = True

#: The validation metric the GNN early-stops on: each dataset's headline metric.
SELECT_METRIC = {"tolokers": "roc_auc", "amazon_upu": "auprc", "reddit": "auprc"}


def load(name: str, neighbour_means: bool = NEIGHBOUR_MEANS):
    """``(graph, y, splits)`` of a public dataset in the homogeneous mode."""
    from functools import partial

    from gnn.hetero import from_arrays as _from_arrays
    from gnn.train import Split, stratified_split

    from_arrays = partial(_from_arrays, neighbour_means=neighbour_means)

    if name == "tolokers":
        d = np.load(DATASETS / "tolokers.npz")
        y = d["node_labels"].astype(float)
        graph = from_arrays(d["node_features"], d["edges"], labels=y)
        splits = [
            Split(*(np.flatnonzero(d[f"{part}_masks"][i]) for part in ("train", "val", "test")))
            for i in range(d["train_masks"].shape[0])
        ]
        return graph, y, splits
    if name == "amazon_upu":
        from scipy.io import loadmat

        m = loadmat(DATASETS / "amazon_upu.mat")
        net = m["Network"].tocoo()
        x = m["Attributes"].toarray()
        y = m["Label"].ravel().astype(float)
        graph = from_arrays(x, np.stack([net.row, net.col]), labels=y)
    elif name == "reddit":
        d = np.load(DATASETS / "reddit.npz")
        y = d["y"].astype(float)
        graph = from_arrays(d["x"], d["edge_index"], labels=y)
    else:
        raise SystemExit(f"unknown dataset {name!r}")
    return graph, y, [stratified_split(y, seed) for seed in range(5)]


def run(
    name: str, indices: list[int] | None, gnn_params: dict, progress=None, trees: bool = True
) -> dict:
    """Fit and test both detectors on the splits ``indices`` (all when None) of ``name``;
    ``trees=False`` fits the GNN only (to compare GNN settings on validation)."""
    from gnn.train import GNNDetector, TreeDetector, metrics

    graph, y, splits = load(name)
    indices = list(range(len(splits))) if indices is None else indices
    gnn_params = {"select_metric": SELECT_METRIC[name], **gnn_params}
    rows: dict[str, list[dict]] = {"gnn": [], "tree": [], "selected": []}
    for i in indices:
        split = splits[i]
        started = time.perf_counter()
        gnn = GNNDetector(**gnn_params, seed=i).fit(graph, y, split)
        tree = TreeDetector(seed=i).fit(graph, y, split) if trees else gnn
        for key, det in (("gnn", gnn), ("tree", tree)):
            rows[key].append(
                {
                    **metrics(y[split.test], det.score(graph)[split.test]),
                    "split": i,
                    "val_roc_auc": det.val_metrics_["roc_auc"],
                    "val_auprc": det.val_metrics_["auprc"],
                    "train_seconds": det.train_seconds_,
                }
            )
        rows["gnn"][-1]["best_epoch"] = gnn.best_epoch_
        if not trees:
            rows["tree"][-1] = {"skipped": True, **{k: float("nan") for k in rows["gnn"][-1]}}
        winner = "gnn" if gnn.val_metrics_["auprc"] >= tree.val_metrics_["auprc"] else "tree"
        rows["selected"].append({**rows[winner][-1], "winner": winner})
        print(
            f"  {name} run {i}: "
            + " | ".join(
                f"{key} ROC-AUC {rows[key][-1]['roc_auc']:.4f} AUPRC {rows[key][-1]['auprc']:.4f}"
                for key in ("gnn", "tree")
            )
            + f" | val winner {winner} ({time.perf_counter() - started:.0f}s)",
            flush=True,
        )
        if progress is not None:
            progress({"runs_done": len(rows["gnn"]), "per_run": rows})
    return summarise(name, rows)


def summarise(name: str, rows: dict[str, list[dict]]) -> dict:
    """Mean and standard deviation over the runs of every metric, per model."""
    summary = {}
    for key, values in rows.items():
        summary[key] = {
            metric: [
                float(np.mean([v[metric] for v in values])),
                float(np.std([v[metric] for v in values])),
            ]
            for metric in ("roc_auc", "auprc", "base_rate", "recall_at_1pct_fpr")
        }
    summary["selected"]["winners"] = [v["winner"] for v in rows["selected"]]
    return {
        "runs": len(rows["gnn"]),
        "summary": summary,
        "per_run": rows,
        "published": PUBLISHED[name],
    }


def merge(paths: list[Path]) -> tuple[dict, dict]:
    """Results of several runs of this script (other splits or datasets) as one."""
    payloads = [json.loads(p.read_text()) for p in paths]
    rows: dict[str, dict[str, list[dict]]] = {}
    for payload in payloads:
        for name, res in payload["results"].items():
            into = rows.setdefault(name, {"gnn": [], "tree": [], "selected": []})
            for key, values in res["per_run"].items():
                into[key] += values
    results = {}
    for name, by_key in rows.items():
        order = np.argsort([v["split"] for v in by_key["gnn"]], kind="stable")
        results[name] = summarise(name, {k: [v[j] for j in order] for k, v in by_key.items()})
    return results, payloads[0]


def _pm(value: tuple | list | None) -> str:
    """``mean ± std`` in percent-points (inputs in [0, 1])."""
    if value is None:
        return ""
    mean, std = value
    return f"{mean * 100:.2f}" + (f" ± {std * 100:.2f}" if std is not None else "")


def print_table(results: dict) -> None:
    """The markdown table of our numbers beside the published ones."""
    labels = {
        "gnn": "ringwatch GNN",
        "tree": "ringwatch trees (GADBench)",
        "selected": "ringwatch, val winner",
    }
    header = ("dataset", "model", "ROC-AUC %", "AUPRC %", "base rate %", "R@1%FPR %")
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for name, res in results.items():
        base = f"{res['summary']['gnn']['base_rate'][0] * 100:.2f}"
        for key, label in labels.items():
            s = res["summary"][key]
            row = (
                name,
                label,
                _pm(s["roc_auc"]),
                _pm(s["auprc"]),
                base,
                f"{s['recall_at_1pct_fpr'][0] * 100:.2f}",
            )
            print("| " + " | ".join(row) + " |")
        for model, pub in res["published"].items():
            scaled = {
                k: (v[0] / 100, None if v[1] is None else v[1] / 100)
                for k, v in pub.items()
                if k != "note"
            }
            row = (
                name,
                f"published: {model}",
                _pm(scaled.get("roc_auc")),
                _pm(scaled.get("auprc")),
                "",
                pub.get("note", ""),
            )
            print("| " + " | ".join(row) + " |")


def _indices(text: str | None) -> list[int] | None:
    """``"5-9"`` or ``"0,3,4"`` as a list of split indices."""
    if not text:
        return None
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(v) for v in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="tolokers,amazon_upu,reddit")
    parser.add_argument("--runs", type=int, default=None, help="only the first N splits/seeds")
    parser.add_argument("--splits", default=None, help="only these splits/seeds: 5-9 or 0,3")
    parser.add_argument("--epochs", type=int, default=GNN_PARAMS["epochs"])
    parser.add_argument("--model", default=GNN_PARAMS["model"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gnn-params", type=json.loads, default={}, help='e.g. {"num_layers": 3}')
    parser.add_argument("--skip-trees", action="store_true", help="fit the GNN only")
    parser.add_argument("--merge", type=Path, nargs="+", help="combine these outputs instead")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "public_benchmarks.json")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.merge:
        results, first = merge(args.merge)
        print_table(results)
        payload = {**first, "results": results, "merged_from": [str(p) for p in args.merge]}
        payload["seconds"] = None  # the parts ran side by side; see each part's file
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.out}")
        return 0

    import torch

    torch.set_num_threads(args.threads)
    params = {**GNN_PARAMS, "epochs": args.epochs, "model": args.model, **args.gnn_params}
    indices = _indices(args.splits) or (list(range(args.runs)) if args.runs else None)
    results = {}
    started = time.perf_counter()
    partial = args.out.with_suffix(".partial.json")
    for name in args.datasets.split(","):
        print(f"{name}:", flush=True)

        def progress(state, name=name):
            done = {**results, name: state}
            partial.write_text(json.dumps({"results": done}, indent=2) + "\n")

        results[name] = run(name, indices, params, progress, trees=not args.skip_trees)
    print_table(results)
    partial.unlink(missing_ok=True)
    payload = {
        "gnn_params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
        "neighbour_means": NEIGHBOUR_MEANS,
        "select_metric": SELECT_METRIC,
        "seconds": time.perf_counter() - started,
        "machine": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "cpu_threads": args.threads,
            "platform": platform.platform(),
        },
        "results": results,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
