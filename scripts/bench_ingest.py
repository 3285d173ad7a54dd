"""Ingest benchmark: online and bulk paths on generated worlds, against a naive baseline.

Not a test: it prints numbers and writes JSON. For each world size it generates the world
(once, kept in ``--work-dir``), then on a managed Neo4j server of its own (started in
``--work-dir``; the bulk path needs to stop and start it):

* **online**: ``ingest_dataset`` into an empty database (input rows/s, write rows/s,
  peak memory of the ingest process), then ``read_snapshot`` (seconds);
* **bulk**: ``bulk_ingest`` (neo4j-admin import) into an empty database;
* **naive**: one auto-commit ``MERGE`` query per input row, the way a first script
  would do it, on a sample of the logins (measured in the same run, same server).

``--ceiling`` measures instead what the server can do at all on this machine: plain
``UNWIND $rows`` CREATE / MERGE of nodes and of relationships (with the counters and
times an ingest edge carries) for each batch size and worker count, against which the
online path's rows/s are judged.

Each path runs in a child process so its peak memory is its own. Usage::

    .venv/bin/python -m scripts.bench_ingest --accounts 100000 1000000 \\
        --work-dir /tmp/ringwatch-bench --out bench_ingest.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

NAIVE_LOGIN = """
MERGE (a:Account {account_id: $account_id})
MERGE (i:IP {ip: $ip})
MERGE (a)-[r:USED_IP]->(i)
ON CREATE SET r.first_seen = datetime($ts), r.last_seen = datetime($ts), r.count = 1
ON MATCH SET r.last_seen = datetime($ts), r.count = r.count + 1
"""


#: Plain batched writes without ingest's logic: {name: (schema, query)}; {t} is a tag
#: that keeps each configuration's nodes apart.
CEILING = {
    "create_nodes": (
        "CREATE INDEX ceil_a{t} IF NOT EXISTS FOR (n:CeilA{t}) ON (n.k)",
        "UNWIND $rows AS row CREATE (:CeilA{t} {{k: row.a}})",
    ),
    "merge_nodes": (
        "CREATE CONSTRAINT ceil_b{t} IF NOT EXISTS FOR (n:CeilB{t}) REQUIRE n.k IS UNIQUE",
        "UNWIND $rows AS row MERGE (:CeilB{t} {{k: row.b}})",
    ),
    "create_rels": (
        None,
        "UNWIND $rows AS row MATCH (a:CeilA{t} {{k: row.a}}) MATCH (b:CeilB{t} {{k: row.b}}) "
        "CREATE (a)-[:CEIL_C {{first_seen: datetime({{epochMillis: row.t}}), "
        "last_seen: datetime({{epochMillis: row.t}}), count: row.c, logins: row.c, "
        "requests: row.c, last_run: $run}}]->(b)",
    ),
    "merge_rels": (
        None,
        "UNWIND $rows AS row MATCH (a:CeilA{t} {{k: row.a}}) MATCH (b:CeilB{t} {{k: row.b}}) "
        "MERGE (a)-[r:CEIL_M]->(b) SET r.first_seen = datetime({{epochMillis: row.t}}), "
        "r.last_seen = datetime({{epochMillis: row.t}}), r.count = coalesce(r.count, 0) + row.c, "
        "r.logins = coalesce(r.logins, 0) + row.c, r.requests = coalesce(r.requests, 0) + row.c, "
        "r.last_run = $run",
    ),
}


def _ceiling(driver, rows: int, batch_sizes: list[int], worker_counts: list[int]) -> list[dict]:
    """Rows/s of each CEILING write per batch size and worker count; relationship rows
    are partitioned by target between workers (as the online writer does)."""
    from concurrent.futures import ThreadPoolExecutor

    targets = max(1, rows // 4)  # each target shared by ~4 sources, like an IP
    data = [{"a": f"a{i}", "b": f"b{i % targets}", "t": 1_780_000_000_000 + i, "c": 1}
            for i in range(rows)]  # fmt: skip
    results = []
    for workers in worker_counts:
        for batch in batch_sizes:
            tag = f"{workers}x{batch}"
            parts = [[r for i, r in enumerate(data) if i % targets % workers == w]
                     for w in range(workers)]  # fmt: skip
            batches = [p[i : i + batch] for p in parts for i in range(0, len(p), batch)]
            for name, (schema, query) in CEILING.items():
                if schema:
                    driver.execute_query(schema.format(t=tag), database_="neo4j")
                    driver.execute_query("CALL db.awaitIndexes(300)", database_="neo4j")
                text = query.format(t=tag)
                if name == "merge_nodes":  # one row per distinct target
                    todo = [data[i : i + batch] for i in range(0, targets, batch)]
                    todo = [[{"b": r["b"]} for r in b] for b in todo]
                    n = targets
                else:
                    todo, n = batches, rows
                began = time.perf_counter()
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(lambda b, q=text: driver.execute_query(
                        q, rows=b, run="r", database_="neo4j"), todo))  # fmt: skip
                seconds = time.perf_counter() - began
                results.append({"write": name, "workers": workers, "batch_size": batch,
                                "rows": n, "seconds": seconds, "rows_per_s": n / seconds,
                                "load_avg_1m": os.getloadavg()[0]})  # fmt: skip
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _TreePeak:
    """Peak of the summed RSS of this process and its Python children (the bulk path's
    prepare workers), sampled every 0.2 s; Java children (the importer) are the
    server's side and left out."""

    def __init__(self) -> None:
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.2):
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    if "java" not in child.name():
                        total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total / 2**20)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


# ---------------------------------------------------------------- child processes
def _child(args: argparse.Namespace) -> None:
    """One measured step, run in its own process; prints one JSON line."""
    from neo4j import GraphDatabase

    from scripts.neo4j_server import ManagedServer

    logging.getLogger("neo4j").setLevel(logging.ERROR)
    server = ManagedServer.from_settings(data_dir=Path(args.server_dir), port=args.port)
    tree = _TreePeak()
    began = time.perf_counter()
    out: dict[str, object] = {}
    if args.child == "bulk":
        from ingest.bulk import bulk_ingest

        report = bulk_ingest(server, "neo4j", Path(args.dataset), workers=args.workers)
        out.update(rows_read=report.rows_read, rows_written=report.rows_written)
        out["stages_s"] = report.stages_s
    else:
        with GraphDatabase.driver(server.uri, auth=("neo4j", server.password)) as driver:
            if args.child == "online":
                from ingest.job import ingest_dataset

                report = ingest_dataset(
                    driver, "neo4j", Path(args.dataset), batch_size=args.batch_size,
                    workers=args.workers, progress=False,
                )  # fmt: skip
                out.update(rows_read=report.rows_read, rows_written=report.rows_written)
            elif args.child == "snapshot":
                from ingest.snapshot_io import read_snapshot

                snapshot = read_snapshot(driver, "neo4j")
                out.update(accounts=snapshot.n_accounts, links=len(snapshot.links))
            elif args.child == "naive":
                out.update(rows_read=_naive(driver, Path(args.dataset), args.sample))
            elif args.child == "ceiling":
                out["ceiling"] = _ceiling(
                    driver, args.ceiling_rows, args.batch_sizes, args.worker_counts
                )
    out["seconds"] = time.perf_counter() - began
    out["peak_mib"] = _peak_mib()
    out["peak_tree_mib"] = max(tree.stop(), out["peak_mib"])
    print(json.dumps(out))


def _naive(driver, dataset: Path, sample: int) -> int:
    """One MERGE query (its own transaction) per login row of a sample."""
    import pandas as pd

    from ingest.normalise import normalise_ips, parse_timestamps

    path = next(dataset.glob("logins.*"))
    rows = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=sample)
    rows = rows[rows["ip"] != ""]
    ips = normalise_ips(rows["ip"])
    times = parse_timestamps(rows["ts"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    for account_id, ip, ts in zip(rows["account_id"], ips, times, strict=True):
        driver.execute_query(NAIVE_LOGIN, account_id=account_id, ip=ip, ts=ts, database_="neo4j")
    return len(rows)


def _run_child(kind: str, dataset: Path, server, extra: list[str]) -> dict:
    command = [
        sys.executable, "-m", "scripts.bench_ingest", "--child", kind,
        "--dataset", str(dataset), "--server-dir", str(server.data_dir),
        "--port", str(server.port), *extra,
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------- parent
def _empty_database(server) -> None:
    """Stop, remove the neo4j database's files, start: an empty database in seconds."""
    server.stop()
    for sub in ("databases", "transactions"):
        shutil.rmtree(server.data_dir / "data" / sub / "neo4j", ignore_errors=True)
    server.start(timeout=600)


def _machine() -> dict[str, float]:
    """How busy the machine is: the numbers mean little without it on a shared box."""

    began = time.perf_counter()
    sum(range(10_000_000))  # ~0.15 s of one idle core of a current x86 machine
    return {
        "cpus": os.cpu_count() or 0,
        "load_avg_1m": os.getloadavg()[0],
        "python_loop_s": round(time.perf_counter() - began, 3),
    }


def _world(work: Path, accounts: int, seed: int) -> Path:
    from ingest.synthetic import write_world

    out = work / f"world-{accounts}"
    if not (out / "accounts.csv").exists():
        print(write_world(out, n_accounts=accounts, seed=seed, progress=False), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/ringwatch-bench"))
    parser.add_argument("--out", type=Path, default=Path("bench_ingest.json"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--sample", type=int, default=5_000, help="Rows for the naive path.")
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--pagecache", default="2g")
    parser.add_argument(
        "--paths", nargs="+", default=["naive", "online", "bulk"],
        choices=["naive", "online", "bulk"], help="Which paths, in this order.",
    )  # fmt: skip
    # child mode
    parser.add_argument(
        "--no-snapshot", dest="snapshot", action="store_false", help="Skip read_snapshot."
    )
    parser.add_argument("--ceiling", action="store_true", help="Measure the server's ceiling.")
    parser.add_argument("--ceiling-rows", type=int, default=200_000)
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[1_000, 5_000, 20_000, 50_000]
    )
    parser.add_argument("--worker-counts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--child", choices=["online", "bulk", "snapshot", "naive", "ceiling"])
    parser.add_argument("--dataset")
    parser.add_argument("--server-dir")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    from ingest import writer

    args.batch_size = args.batch_size or writer.DEFAULT_BATCH_SIZE
    args.workers = args.workers or writer.DEFAULT_WORKERS
    if args.child:
        _child(args)
        return

    from scripts.neo4j_server import ManagedServer

    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    server = ManagedServer.from_settings(
        data_dir=work / "neo4j", port=_free_port(), heap=args.heap, pagecache=args.pagecache
    )
    server.install(progress=print)
    server.start(timeout=600)
    if args.ceiling:
        _run_ceiling(args, server)
        return
    tuning = ["--batch-size", str(args.batch_size), "--workers", str(args.workers)]
    results = {
        "batch_size": args.batch_size,
        "workers": args.workers,
        "machine": _machine(),
        "worlds": [],
    }
    try:
        for accounts in args.accounts:
            dataset = _world(work, accounts, args.seed)
            entry: dict[str, object] = {"accounts": accounts}
            extra = {"naive": ["--sample", str(args.sample)], "online": tuning, "bulk": []}
            for path in args.paths:
                _empty_database(server)
                entry[path] = _run_child(path, dataset, server, extra[path])
                if path in ("online", "bulk") and "snapshot" not in entry and args.snapshot:
                    entry["snapshot"] = _run_child("snapshot", dataset, server, [])
            for path in ("naive", "online", "bulk"):
                if path in entry:
                    step = entry[path]
                    step["rows_per_s"] = step["rows_read"] / step["seconds"]
            entry["machine_after"] = _machine()
            results["worlds"].append(entry)
            _print(entry)
            args.out.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        server.stop()
    print(f"wrote {args.out}")


def _run_ceiling(args: argparse.Namespace, server) -> None:
    try:
        _empty_database(server)
        extra = ["--ceiling-rows", str(args.ceiling_rows),
                 "--batch-sizes", *map(str, args.batch_sizes),
                 "--worker-counts", *map(str, args.worker_counts)]  # fmt: skip
        result = _run_child("ceiling", Path("."), server, extra)
    finally:
        server.stop()
    result["machine"] = _machine()
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  {'write':13} {'workers':>7} {'batch':>7} {'rows/s':>9} {'load':>5}")
    for r in result["ceiling"]:
        print(f"  {r['write']:13} {r['workers']:7} {r['batch_size']:7,} "
              f"{r['rows_per_s']:9,.0f} {r['load_avg_1m']:5.1f}")  # fmt: skip
    print(f"wrote {args.out}")


def _print(entry: dict) -> None:
    naive = entry["naive"]["rows_per_s"] if "naive" in entry else float("nan")
    rows = next(entry[p]["rows_read"] for p in ("online", "bulk", "naive") if p in entry)
    print(f"\n{entry['accounts']:,} accounts, {rows:,} input rows")
    print(f"  {'path':8} {'seconds':>9} {'rows/s':>10} {'x naive':>8} {'peak MiB':>9}")
    for path in ("naive", "online", "bulk"):
        if path in entry:
            step = entry[path]
            peak = step.get("peak_tree_mib", step["peak_mib"])
            print(
                f"  {path:8} {step['seconds']:9.1f} {step['rows_per_s']:10,.0f} "
                f"{step['rows_per_s'] / naive:8.1f} {peak:9.0f}"
            )
    if "bulk" in entry and "online" in entry:
        ratio = entry["bulk"]["rows_per_s"] / entry["online"]["rows_per_s"]
        print(f"  bulk / online: {ratio:.1f}x")
    if "snapshot" in entry:
        snap = entry["snapshot"]
        print(f"  read_snapshot: {snap['seconds']:.1f} s ({snap['links']:,} links)", flush=True)


if __name__ == "__main__":
    main()
