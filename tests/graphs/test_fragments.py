"""Joining fragments of one self-dealing ring: tiny hand-written candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphs.fragments import merge_fragments

T0 = pd.Timestamp("2026-03-01", tz="UTC")


def _support(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """(account, creator, days after T0) -> creator memberships."""
    return pd.DataFrame(
        {
            "account_id": [a for a, _, _ in rows],
            "kind": "creator",
            "key": [c for _, c, _ in rows],
            "first_seen": [T0 + pd.Timedelta(days=d) for _, _, d in rows],
        }
    )


def _groups(labels: np.ndarray, ids: np.ndarray) -> set[frozenset[str]]:
    return {frozenset(ids[labels == label]) for label in set(labels.tolist()) - {-1}}


IDS = np.array([f"a{i}" for i in range(8)], dtype=object)
#: two candidates of three (a0-a2, a3-a5) and two accounts in none
CANDIDATES = np.array([0, 0, 0, 1, 1, 1, -1, -1])


def test_fragments_paying_one_small_creator_together_are_one_ring():
    rows = [(f"a{i}", "small", i * 0.5) for i in range(6)]
    merged = merge_fragments(CANDIDATES, IDS, _support(rows))
    assert _groups(merged, IDS) == {frozenset(f"a{i}" for i in range(6))}
    assert merged[6] == merged[7] == -1


def test_fans_arriving_months_apart_stay_apart():
    rows = [(f"a{i}", "small", 0.0) for i in range(3)]
    rows += [(f"a{i}", "small", 90.0) for i in range(3, 6)]
    merged = merge_fragments(CANDIDATES, IDS, _support(rows))
    assert _groups(merged, IDS) == _groups(CANDIDATES, IDS)


def test_fans_of_a_popular_creator_stay_apart():
    rows = [(f"a{i}", "popular", 0.0) for i in range(6)]
    rows += [(f"fan{i}", "popular", 0.0) for i in range(100)]
    merged = merge_fragments(CANDIDATES, IDS, _support(rows), max_creator_users=60)
    assert _groups(merged, IDS) == _groups(CANDIDATES, IDS)


def test_a_minority_of_members_supporting_the_creator_does_not_join():
    # one member of each candidate supports it: not what the candidate is about
    rows = [("a0", "small", 0.0), ("a3", "small", 0.0)]
    merged = merge_fragments(CANDIDATES, IDS, _support(rows), min_members=1)
    assert _groups(merged, IDS) == _groups(CANDIDATES, IDS)


def test_accounts_in_no_candidate_are_never_pulled_in():
    rows = [(f"a{i}", "small", 0.0) for i in range(8)]
    merged = merge_fragments(CANDIDATES, IDS, _support(rows))
    assert merged[6] == merged[7] == -1


@pytest.mark.parametrize(("max_size", "expected_groups"), [(6, 1), (5, 2)])
def test_a_join_never_exceeds_the_largest_ring(max_size, expected_groups):
    rows = [(f"a{i}", "small", 0.0) for i in range(6)]
    merged = merge_fragments(CANDIDATES, IDS, _support(rows), max_size=max_size)
    assert len(_groups(merged, IDS)) == expected_groups


def test_labels_stay_compact_and_in_order_of_first_member():
    candidates = np.array([2, 2, 0, 0, 1, 1, -1, -1])
    rows = [("a0", "c", 0.0), ("a1", "c", 0.0), ("a4", "c", 1.0), ("a5", "c", 1.0)]
    merged = merge_fragments(candidates, IDS, _support(rows), min_members=2)
    assert merged.tolist() == [0, 0, 1, 1, 0, 0, -1, -1]
