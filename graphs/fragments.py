"""Fragments of one ring: candidates that pay the same small creator at the same time.

A self-dealing ring (fake patrons) spreads its payments over several cards and devices
so that no identifier joins all of it: connected components then see several small
candidates. What the fragments cannot hide is their purpose: most members of each
fragment start paying the same unpopular creator within days of each other.
:func:`merge_fragments` joins candidate rings when

* at least ``min_share`` of each candidate's members (and at least ``min_members``)
  support one creator,
* that creator has at most ``max_creator_users`` supporters in the whole graph (a
  popular creator's fans are not a ring), and
* the candidates' median first payments to it are within ``window`` of each other,

and the joined ring stays within ``max_size``. Fans of a small creator who arrive over
months are not joined; neither are candidates that are not candidates already (the
merge never creates a ring from accounts that share nothing else).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FRAGMENT_WINDOW", "merge_fragments"]

#: Candidates whose members started paying the creator this close together are joined.
FRAGMENT_WINDOW = pd.Timedelta("7D")


def merge_fragments(
    candidate_of: np.ndarray,
    account_ids: np.ndarray,
    memberships: pd.DataFrame,
    *,
    min_share: float = 0.5,
    min_members: int = 3,
    max_creator_users: int = 60,
    window: pd.Timedelta = FRAGMENT_WINDOW,
    max_size: int = 80,
) -> np.ndarray:
    """Candidate labels with fragments of one ring joined (see the module docstring).

    Parameters
    ----------
    candidate_of : array of int
        Candidate of each account (-1: none), as :func:`graphs.components.ring_candidates`
        returns it.
    account_ids : array of str
        The account id of each position of ``candidate_of``.
    memberships : DataFrame
        ``account_id``, ``kind``, ``key``, ``first_seen`` rows; those of kind ``creator``
        are used (an account's first payment supporting the creator).

    Returns
    -------
    array of int
        Candidate labels, compacted to 0..k-1 in order of first member; -1 unchanged.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.Timestamp("2026-03-01", tz="UTC")
    >>> ids = np.array(["a", "b", "c", "d", "e"], dtype=object)
    >>> rows = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "kind": "creator",
    ...     "key": "c1", "first_seen": [t, t, t + pd.Timedelta("2D"), t]})
    >>> merge_fragments(np.array([0, 0, 1, 1, -1]), ids, rows, min_members=2).tolist()
    [0, 0, 0, 0, -1]
    """
    candidate_of = np.asarray(candidate_of)
    if (candidate_of >= 0).sum() == 0:
        return candidate_of
    support = memberships.loc[memberships["kind"] == "creator", ["account_id", "key", "first_seen"]]
    if support.empty:
        return candidate_of
    users = support.groupby("key")["account_id"].nunique()
    small = users.index[users <= max_creator_users]
    support = support.loc[support["key"].isin(small)]
    position = pd.Index(account_ids).get_indexer(support["account_id"])
    cand = np.where(position >= 0, candidate_of[np.maximum(position, 0)], -1)
    # seconds since the epoch: pandas 3 keeps the input's time unit, so count it out
    epoch = pd.Timestamp(0, tz="UTC")
    when = (pd.to_datetime(support["first_seen"], utc=True) - epoch) // pd.Timedelta("1s")
    support = support.assign(candidate=cand, when=when.to_numpy()).loc[cand >= 0]
    if support.empty:
        return candidate_of
    sizes = np.bincount(candidate_of[candidate_of >= 0])
    per = (
        support.groupby(["key", "candidate"])
        .agg(members=("account_id", "nunique"), when=("when", "median"))
        .reset_index()
    )
    n = sizes[per["candidate"].to_numpy()]
    per = per.loc[(per["members"] >= np.maximum(min_members, min_share * n))]
    joined = _join(per, sizes, window, max_size)
    return _relabel(candidate_of, joined)


def _join(per: pd.DataFrame, sizes: np.ndarray, window: pd.Timedelta, max_size: int) -> np.ndarray:
    """Union-find over candidates: root of each candidate after the joins."""
    parent = np.arange(len(sizes))
    size = sizes.astype(np.int64).copy()

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, group in per.sort_values(["key", "when"]).groupby("key", sort=False):
        if len(group) < 2:
            continue
        cands, times = group["candidate"].to_numpy(), group["when"].to_numpy()
        for i in range(1, len(cands)):
            if times[i] - times[i - 1] > window.total_seconds():
                continue
            a, b = root(int(cands[i - 1])), root(int(cands[i]))
            if a != b and size[a] + size[b] <= max_size:
                parent[b] = a
                size[a] += size[b]
    return np.array([root(x) for x in range(len(sizes))], dtype=np.int64)


def _relabel(candidate_of: np.ndarray, roots: np.ndarray) -> np.ndarray:
    merged = np.where(candidate_of >= 0, roots[np.maximum(candidate_of, 0)], -1)
    inside = merged >= 0
    used, first = np.unique(merged[inside], return_index=True)
    order = used[np.argsort(first)]
    relabel = np.full(len(roots), -1, dtype=np.int64)
    relabel[order] = np.arange(len(order))
    return np.where(inside, relabel[np.maximum(merged, 0)], -1)
