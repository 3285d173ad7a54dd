"""Benchmark the GNN on a generated world: quality against truth, ring recall, speed.

Trains exactly as ``ringwatch train`` does (time split of the platform's labels), then
scores every account and compares, against the world's ``truth.csv``:

- AUPRC (with base rate) and recall at 1% FPR of the GNN, the tree baseline and two
  heuristic scores (detection's rule risk without a learned score; the largest number
  of accounts sharing one of the account's devices, cards, emails or phones), over all
  accounts and over the accounts without a label, overall and per planted scenario;
- ring recall per scenario and the look-alike false-positive rate of ``detect`` with
  and without the learned score;
- wall time and peak memory (RSS) of training and of inference.

Usage::

    .venv/bin/ringwatch generate --accounts 100000 --seed 2027 --out worlds/w100k-s2027
    .venv/bin/python scripts/bench_gnn.py --world worlds/w100k-s2027 \\
        --out artifacts/bench_gnn_100k.json
    # inference speed only, with a saved model:
    .venv/bin/python scripts/bench_gnn.py --world worlds/w1m --infer-only --model-dir DIR
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _auprc_rows(name: str, score: np.ndarray, ids: pd.Index, truth: pd.DataFrame, unlabelled):
    from gnn.train import metrics

    accounts = truth[truth["entity_type"] == "account"]
    abuse = accounts[accounts["kind"].isin(("fake_account", "scraping"))]
    is_abuse = ids.isin(abuse["entity_id"])
    rows = []
    for scope, mask in (("all", np.ones(len(ids), bool)), ("unlabelled", unlabelled)):
        m = metrics(is_abuse[mask].astype(float), score[mask])
        rows.append({"score": name, "scope": scope, "scenario": "all", **m})
        for scenario, group in abuse.groupby("scenario"):
            pos = ids.isin(group["entity_id"])
            keep = mask & (pos | ~is_abuse)
            m = metrics(pos[keep].astype(float), score[keep])
            rows.append({"score": name, "scope": scope, "scenario": scenario, **m})
    return rows


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "bench_gnn.json")
    parser.add_argument("--model", default="sage")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--unlabelled", default="legit")
    parser.add_argument("--no-detect", action="store_true", help="skip ring recall")
    parser.add_argument("--infer-only", action="store_true")
    parser.add_argument("--model-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from gnn.hetero import from_snapshot, label_vector
    from gnn.model_file import load_model, save_model
    from gnn.train import GNNDetector, TreeDetector, train_on_snapshot
    from ingest.prepare import snapshot_from_dataset

    torch.set_num_threads(args.threads)
    result: dict = {"world": str(args.world), "threads": args.threads}
    began = time.perf_counter()
    snapshot = snapshot_from_dataset(args.world)
    result["snapshot_seconds"] = time.perf_counter() - began
    result["n_accounts"] = snapshot.n_accounts
    print(
        f"snapshot: {snapshot.n_accounts:,} accounts in {result['snapshot_seconds']:.0f}s",
        flush=True,
    )

    if args.infer_only:
        rss0 = peak_rss_gib()
        began = time.perf_counter()
        model = load_model(args.model_dir)
        scores = model.risk_scores(snapshot)
        result["inference"] = {
            "seconds": time.perf_counter() - began,
            "peak_rss_gib": peak_rss_gib(),
            "rss_before_gib": rss0,
            "model": model.version,
            "winner": model.winner,
            "accounts": len(scores),
        }
        print(json.dumps(result["inference"], indent=2))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        return 0

    rss0 = peak_rss_gib()
    began = time.perf_counter()
    training = train_on_snapshot(
        snapshot,
        unlabelled=args.unlabelled,
        gnn=GNNDetector(model=args.model, epochs=args.epochs),
        tree=TreeDetector(),
    )
    sel = training.selection
    result["training"] = {
        "seconds": time.perf_counter() - began,
        "gnn_seconds": sel.gnn.train_seconds_,
        "tree_seconds": sel.tree.train_seconds_,
        "gnn_epochs": len(sel.gnn.history_),
        "gnn_best_epoch": sel.gnn.best_epoch_,
        "peak_rss_gib": peak_rss_gib(),
        "rss_before_gib": rss0,
        "split": {k: len(getattr(training.split, k)) for k in ("train", "val", "test")},
        "labels": snapshot.accounts["label"].value_counts().to_dict(),
    }
    result["validation_and_test"] = sel.metrics
    result["winner"] = sel.winner
    print(f"training: {json.dumps(result['training'])}", flush=True)
    print(f"winner on validation: {sel.winner}", flush=True)

    model_dir = args.model_dir or (args.out.parent / f"{args.out.stem}-models")
    save_model(model_dir, sel, training.graph, training.y)
    began = time.perf_counter()
    model = load_model(model_dir)
    graph = from_snapshot(snapshot)
    learned = pd.Series(model.score(graph), index=graph.ids["account"])
    result["inference_seconds_same_world"] = time.perf_counter() - began

    truth = pd.read_csv(args.world / "truth.csv", dtype=str)
    ids = training.graph.ids["account"]
    unlabelled = np.isnan(label_vector(snapshot.accounts).to_numpy())
    rows = []
    rows += _auprc_rows("gnn", sel.gnn.score(training.graph), ids, truth, unlabelled)
    rows += _auprc_rows("tree", sel.tree.score(training.graph), ids, truth, unlabelled)
    sharing = _max_sharing(snapshot).reindex(ids, fill_value=1).to_numpy(dtype=float)
    rows += _auprc_rows("heuristic: max accounts per identifier", sharing, ids, truth, unlabelled)

    if not args.no_detect:
        base, report_without = _detect_eval(snapshot, truth, None)
        rule_risk = base.accounts.set_index("account_id")["risk_score"].reindex(ids, fill_value=0)
        rows += _auprc_rows(
            "heuristic: detect rule risk", rule_risk.to_numpy(float), ids, truth, unlabelled
        )
        _, report_with = _detect_eval(snapshot, truth, learned)
        result["detect"] = {"without_gnn": report_without, "with_gnn": report_with}
    result["auprc"] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print_tables(result)
    print(f"wrote {args.out}")
    return 0


def print_tables(result: dict) -> None:
    rows = pd.DataFrame(result["auprc"])
    for scope in ("all", "unlabelled"):
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
