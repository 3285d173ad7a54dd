"""Benchmark the GNN on a generated world: quality against truth, ring recall, speed.

Trains exactly as ``ringwatch train`` does (time split of the platform's labels: the
oldest 60% of accounts train, the next 20% validate, the newest 20% test), then scores
every account and compares, against the world's ``truth.csv``:

- AUPRC (with base rate) and recall at 1% FPR of the GNN, the tree baseline and two
  heuristic scores (detection's rule risk without a learned score; the largest number
  of accounts sharing one of the account's devices, cards, emails or phones), on the
  accounts of the time-based test split (the headline) and on all accounts, overall and
  per planted scenario;
- the calibrated scores of look-alike (``legit_group``) accounts, per scenario, against
  ordinary accounts: what detection's ring scoring has to live with;
- ring recall per scenario and the look-alike false-positive rate of ``detect`` with
  and without the learned score;
- wall and CPU seconds per stage (snapshot, features, HeteroData, GNN epochs,
  calibration, trees, selection, model file) and peak memory (RSS), with one epoch of
  the old training set-up (batch 512, fan-out (15, 10), every layer over every sampled
  node) timed in the same run as the baseline.

``--infer-only`` times scoring every account with a saved model, separately from
reading the snapshot: features, HeteroData, the winner's inference. Memory: the peak of
the whole run (the CSV reader's included), what the snapshot holds once read, and the
peak from then on (``VmHWM`` reset after reading: what scoring a snapshot costs, whichever
reader built it).

Usage::

    .venv/bin/ringwatch generate --accounts 100000 --seed 2026 --out /tmp/rw/w100k
    flock /tmp/ringwatch-bench.lock .venv/bin/python scripts/bench_gnn.py \\
        --world /tmp/rw/w100k --out artifacts/bench_gnn_100k.json
    # inference speed only, with a saved model:
    flock /tmp/ringwatch-bench.lock .venv/bin/python scripts/bench_gnn.py \\
        --world /tmp/rw/w1m --infer-only --model-dir artifacts/bench_gnn_100k-models \\
        --out artifacts/bench_gnn_1m_infer.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"train_seconds": 600, "train_gib": 6, "infer_seconds": 120, "infer_gib": 8}


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _status_gib(field: str) -> float:
    """A memory line of /proc/self/status (``VmRSS``: now, ``VmHWM``: peak) in GiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def reset_peak_rss() -> None:
    """Start a new peak (``VmHWM``) from the current RSS (Linux >= 4.0), so that a
    stage's peak is not the snapshot reader's."""
    Path("/proc/self/clear_refs").write_text("5")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextmanager
def stage(stages: dict, name: str):
    """Record wall and CPU seconds (all threads of this process) of a block."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    stages[name] = {
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
    }
    print(
        f"  {name}: {stages[name]['wall_s']:.1f}s wall, {stages[name]['cpu_s']:.1f}s CPU",
        flush=True,
    )


def _abuse_and_lookalikes(truth: pd.DataFrame):
    accounts = truth[truth["entity_type"] == "account"]
    abuse = accounts[accounts["kind"].isin(("fake_account", "scraping"))]
    lookalike = accounts[accounts["kind"] == "legit_group"]
    return abuse, lookalike


def _auprc_rows(name: str, score: np.ndarray, ids: pd.Index, truth: pd.DataFrame, scopes):
    from gnn.train import metrics

    abuse, _ = _abuse_and_lookalikes(truth)
    is_abuse = ids.isin(abuse["entity_id"])
    rows = []
    for scope, mask in scopes.items():
        m = metrics(is_abuse[mask].astype(float), score[mask])
        rows.append({"score": name, "scope": scope, "scenario": "all", **m})
        for scenario, group in abuse.groupby("scenario"):
            pos = ids.isin(group["entity_id"])
            keep = mask & (pos | ~is_abuse)
            m = metrics(pos[keep].astype(float), score[keep])
            rows.append({"score": name, "scope": scope, "scenario": scenario, **m})
    return rows


def _lookalike_scores(score: np.ndarray, ids: pd.Index, truth: pd.DataFrame, threshold: float):
    """Quantiles of the calibrated score per look-alike scenario, and for ordinary
    accounts (in no truth group), with the share at or above ``threshold``."""
    abuse, lookalike = _abuse_and_lookalikes(truth)
    groups = {s: ids.isin(g["entity_id"]) for s, g in lookalike.groupby("scenario")}
    groups["ordinary accounts"] = ~ids.isin(abuse["entity_id"]) & ~ids.isin(lookalike["entity_id"])
    groups["abuse accounts"] = ids.isin(abuse["entity_id"])
    out = {}
    for name, mask in groups.items():
        part = score[mask]
        q = np.quantile(part, [0.5, 0.9, 0.99]) if len(part) else [np.nan] * 3
        out[name] = {
            "n": int(mask.sum()),
            "mean": float(part.mean()) if len(part) else None,
            "p50": float(q[0]),
            "p90": float(q[1]),
            "p99": float(q[2]),
            "share_above_threshold": float((part >= threshold).mean()) if len(part) else None,
        }
    return out


def _max_sharing(snapshot) -> pd.Series:
    links = snapshot.links[
        snapshot.links["kind"].isin(("device", "signup_device", "payment_method", "email", "phone"))
    ]
    pairs = links.drop_duplicates(["kind", "key", "account_id"])
    degree = pairs.groupby(["kind", "key"])["account_id"].transform("size")
    return degree.groupby(pairs["account_id"]).max()


def _detect_eval(snapshot, truth, learned):
    from graphs.detection import DetectConfig, account_table, detect, written_rings
    from graphs.evaluation import evaluate

    config = DetectConfig()
    found = detect(snapshot, config, learned=learned)
    written = written_rings(found.rings, config.ring_threshold)
    table = account_table(found.accounts, written, config.ring_threshold)
    report = evaluate(truth, written, table, snapshot.accounts["account_id"])
    return found, report


def old_setup_epoch(graph, y: np.ndarray, split, model: str) -> dict:
    """CPU and wall seconds of one training epoch as it ran before this benchmark's
    changes: batch 512, fan-out (15, 10), every layer over every sampled node."""
    import torch

    from gnn.sampling import UniformSampler, neighbour_loader
    from gnn.train import GNNDetector

    det = GNNDetector(model=model)
    data = graph.data
    channels = {t: data[t].x.shape[1] for t in data.node_types}
    net = det.build(data.metadata(), channels, graph.target, graph.log_columns)
    net.fit_scaling(data.x_dict).train()
    optim = torch.optim.AdamW(net.parameters(), lr=det.lr)
    y_t = torch.as_tensor(y, dtype=torch.float32)
    loader = neighbour_loader(
        data,
        UniformSampler(data, (15, 10)),
        graph.target,
        torch.as_tensor(split.train),
        512,
        shuffle=True,
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in loader:
        n = batch[graph.target].batch_size
        optim.zero_grad()
        logit = net(batch.x_dict, batch.edge_index_dict)[:n]
        loss_fn(logit, y_t[batch[graph.target].n_id[:n]]).backward()
        optim.step()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def infer_only(args, snapshot, result: dict, stages: dict) -> None:
    import gc

    from gnn.hetero import from_snapshot
    from gnn.model_file import load_model

    rss_before = peak_rss_gib()
    gc.collect()
    held = _status_gib("VmRSS")
    reset_peak_rss()
    began = time.perf_counter()
    with stage(stages, "load model"):
        model = load_model(args.model_dir, args.model_name)
    with stage(stages, "graph (features + HeteroData)"):
        graph = from_snapshot(snapshot)
    with stage(stages, f"inference ({model.winner})"):
        scores = model.score(graph)
    seconds = time.perf_counter() - began
    result["inference"] = {
        "seconds_after_snapshot": seconds,
        "features_seconds": graph.timings["features"],
        "hetero_data_seconds": graph.timings["hetero_data"],
        "peak_rss_gib": peak_rss_gib(),
        "rss_after_snapshot_gib": rss_before,
        "snapshot_held_gib": held,
        "peak_rss_from_snapshot_on_gib": _status_gib("VmHWM"),
        "model": model.version,
        "winner": model.winner,
        "accounts": len(scores),
        "vs_target": seconds / TARGETS["infer_seconds"],
        "loadavg_after": loadavg(),
    }
    print(json.dumps(result["inference"], indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "bench_gnn.json")
    parser.add_argument("--model", default="sage")
    parser.add_argument("--epochs", type=int, default=None, help="default: GNNDetector's")
    parser.add_argument("--patience", type=int, default=None, help="default: GNNDetector's")
    parser.add_argument("--batch-size", type=int, default=None, help="default: GNNDetector's")
    parser.add_argument("--fanout", default=None, help="e.g. 10,5; default: GNNDetector's")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--unlabelled", default="legit")
    parser.add_argument("--no-detect", action="store_true", help="skip ring recall")
    parser.add_argument("--no-baseline", action="store_true", help="skip the old-set-up epoch")
    parser.add_argument("--infer-only", action="store_true")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--model-name", default=None, help="with --infer-only; default newest")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from gnn.hetero import label_vector
    from gnn.model_file import load_model, save_model
    from gnn.train import GNNDetector, TreeDetector, train_on_snapshot
    from ingest.prepare import snapshot_from_dataset

    stages: dict = {}
    result: dict = {
        "world": str(args.world),
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "loadavg_before": loadavg(),
        "stages": stages,
        "targets": TARGETS,
    }
    print(f"load average before: {result['loadavg_before']}", flush=True)
    with stage(stages, "snapshot"):
        snapshot = snapshot_from_dataset(args.world)
    result["n_accounts"] = snapshot.n_accounts
    print(f"snapshot: {snapshot.n_accounts:,} accounts", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)

    if args.infer_only:
        infer_only(args, snapshot, result, stages)
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"wrote {args.out}")
        return 0

    rss_before = peak_rss_gib()
    gnn_params = {"model": args.model}
    for name in ("epochs", "patience", "batch_size"):
        if getattr(args, name) is not None:
            gnn_params[name] = getattr(args, name)
    if args.fanout:
        gnn_params["fanout"] = tuple(int(k) for k in args.fanout.split(","))
    began = time.perf_counter()
    with stage(stages, "training (graph, both detectors, selection)"):
        training = train_on_snapshot(
            snapshot,
            unlabelled=args.unlabelled,
            gnn=GNNDetector(**gnn_params),
            tree=TreeDetector(),
        )
    sel = training.selection
    model_dir = args.model_dir or (args.out.parent / f"{args.out.stem}-models")
    with stage(stages, "model file"):
        path = save_model(model_dir, sel, training.graph, training.y)
    train_seconds = time.perf_counter() - began
    graph = training.graph
    parts = {
        "features": graph.timings["features"],
        "hetero_data": graph.timings["hetero_data"],
        "gnn_epochs": sel.gnn.timings_["epochs"],
        "gnn_calibration": sel.gnn.timings_["calibration"],
        "tree_neighbour_aggregates": sel.tree.timings_["neighbour_aggregates"],
        "tree_binning": sel.tree.timings_["binning"],
        "tree_boosting": sel.tree.timings_["boosting"],
        "tree_calibration": sel.tree.timings_["calibration"],
        "model_file": stages["model file"]["wall_s"],
    }
    parts["selection and rest"] = train_seconds - sum(parts.values())
    result["training"] = {
        "seconds_after_snapshot": train_seconds,
        "vs_target": train_seconds / TARGETS["train_seconds"],
        "parts_wall_s": parts,
        "gnn_params": sel.gnn.get_params(),
        "gnn_epochs": len(sel.gnn.history_),
        "gnn_best_epoch": sel.gnn.best_epoch_,
        "gnn_seconds_per_epoch": sel.gnn.timings_["epochs"] / max(len(sel.gnn.history_), 1),
        "tree_iterations": sel.tree.n_iter_,
        "peak_rss_gib": peak_rss_gib(),
        "rss_after_snapshot_gib": rss_before,
        "split": {k: len(getattr(training.split, k)) for k in ("train", "val", "test")},
        "labels": snapshot.accounts["label"].value_counts().to_dict(),
        "model_file": str(path),
        "loadavg_after": loadavg(),
    }
    result["validation_and_test"] = sel.metrics
    result["winner"] = sel.winner
    print(f"training: {json.dumps(result['training'], default=str)}", flush=True)
    print(f"winner on validation: {sel.winner}", flush=True)
    if not args.no_baseline:
        with stage(stages, "baseline: one epoch of the old set-up"):
            old = old_setup_epoch(graph, training.y, training.split, args.model)
        per_epoch = result["training"]["gnn_seconds_per_epoch"]
        result["baseline_old_epoch"] = old | {"ratio_new_to_old_wall": per_epoch / old["wall_s"]}

    with stage(stages, "inference on the same world (model file -> scores)"):
        model = load_model(model_dir, path.stem)
        learned = pd.Series(model.score(graph), index=graph.ids["account"])

    truth = pd.read_csv(args.world / "truth.csv", dtype=str)
    ids = graph.ids["account"]
    test = np.zeros(len(ids), bool)
    test[training.split.test] = True
    unlabelled = np.isnan(label_vector(snapshot.accounts).to_numpy())
    scopes = {"test": test, "all": np.ones(len(ids), bool), "unlabelled": unlabelled}
    scores = {"gnn": sel.gnn.score(graph), "tree": sel.tree.score(graph)}
    rows = []
    for name, score in scores.items():
        rows += _auprc_rows(name, score, ids, truth, scopes)
    sharing = _max_sharing(snapshot).reindex(ids, fill_value=1).to_numpy(dtype=float)
    rows += _auprc_rows("heuristic: max accounts per identifier", sharing, ids, truth, scopes)
    result["lookalike_scores"] = {
        name: _lookalike_scores(score, ids, truth, getattr(sel, name).threshold_)
        for name, score in scores.items()
    }

    if not args.no_detect:
        with stage(stages, "detect without the learned score"):
            base, report_without = _detect_eval(snapshot, truth, None)
        rule_risk = base.accounts.set_index("account_id")["risk_score"].reindex(ids, fill_value=0)
        rows += _auprc_rows(
            "heuristic: detect rule risk", rule_risk.to_numpy(float), ids, truth, scopes
        )
        with stage(stages, "detect with the learned score"):
            _, report_with = _detect_eval(snapshot, truth, learned)
        result["detect"] = {"without_gnn": report_without, "with_gnn": report_with}
    result["auprc"] = rows
    result["loadavg_after"] = loadavg()
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print_tables(result)
    print(f"wrote {args.out}")
    return 0


def print_tables(result: dict) -> None:
    t = result["training"]
    print(f"\ntraining after the snapshot: {t['seconds_after_snapshot']:.0f}s wall "
          f"({t['vs_target']:.2f} of the {TARGETS['train_seconds']}s target), peak RSS "
          f"{t['peak_rss_gib']:.2f} GiB (target {TARGETS['train_gib']}); "
          f"{t['gnn_epochs']} epochs, {t['gnn_seconds_per_epoch']:.1f}s each")  # fmt: skip
    for name, seconds in t["parts_wall_s"].items():
        print(f"  {name:28} {seconds:8.1f}s")
    if "baseline_old_epoch" in result:
        old = result["baseline_old_epoch"]
        print(f"  one epoch of the old set-up: {old['wall_s']:.1f}s wall; new/old "
              f"{old['ratio_new_to_old_wall']:.2f}")  # fmt: skip
    rows = pd.DataFrame(result["auprc"])
    for scope in ("test", "all"):
        part = rows[rows["scope"] == scope]
        table = part.pivot_table(index="scenario", columns="score", values="auprc", sort=False)
        base = part.groupby("scenario", sort=False)["base_rate"].first()
        table.insert(0, "base rate", base)
        print(f"\nAUPRC against truth, {scope} accounts")
        print(table.round(3).to_string())
        r = part.pivot_table(
            index="scenario", columns="score", values="recall_at_1pct_fpr", sort=False
        )
        print(f"\nrecall at 1% FPR, {scope} accounts")
        print(r.round(3).to_string())
    for name, table in result["lookalike_scores"].items():
        print(f"\ncalibrated {name} score of look-alike accounts")
        print(pd.DataFrame(table).T.round(4).to_string())
    if "detect" in result:
        print("\nring recall per scenario, detect without / with the GNN score")
        for key in ("without_gnn", "with_gnn"):
            report = result["detect"][key]
            overall = report["overall"]
            print(
                f"  {key}: ring recall {overall.get('ring_recall')}, ring precision "
                f"{overall.get('ring_precision')}, look-alike FPR {overall.get('lookalike_fpr')}"
            )
        per = {}
        for key in ("without_gnn", "with_gnn"):
            for scenario, stats in result["detect"][key]["per_scenario"].items():
                value = stats.get("ring_recall", stats.get("lookalike_fpr"))
                per.setdefault(key, {})[f"{scenario} ({stats['kind']})"] = value
        print("(abuse scenarios: ring recall; legit_group scenarios: look-alike FPR)")
        print(pd.DataFrame(per).to_string())


if __name__ == "__main__":
    sys.exit(main())
