"""Benchmark the dashboard's server time: the ring queue over 10,000 rings and the ring
view of a ring whose graph has about 500 nodes.

    .venv/bin/python scripts/bench_dashboard.py [--rings 10000] [--big-ring 380]
                                                [--repeat 7] [--out artifacts/bench_dashboard.json]

It starts a throw-away managed Neo4j (temporary data directory, free port, 1 GiB heap)
and loads :func:`dashboards.sample.sample_world` into it. ``BENCH_NEO4J_URI`` and
``BENCH_NEO4J_PASSWORD`` point it at an existing server instead, whose database it
EMPTIES first (``--reuse`` keeps a graph that an earlier run with the same sizes left).

Two kinds of numbers, each the median and the slowest of ``--repeat`` warm runs (the
first, cold run is reported apart: it includes Neo4j planning the query):

- ``query+view``: the dashboard's query functions plus the pure view builders, in process;
- ``http``: the whole Dash request a browser makes (``POST /_dash-update-component``
  through Flask's test client): routing, layout or callback, queries, JSON encoding.

Prints a table and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BIG_RING = "R-big"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def neo4j_for_bench() -> Iterator[tuple[str, str, str]]:
    """``(uri, password, database)`` of the server to benchmark on."""
    if os.environ.get("BENCH_NEO4J_URI"):
        yield os.environ["BENCH_NEO4J_URI"], os.environ["BENCH_NEO4J_PASSWORD"], "neo4j"
        return
    from scripts.neo4j_server import ManagedServer

    with tempfile.TemporaryDirectory(prefix="ringwatch-bench-") as tmp:
        server = ManagedServer.from_settings(
            data_dir=Path(tmp), port=_free_port(), heap="1g", pagecache="1g"
        )
        server.install(progress=lambda _msg: None)
        server.start(timeout=180)
        try:
            yield server.uri, server.password, "neo4j"
        finally:
            server.stop()


def _timed(fn: Callable[[], object], repeat: int) -> dict:
    start = time.perf_counter()
    result = fn()
    cold = time.perf_counter() - start
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return {
        "cold_s": round(cold, 4),
        "median_s": round(statistics.median(runs), 4),
        "max_s": round(max(runs), 4),
        "runs": len(runs),
        "result": result,
    }


def _route_payload(pathname: str, search: str = "") -> dict:
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "changedPropIds": ["_pages_location.pathname", "_pages_location.search"],
    }


def _queue_sort_payload(column: str, direction: str) -> dict:
    return {
        "output": "..queue-table.data...queue-table.page_count...queue-table.page_current..."
        "queue-count.children..",
        "outputs": [
            {"id": "queue-table", "property": "data"},
            {"id": "queue-table", "property": "page_count"},
            {"id": "queue-table", "property": "page_current"},
            {"id": "queue-count", "property": "children"},
        ],
        "inputs": [
            {"id": "queue-status", "property": "value", "value": ["open"]},
            {"id": "queue-kind", "property": "value", "value": ["fake_account", "scraping"]},
            {"id": "queue-score", "property": "value", "value": [0, 1]},
            {"id": "queue-dates", "property": "start_date"},
            {"id": "queue-dates", "property": "end_date"},
            {"id": "queue-search", "property": "value", "value": ""},
            {"id": "queue-new", "property": "value", "value": []},
            {"id": "queue-table", "property": "page_current", "value": 0},
            {
                "id": "queue-table",
                "property": "sort_by",
                "value": [{"column_id": column, "direction": direction}],
            },
        ],
        "changedPropIds": ["queue-table.sort_by"],
        "state": [{"id": "queue-table", "property": "page_size", "value": 25}],
    }


def _ring_expand_payload(ring_id: str, slider: dict, expanded: dict) -> dict:
    """The ring page's graph callback after a click on a ``+N more`` node."""
    return {
        "output": "ring-graph.elements",
        "outputs": {"id": "ring-graph", "property": "elements"},
        "inputs": [
            {"id": "ring-time", "property": "value", "value": slider["value"]},
            {"id": "ring-expanded", "property": "data", "value": expanded},
            {"id": "ring-open", "property": "data", "value": []},
        ],
        "changedPropIds": ["ring-expanded.data"],
        "state": [
            {"id": "ring-time-origin", "property": "data", "value": slider["origin"]},
            {"id": "ring-id", "property": "data", "value": ring_id},
        ],
    }


@contextlib.contextmanager
def baseline() -> Iterator[None]:
    """The ring view as it was before the speed-ups this benchmark compares against:
    bulk rows decoded with ``record.data()``, every neighbour of an identifier read and
    sorted (no walk of the risk index), and the graph's callbacks reading the ring again
    (no reuse of what the page read)."""
    from dashboards import queries
    from dashboards.pages import ring

    def read_bulk(driver, database, query, **params):
        records, _, _ = driver.execute_query(query, params, database_=database, routing_="r")
        return [record.data() for record in records]

    saved = queries._read_bulk, queries.INDEX_WALK_FROM, ring.RECENT.ttl_s
    queries._read_bulk, queries.INDEX_WALK_FROM, ring.RECENT.ttl_s = read_bulk, 10**12, -1.0
    try:
        yield
    finally:
        queries._read_bulk, queries.INDEX_WALK_FROM, ring.RECENT.ttl_s = saved


def bench(driver, database: str, args: argparse.Namespace) -> dict:
    from dashboards import queries, views
    from dashboards.app import create_app
    from dashboards.sample import sample_world, write_sample

    out: dict = {"setup": {}, "query+view": {}, "http": {}}
    start = time.perf_counter()
    world = sample_world(
        rings=args.rings - 1, background=args.background, seed=0, big_ring=args.big_ring
    )
    records, _, _ = driver.execute_query(
        "MATCH (r:Ring) RETURN count(r) AS n", database_=database, routing_="r"
    )
    if args.reuse and records[0]["n"] == len(world["rings"]):
        counts = {"rings": records[0]["n"], "reused": True}
    else:
        with driver.session(database=database) as session:  # batched: an implicit transaction
            session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS").consume()
        counts = write_sample(driver, database, world)
    out["setup"] = {**counts, "load_s": round(time.perf_counter() - start, 1)}
    print(f"graph {counts} ready in {out['setup']['load_s']} s", flush=True)

    member = next(m["a"] for m in world["members"] if m["r"] != BIG_RING)
    email = next(a["email"] for a in world["accounts"] if a["account_id"] == member)
    everything = ("open", "in_progress", "confirmed", "dismissed")

    def queue(flt=None, **kw):
        def run():
            page = queries.ring_page(driver, database, flt, **kw)
            views.queue_rows(page.rows)
            return {"total": page.total, "rows": len(page.rows)}

        return run

    def ring_view():
        data = queries.ring_graph_data(driver, database, BIG_RING)
        elements = views.ring_elements(data.members, data.identifiers)
        views.members_rows(data.members)
        nodes = sum("source" not in e["data"] for e in elements)
        return {"nodes": nodes, "edges": len(elements) - nodes, "members": len(data.members)}

    def ring_view_expanded():
        data = queries.ring_graph_data(driver, database, BIG_RING)
        first = views.ring_elements(data.members, data.identifiers)
        more = [e["data"]["of"] for e in first if e["data"].get("what") == "outside"]
        label, _, key = more[0].partition(":")
        outside = queries.outside_neighbours(
            driver, database, label, key, ring_id=BIG_RING, limit=50
        )
        elements = views.ring_elements(data.members, data.identifiers, expanded={more[0]: outside})
        return {"nodes": sum("source" not in e["data"] for e in elements)}

    def account_view():
        data = queries.account_data(driver, database, member)
        queries.neighbour_counts(driver, database, member)
        views.account_timeline_figure(data.account, data.identifiers)
        return {"identifiers": len(data.identifiers)}

    cases = {
        "queue: open, by score (default)": queue(),
        "queue: all, by size desc": queue(
            queries.RingFilter(statuses=everything), sort="size", descending=True
        ),
        "queue: all, by last seen asc": queue(
            queries.RingFilter(statuses=everything), sort="last_seen", descending=False
        ),
        "queue: all, last page": queue(queries.RingFilter(statuses=everything), page=10_000),
        "queue: scraping, score 0.8-1": queue(
            queries.RingFilter(statuses=everything, kinds=("scraping",), min_score=0.8)
        ),
        "queue: search member id": queue(queries.RingFilter(statuses=everything, search=member)),
        "queue: search reason words": queue(
            queries.RingFilter(statuses=everything, search="created within")
        ),
        "queue: only new": queue(queries.RingFilter(only_new=True)),
        "ring view: 500-node ring": ring_view,
        "ring view: 500-node ring, +50 expanded": ring_view_expanded,
        "account view": account_view,
        "search: canonical email": lambda: len(
            queries.search_entities(driver, database, views.search_candidates(email))
        ),
    }
    for name, fn in cases.items():
        out["query+view"][name] = _timed(fn, args.repeat)
        _print(name, out["query+view"][name])

    app = create_app(driver, database, user="bench")
    client = app.server.test_client()

    def post(payload: dict) -> Callable[[], dict]:
        def run():
            response = client.post("/_dash-update-component", json=payload)
            if response.status_code != 200:
                raise RuntimeError(
                    f"{response.status_code}: {response.get_data(as_text=True)[:500]}"
                )
            return {"bytes": len(response.get_data())}

        return run

    data = queries.ring_graph_data(driver, database, BIG_RING)
    slider = views.time_slider(views.time_bounds(data.identifiers))
    first_more = next(
        e["data"]["of"]
        for e in views.ring_elements(data.members, data.identifiers)
        if e["data"].get("what") == "outside"
    )
    requests = {
        "GET / (queue page, first 25 of 10,000)": post(_route_payload("/")),
        "queue: sort by size (callback)": post(_queue_sort_payload("size", "desc")),
        "queue: sort by first seen (callback)": post(_queue_sort_payload("first_seen", "asc")),
        f"GET /ring/{BIG_RING} (500-node ring page)": post(_route_payload(f"/ring/{BIG_RING}")),
        "ring page: click +N more (callback, +50 nodes)": post(
            _ring_expand_payload(BIG_RING, slider, {first_more: 50})
        ),
        f"GET /account/{member}": post(_route_payload(f"/account/{member}")),
        "GET /search?q=<email>": post(_route_payload("/search", f"?q={email}")),
    }
    for name, fn in requests.items():
        out["http"][name] = _timed(fn, args.repeat)
        _print(name, out["http"][name])

    # the ring cases again, each run of the code as it is now followed by one of the code
    # as it was before: paired runs, so the load of a busy shared machine falls on both
    page, click = (
        f"GET /ring/{BIG_RING} (500-node ring page)",
        "ring page: click +N more (callback, +50 nodes)",
    )
    compared = {
        "query+view: ring view: 500-node ring": cases["ring view: 500-node ring"],
        "query+view: ring view: 500-node ring, +50 expanded": cases[
            "ring view: 500-node ring, +50 expanded"
        ],
        f"http: {page}": requests[page],
        f"http: {click}": requests[click],
    }
    out["paired"] = {}
    print("paired runs, now vs before the speed-ups (baseline):", flush=True)
    for name, fn in compared.items():
        now, before = _paired(fn, args.repeat)
        ratio = before["median_s"] / now["median_s"]
        out["paired"][name] = {"now": now, "baseline": before, "speedup": round(ratio, 2)}
        _print(f"{name} [now]", now)
        _print(f"{name} [baseline]", before)
        print(f"    {ratio:.2f}x faster now (median of paired runs)", flush=True)
    return out


def _paired(fn: Callable[[], object], repeat: int) -> tuple[dict, dict]:
    """Timings of ``fn`` now and under :func:`baseline`, alternating run by run."""
    times: dict[str, list[float]] = {"now": [], "baseline": []}
    results: dict[str, object] = {}
    for _ in range(repeat + 1):  # the first pair is "cold" and not in the median
        for kind in ("now", "baseline"):
            with baseline() if kind == "baseline" else contextlib.nullcontext():
                start = time.perf_counter()
                results[kind] = fn()
                times[kind].append(time.perf_counter() - start)
    return tuple(  # type: ignore[return-value]
        {
            "median_s": round(statistics.median(times[k][1:]), 4),
            "max_s": round(max(times[k][1:]), 4),
            "cold_s": round(times[k][0], 4),
            "runs": repeat,
            "result": results[k],
        }
        for k in ("now", "baseline")
    )


def _print(name: str, timing: dict) -> None:
    print(
        f"  {name:48} median {timing['median_s'] * 1000:7.1f} ms   max "
        f"{timing['max_s'] * 1000:7.1f} ms   cold {timing['cold_s'] * 1000:7.1f} ms   "
        f"{timing['result']}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rings", type=int, default=10_000)
    parser.add_argument("--background", type=int, default=2_000)
    parser.add_argument("--big-ring", type=int, default=380, help="members of the big ring")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--reuse", action="store_true", help="keep a graph an earlier run loaded (same sizes)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "bench_dashboard.json")
    args = parser.parse_args(argv)

    import logging

    from neo4j import GraphDatabase

    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    with (
        neo4j_for_bench() as (uri, password, database),
        GraphDatabase.driver(uri, auth=("neo4j", password)) as driver,
    ):
        result = bench(driver, database, args)
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    result["args"] = {k: str(v) for k, v in vars(args).items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
