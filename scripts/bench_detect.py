"""Benchmark the full detection: time per stage, peak memory, components vs NetworkX.

Usage::

    python scripts/bench_detect.py --dataset /data/w100k --dataset /data/w1m --json bench.json
    python scripts/bench_detect.py --neo4j --json bench-neo4j.json      # the configured graph

For each world: **read** (the snapshot: from the dataset files with ``--dataset``, from
Neo4j with ``--neo4j``), **link**, **components**, **score** (features, ring scores,
scraping clusters, account risk), **write** (the three output files, plus the Neo4j
write-back with ``--neo4j``). Then, on the same link graph, the connected components of
scipy (what detection uses) against NetworkX, and their ratio: the two run back to back
``--race-repeats`` times and the median ratio is reported, so a burst of load on a shared
machine does not land on one side only. Peak memory is the process's maximum resident
set size (``peak_rss_gib_after_detect`` is the detection's; the race re-links the
snapshot afterwards). The load average is recorded before and after each world, and the
share of the machine's CPU time the hypervisor took for other guests (``steal`` in
/proc/stat) during the read and during the whole detection: on this shared machine it
ran from under 1% to over 30%, which no load average shows.
Prints a table and writes JSON; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def _cpu_ticks() -> tuple[int, int]:
    """(stolen, total) CPU ticks of the machine so far (/proc/stat; zeros elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0, 0
    return fields[7], sum(fields)


def _steal_pct(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    total = after[1] - before[1]
    return round(100 * (after[0] - before[0]) / total, 1) if total > 0 else None


def components_race(snapshot, config, skip_networkx: bool, repeats: int = 3) -> dict:
    """Time scipy and NetworkX components on the same thresholded link graph."""
    import statistics

    import numpy as np

    from graphs.components import connected_labels, networkx_components
    from graphs.linking import account_links

    graph = account_links(snapshot, config.weights, clique_limit=config.clique_limit)
    threshold = config.link_threshold
    keep = graph.weight >= threshold
    src, dst = graph.src[keep], graph.dst[keep]
    out = {"accounts": graph.n_accounts, "links": int(keep.sum()), "repeats": repeats}
    scipy_runs, networkx_runs = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        labels = connected_labels(graph.n_accounts, src, dst)
        scipy_runs.append(time.perf_counter() - began)
        if skip_networkx:
            continue
        began = time.perf_counter()
        components = networkx_components(graph, threshold)
        networkx_runs.append(time.perf_counter() - began)
    out["scipy_s"] = round(min(scipy_runs), 3)
    out["scipy_runs_s"] = [round(s, 3) for s in scipy_runs]
    if networkx_runs:
        out["networkx_s"] = round(min(networkx_runs), 3)
        out["networkx_runs_s"] = [round(s, 2) for s in networkx_runs]
        # each NetworkX run against the scipy run just before it
        ratios = [n / max(s, 1e-9) for s, n in zip(scipy_runs, networkx_runs, strict=True)]
        out["ratio"] = round(statistics.median(ratios), 1)
        out["ratio_of_best"] = round(out["networkx_s"] / max(out["scipy_s"], 1e-9), 1)
        # same answer: NetworkX lists components of linked accounts only
        sizes = sorted(len(c) for c in components)
        counts = np.bincount(labels)
        out["same_components"] = sizes == sorted(int(c) for c in counts[counts >= 2])
    return out


def bench_one(source: str, *, neo4j: bool, skip_networkx: bool, race_repeats: int = 3) -> dict:
    from graphs.detection import DetectConfig
    from scripts.detect_job import run_detect, write_outputs

    config = DetectConfig()
    load_before = _loadavg()
    ticks_before = _cpu_ticks()
    began = time.perf_counter()
    if neo4j:
        from ingest import rings_io
        from ingest.snapshot_io import read_snapshot
        from scripts.settings import open_driver

        with open_driver() as (driver, database):
            snapshot = read_snapshot(driver, database)
            read_s = time.perf_counter() - began
            ticks_read = _cpu_ticks()
            previous = rings_io.read_rings(driver, database)
            result = run_detect(snapshot, config=config, previous=previous)
            began = time.perf_counter()
            from scripts.detect_job import data_time

            rings_io.write_detections(
                driver, database, result.rings, result.accounts, detected_at=data_time(snapshot)
            )
    else:
        from ingest.prepare import snapshot_from_dataset

        snapshot = snapshot_from_dataset(Path(source))
        read_s = time.perf_counter() - began
        ticks_read = _cpu_ticks()
        result = run_detect(snapshot, config=config)
        began = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        write_outputs(Path(out), result)
    write_s = time.perf_counter() - began
    stages = {"read": round(read_s, 2), **result.summary["timings_s"], "write": round(write_s, 2)}
    record = {
        "source": source,
        "accounts": snapshot.n_accounts,
        "links_rows": len(snapshot.links),
        "window_rows": len(snapshot.windows),
        "stages_s": stages,
        "total_s": round(sum(stages.values()), 2),
        "rings_written": result.summary["counts"]["rings_written"],
        "ring_scorer": result.summary["ring_scorer"],
        "peak_rss_gib_after_detect": round(_peak_gib(), 2),
        "loadavg_before": load_before,
        "loadavg_after_detect": _loadavg(),
        "cpu_steal_pct": {
            "read": _steal_pct(ticks_before, ticks_read),
            "detect": _steal_pct(ticks_before, _cpu_ticks()),
        },
    }
    del result
    record["components"] = components_race(snapshot, config, skip_networkx, race_repeats)
    record["peak_rss_gib"] = round(_peak_gib(), 2)
    record["loadavg_after"] = _loadavg()
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", default=[], help="dataset directory")
    parser.add_argument("--neo4j", action="store_true", help="read and write the Neo4j graph")
    parser.add_argument("--skip-networkx", action="store_true")
    parser.add_argument("--race-repeats", type=int, default=3, help="scipy/NetworkX pairs")
    parser.add_argument("--json", type=Path, default=Path("bench_detect.json"))
    args = parser.parse_args(argv)
    sources = (["neo4j"] if args.neo4j else []) + args.dataset
    if not sources:
        parser.error("give --dataset DIR (repeatable) or --neo4j")
    began = time.perf_counter()
    # import once up front: with PYTHONDONTWRITEBYTECODE a first import compiles the
    # library, which is not what the stages measure
    import networkx  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.csv  # noqa: F401
    import scipy.sparse.csgraph  # noqa: F401
    import sklearn.ensemble  # noqa: F401

    import_s = round(time.perf_counter() - began, 2)
    print(f"imports {import_s:.1f}s (not counted in the stages)")
    results = []
    for source in sources:
        record = bench_one(
            source, neo4j=source == "neo4j", skip_networkx=args.skip_networkx,
            race_repeats=args.race_repeats,
        )  # fmt: skip
        record["imports_s"] = import_s
        record["command"] = " ".join(["python", *sys.argv])
        results.append(record)
        stages = "  ".join(f"{k} {v:.1f}s" for k, v in record["stages_s"].items())
        comp = record["components"]
        race = (
            f"components scipy {comp['scipy_s']:.2f}s vs networkx {comp['networkx_s']:.1f}s "
            f"(median of {comp['repeats']} pairs {comp['ratio']:.0f}x, "
            f"same: {comp['same_components']})"
            if "networkx_s" in comp
            else f"components scipy {comp['scipy_s']:.2f}s"
        )
        print(
            f"{source}: {record['accounts']:,} accounts, {comp['links']:,} links | {stages} | "
            f"total {record['total_s']:.1f}s | peak {record['peak_rss_gib_after_detect']:.2f} GiB "
            f"(with the race {record['peak_rss_gib']:.2f}) | {race} | load "
            f"{record['loadavg_before']} -> {record['loadavg_after']} | CPU stolen by the host: "
            f"read {record['cpu_steal_pct']['read']}%, detect {record['cpu_steal_pct']['detect']}%"
        )
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
