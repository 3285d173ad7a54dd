"""Account linking: the chunked pair generation and summing give the unchunked answer."""

from __future__ import annotations

import numpy as np
import pytest

from graphs.linking import _all_pairs, _pair_chunks, _sum_pairs, account_links
from tests.graphs.tiny import TinyWorld


def random_runs(rng: np.random.Generator, n_runs: int) -> tuple[np.ndarray, np.ndarray]:
    sizes = rng.integers(2, 12, size=n_runs)
    gaps = rng.integers(0, 3, size=n_runs)  # runs need not touch
    starts = np.cumsum(np.r_[0, sizes[:-1] + gaps[:-1]])
    return starts, sizes


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk_pairs", [1, 5, 37, 10_000])
def test_chunked_pairs_are_all_pairs_in_the_same_order(seed, chunk_pairs):
    starts, sizes = random_runs(np.random.default_rng(seed), 40)
    whole_i, whole_j = _all_pairs(starts, sizes)
    chunks = list(_pair_chunks(starts, sizes, chunk_pairs))
    assert np.array_equal(np.concatenate([i for i, _ in chunks]), whole_i)
    assert np.array_equal(np.concatenate([j for _, j in chunks]), whole_j)
    # whole runs per chunk, and no chunk much larger than asked
    assert all(len(i) <= max(chunk_pairs, 11 * 10 // 2) * 2 for i, _ in chunks)
    if chunk_pairs == 1:
        assert len(chunks) == len(sizes)


def test_no_runs_give_no_chunks():
    assert list(_pair_chunks(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 10)) == []


@pytest.mark.parametrize("buckets", [1, 3, 8])
def test_pair_sums_add_each_pairs_weights_in_order(buckets):
    rng = np.random.default_rng(7)
    n = 30
    chunks = []
    for _ in range(5):
        size = int(rng.integers(0, 60))
        a, b = rng.integers(0, n, size=size), rng.integers(0, n, size=size)
        chunks.append((a.astype(np.int32), b.astype(np.int32), rng.random(size) / 3))
    expected: dict[tuple[int, int], float] = {}
    for a, b, w in chunks:
        for x, y, weight in zip(a.tolist(), b.tolist(), w.tolist(), strict=True):
            if x != y:
                pair = (min(x, y), max(x, y))
                expected[pair] = expected.get(pair, 0.0) + weight
    ids = np.array([f"a{k}" for k in range(n)], dtype=object)
    graph = _sum_pairs(ids, iter(chunks), buckets=buckets)
    columns = (graph.src.tolist(), graph.dst.tolist(), graph.weight.tolist())
    got = {(s, d): w for s, d, w in zip(*columns, strict=True)}
    assert got == expected  # exactly: the same additions in the same order
    assert list(got) == sorted(expected)
    assert graph.src.dtype == graph.dst.dtype == np.int64


def random_world(seed: int) -> TinyWorld:
    """Accounts sharing devices, cards, IPs (subnets) and a user agent, at close times,
    some identifiers used by more accounts than the clique limit of the test."""
    rng = np.random.default_rng(seed)
    world = TinyWorld()
    for k in range(60):
        world.account(f"a{k:02d}", created_h=float(rng.integers(0, 5)))
    kinds = {"device": 15, "payment_method": 10, "ip": 12, "signup_ip": 8, "user_agent": 3}
    for k in range(60):
        for kind, n_keys in kinds.items():
            for key in set(rng.integers(0, n_keys, size=int(rng.integers(1, 3))).tolist()):
                first = float(rng.integers(0, 40)) / 60  # minutes apart: bursts and lockstep
                last = first + float(rng.integers(0, 3))
                world.link(f"a{k:02d}", kind, f"10.0.{key % 3}.{key}", first, last)
    return world


@pytest.mark.parametrize("seed", [3, 4])
def test_account_links_do_not_depend_on_the_chunk_size(seed):
    snapshot = random_world(seed).snapshot()
    whole = account_links(snapshot, clique_limit=6, chunk_pairs=10**9)
    assert len(whole.weight) > 100 and (whole.weight >= 0.5).any()
    for chunk_pairs in (1, 13, 200):
        chunked = account_links(snapshot, clique_limit=6, chunk_pairs=chunk_pairs)
        assert np.array_equal(chunked.src, whole.src)
        assert np.array_equal(chunked.dst, whole.dst)
        assert np.array_equal(chunked.weight, whole.weight)
