"""Link accounts through the identifiers they share.

Every identifier an account uses (a device, a payment method, a canonical email, a
phone, an IP, the IP's subnet, a user agent) says a little about who is behind the
account. Two accounts that share an identifier are linked with a weight that depends on

* the identifier's **kind** (a shared card says more than a shared IP),
* how **many accounts use it**: past a kind's ``typical`` number of users the weight falls
  as ``typical / n``, so a carrier NAT or a VPN exit counts for almost nothing, and
* **timing**: an identifier with more than ``clique_limit`` users does not link all its
  pairs; each account is linked only to the few accounts that started using it within
  ``burst_window`` of it (sign-up bursts behind a NAT are evidence, the NAT is not).

Weights of all identifiers two accounts share are summed; a pair whose sum reaches the
link threshold is a link. :func:`account_links` returns all weighted pairs; thresholding
and components are in :mod:`graphs.components`.

Integer indices exist only here and in :mod:`graphs.components`, next to the id map
``LinkGraph.account_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from graphs.snapshot import Snapshot, text_column

__all__ = [
    "DEFAULT_WEIGHTS",
    "IdentifierWeight",
    "LinkGraph",
    "account_links",
    "identifier_memberships",
]


@dataclass(frozen=True)
class IdentifierWeight:
    """How much sharing one identifier of a kind links two accounts.

    ``base`` is the weight of an identifier used by at most ``typical`` accounts; beyond
    that it falls as ``base * typical / n_accounts``. Two users whose first *and* last use
    of it both fall within ``SYNC_WINDOW`` of each other (sessions in lockstep) get
    ``sync`` on top, however many others use it. Consecutive first users whose gaps
    repeat within ``CADENCE_TOLERANCE`` (sign-ups at a machine's fixed cadence) get
    ``cadence`` on top.
    """

    base: float
    typical: int
    sync: float = 0.0
    cadence: float = 0.0


#: Per-kind weights. ``subnet`` is derived from ``ip`` links through ``ip_subnets``.
#: ``signup_subnet`` likewise from ``signup_ip``.
#: ``creator`` is not an identifier (fans share creators) and links nothing.
DEFAULT_WEIGHTS: Mapping[str, IdentifierWeight] = {
    "device": IdentifierWeight(1.0, 30),
    "signup_device": IdentifierWeight(1.0, 30),
    "payment_method": IdentifierWeight(1.0, 30),
    "email": IdentifierWeight(1.0, 30),
    "phone": IdentifierWeight(0.8, 30),
    "signup_ip": IdentifierWeight(0.3, 8),
    "ip": IdentifierWeight(0.25, 8, sync=0.5),
    "subnet": IdentifierWeight(0.1, 30, sync=0.5),
    "signup_subnet": IdentifierWeight(0.0, 30, cadence=0.6),
    "user_agent": IdentifierWeight(0.3, 30),
}


#: Account pairs made and weighted at a time (see ``account_links``'s ``chunk_pairs``).
CHUNK_PAIRS = 1_000_000
#: Ranges of the lower account whose pair weights are summed one at a time.
SUM_BUCKETS = 8
#: Users of a large identifier link only when they started using it this close in time.
TIMING_WINDOW = pd.Timedelta("30min")
#: First and last uses this close count as lockstep (see ``IdentifierWeight.sync``).
SYNC_WINDOW = pd.Timedelta("2min")
#: Sign-ups at most CADENCE_MAX_GAP apart whose gaps repeat within the tolerance.
CADENCE_MAX_GAP = pd.Timedelta("10min")
CADENCE_TOLERANCE = pd.Timedelta("15s")


@dataclass(frozen=True)
class LinkGraph:
    """Weighted account pairs: ``src`` < ``dst`` index into ``account_ids``."""

    account_ids: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray

    @property
    def n_accounts(self) -> int:
        return len(self.account_ids)

    def pairs(self) -> pd.DataFrame:
        """The pairs as a table of string ids (for tests and small graphs)."""
        return pd.DataFrame(
            {
                "a": self.account_ids[self.src],
                "b": self.account_ids[self.dst],
                "weight": self.weight,
            }
        )


def identifier_memberships(snapshot: Snapshot, kinds: Mapping[str, object]) -> pd.DataFrame:
    """Account–identifier memberships of the linking kinds, subnets included.

    Returns columns ``account_id``, ``kind`` (categorical), ``key``, ``first_seen``,
    ``last_seen`` with one row per (account, kind, key); a subnet's times span the
    account's use (not sign-up) of IPs in it. Two integer columns carry the same rows
    for algorithms: ``account`` (the position in ``snapshot.accounts``, or a number
    ``>= n_accounts`` for an account id it does not hold) and ``key_code`` (one number
    per key string within a kind).

    Examples
    --------
    >>> import pandas as pd
    >>> from graphs.snapshot import Snapshot
    >>> t = pd.Timestamp("2026-03-01", tz="UTC")
    >>> links = pd.DataFrame({"account_id": ["a", "b"], "kind": ["ip", "ip"],
    ...     "key": ["10.0.0.1", "10.0.0.2"], "first_seen": [t, t], "last_seen": [t, t]})
    >>> subnets = pd.DataFrame({"ip": ["10.0.0.1", "10.0.0.2"],
    ...     "subnet": ["10.0.0.0/24", "10.0.0.0/24"]})
    >>> snap = Snapshot(accounts=pd.DataFrame({"account_id": ["a", "b"]}), links=links,
    ...     ip_subnets=subnets)
    >>> identifier_memberships(snap, {"ip": 1, "subnet": 1})["kind"].tolist()
    ['ip', 'ip', 'subnet', 'subnet']
    """
    # strings are hashed once here (account ids, kinds, keys); everything after works on
    # the integer codes, which is what keeps linking a million accounts quick
    links = snapshot.links
    derived = {"subnet": "ip", "signup_subnet": "signup_ip"}
    link_kind, link_kinds = pd.factorize(links["kind"].to_numpy(dtype=object))
    link_kinds = list(link_kinds)
    wanted = [link_kinds.index(k) for k in kinds if k not in derived and k in link_kinds]
    rows = np.flatnonzero(np.isin(link_kind, wanted))
    key_code, key_names = pd.factorize(links["key"].to_numpy(dtype=object)[rows])
    account, account_names = _account_codes(snapshot, rows)
    categories = [k for k in kinds if k in link_kinds or k in derived]
    remap = np.zeros(len(link_kinds), dtype=np.int8)
    for k in categories:
        if k in link_kinds:
            remap[link_kinds.index(k)] = categories.index(k)
    parts = [
        {
            "account_id": links["account_id"].to_numpy(dtype=object)[rows],
            "kind": remap[link_kind[rows]],
            "key": links["key"].to_numpy(dtype=object)[rows],
            "first_seen": _naive_utc(links["first_seen"])[rows],
            "last_seen": _naive_utc(links["last_seen"])[rows],
            "account": account,
            "key_code": key_code.astype(np.int64),
        }
    ]
    subnet_names = None
    for kind, source in derived.items():
        if kind in kinds and source in link_kinds and len(snapshot.ip_subnets):
            if subnet_names is None:
                subnet_code, subnet_names = pd.factorize(
                    snapshot.ip_subnets["subnet"].to_numpy(dtype=object)
                )
            part = _subnet_memberships(
                parts[0], link_kind[rows] == link_kinds.index(source), key_names,
                snapshot.ip_subnets["ip"], subnet_code,
            )  # fmt: skip
            part["kind"] = np.full(len(part["account"]), categories.index(kind), dtype=np.int8)
            part["account_id"] = account_names[part["account"]]
            part["key"] = np.asarray(subnet_names, dtype=object)[part["key_code"]]
            part["key_code"] = part["key_code"] + len(key_names)
            parts.append(part)
    columns = ["account_id", "kind", "key", "first_seen", "last_seen", "account", "key_code"]
    # one column at a time, each part's column freed once joined, and no copy into the
    # frame: 12M rows at 1M accounts, where copying the whole table cost ~2 GB at once
    out = {}
    for c in columns:
        joined = np.concatenate([np.asarray(p.pop(c)) for p in parts])
        if c == "kind":
            out[c] = pd.Categorical.from_codes(joined, categories=categories)
        elif c in ("first_seen", "last_seen"):
            out[c] = pd.Series(joined, copy=False).dt.tz_localize("UTC").astype(links[c].dtype)
        else:
            # text_column keeps the string objects (pandas would copy them into a new
            # Arrow string column, and every later to_numpy would box them again)
            out[c] = text_column(joined)
        del joined
    return pd.DataFrame(out, copy=False)


def _naive_utc(times: pd.Series) -> np.ndarray:
    """UTC times as plain ``datetime64[ns]`` (numpy would box tz-aware ones as objects)."""
    return pd.to_datetime(times, utc=True).dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


def _account_codes(snapshot: Snapshot, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position in the accounts of each selected link row, and the id of every code
    (account ids not in ``snapshot.accounts`` get codes after the accounts')."""
    ids = snapshot.accounts["account_id"].to_numpy(dtype=object)
    account = snapshot.link_accounts[rows]
    unknown = account < 0
    if not unknown.any():
        return account, ids
    extra, extra_ids = pd.factorize(
        snapshot.links["account_id"].to_numpy(dtype=object)[rows][unknown]
    )
    account = account.copy()
    account[unknown] = len(ids) + extra
    return account, np.concatenate([ids, np.asarray(extra_ids, dtype=object)])


def _subnet_memberships(
    members: dict, is_source: np.ndarray, key_names: pd.Index, ips: pd.Series,
    subnet_code: np.ndarray,
) -> dict:  # fmt: skip
    """Account–subnet rows (``key_code`` = subnet code) from the ip rows of ``members``."""
    # later use and sign-up are kept apart: a sign-up time would hide sessions that run in
    # lockstep, and later use would hide a sign-up cadence
    used = np.unique(members["key_code"][is_source])
    position = pd.Index(np.asarray(key_names, dtype=object)[used], dtype=object).get_indexer(
        ips.to_numpy(dtype=object)
    )
    found = position >= 0
    ip_links = pd.DataFrame(
        {
            "account": members["account"][is_source],
            "ip": members["key_code"][is_source],
            "first_seen": members["first_seen"][is_source],
            "last_seen": members["last_seen"][is_source],
        }
    )
    subnets = pd.DataFrame({"ip": used[position[found]], "subnet": subnet_code[found]})
    # an inner merge keeps the ip links' order, as on the strings
    joined = ip_links.merge(subnets, on="ip", how="inner")
    grouped = (
        joined.groupby(["account", "subnet"], sort=False)
        .agg(first_seen=("first_seen", "min"), last_seen=("last_seen", "max"))
        .reset_index()
    )
    return {
        "account": grouped["account"].to_numpy(),
        "key_code": grouped["subnet"].to_numpy().astype(np.int64),
        "first_seen": grouped["first_seen"].to_numpy(),
        "last_seen": grouped["last_seen"].to_numpy(),
    }


def _all_pairs(starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j), i < j, of positions inside each run ``[start, start + size)``."""
    # the element at offset p of a run of size n pairs with the n - 1 - p after it
    offset = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    left = np.repeat(starts, sizes) + offset
    n_right = np.repeat(sizes, sizes) - 1 - offset
    i = np.repeat(left, n_right)
    # j runs from i + 1 to the run's end: a ramp restarting at every i
    ramp = np.arange(n_right.sum()) - np.repeat(np.cumsum(n_right) - n_right, n_right)
    return i, i + 1 + ramp


def _pair_chunks(
    starts: np.ndarray, sizes: np.ndarray, chunk_pairs: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The pairs of :func:`_all_pairs`, in the same order, whole runs at a time and
    about ``chunk_pairs`` pairs per chunk (a run larger than that is one chunk).

    Examples
    --------
    >>> starts, sizes = np.array([0, 3, 5]), np.array([3, 2, 2])
    >>> [i.tolist() for i, _ in _pair_chunks(starts, sizes, 3)]
    [[0, 0, 1], [3, 5]]
    """
    n_pairs = sizes.astype(np.int64) * (sizes - 1) // 2
    chunk = (np.cumsum(n_pairs) - n_pairs) // max(chunk_pairs, 1)
    bounds = np.flatnonzero(np.r_[True, chunk[1:] != chunk[:-1], True])
    for lo, hi in pairwise(bounds):
        if lo < len(sizes):
            yield _all_pairs(starts[lo:hi], sizes[lo:hi])


def _time_neighbour_pairs(
    group: np.ndarray, seconds: np.ndarray, neighbours: int, window_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, i + d), d <= neighbours, in the same group and within ``window_s``."""
    lefts, rights = [], []
    for d in range(1, neighbours + 1):
        i = np.arange(len(group) - d)
        j = i + d
        keep = (group[i] == group[j]) & (seconds[j] - seconds[i] <= window_s)
        lefts.append(i[keep])
        rights.append(j[keep])
    return np.concatenate(lefts), np.concatenate(rights)


def account_links(
    snapshot: Snapshot,
    weights: Mapping[str, IdentifierWeight] = DEFAULT_WEIGHTS,
    *,
    clique_limit: int = 60,
    burst_window: pd.Timedelta = TIMING_WINDOW,
    burst_neighbours: int = 3,
    memberships: pd.DataFrame | None = None,
    chunk_pairs: int = CHUNK_PAIRS,
) -> LinkGraph:
    """Weighted links between accounts that share identifiers.

    Parameters
    ----------
    snapshot : Snapshot
        The graph; ``links`` and ``ip_subnets`` are read.
    weights : mapping of kind to IdentifierWeight
        Kinds missing from the mapping link nothing.
    clique_limit : int
        Identifiers with more users than this link only accounts that started using
        them within ``burst_window`` of each other (each to its next
        ``burst_neighbours`` in time).
    memberships : DataFrame, optional
        :func:`identifier_memberships` for at least the weighted kinds, when the caller
        has it already.
    chunk_pairs : int
        About this many account pairs are made and weighted at a time (memory); the
        result does not depend on it.

    Returns
    -------
    LinkGraph
        One entry per linked pair, with the sum of the weights of what they share.

    Examples
    --------
    >>> import pandas as pd
    >>> from graphs.snapshot import Snapshot
    >>> t = pd.Timestamp("2026-03-01", tz="UTC")
    >>> links = pd.DataFrame({"account_id": ["a", "b", "b", "c"],
    ...     "kind": ["device", "device", "ip", "ip"], "key": ["d1", "d1", "i1", "i1"],
    ...     "first_seen": [t] * 4, "last_seen": [t] * 4})
    >>> snap = Snapshot(accounts=pd.DataFrame({"account_id": ["a", "b", "c"]}), links=links)
    >>> account_links(snap).pairs().sort_values("a").to_dict("records")
    [{'a': 'a', 'b': 'b', 'weight': 1.0}, {'a': 'b', 'b': 'c', 'weight': 0.25}]
    """
    account_ids = snapshot.accounts["account_id"].to_numpy(dtype=object)
    if memberships is None:
        memberships = identifier_memberships(snapshot, weights)
    # the users' arrays are handed over, not kept here: they are freed as soon as the
    # last chunk of pairs is made, before the pairs are summed
    pairs = _weighted_pairs(
        _sorted_users(memberships, weights, len(account_ids)), weights,
        clique_limit=clique_limit, burst_window=burst_window,
        burst_neighbours=burst_neighbours, chunk_pairs=chunk_pairs,
    )  # fmt: skip
    return _sum_pairs(account_ids, pairs)


def _weighted_pairs(
    users: _Users,
    weights: Mapping[str, IdentifierWeight],
    *,
    clique_limit: int,
    burst_window: pd.Timedelta,
    burst_neighbours: int,
    chunk_pairs: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Chunks of ``(account, account, weight)``, one entry per identifier a pair shares
    (see :func:`account_links`), in the order the sums add them up."""
    n_users = np.bincount(users.ident, minlength=len(users.kind_of_ident))
    kind = users.kind_of_ident

    def per_kind(field: str) -> np.ndarray:
        values = [getattr(weights[k], field) if k in weights else 0.0 for k in users.kinds]
        return np.array(values, dtype=float)

    sync, cadence = per_kind("sync"), per_kind("cadence")
    ident_weight = per_kind("base")[kind] * np.minimum(
        1.0, per_kind("typical")[kind] / np.maximum(n_users, 1)
    )

    def weighted(i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Accounts and weight of the pairs of user positions ``(i, j)``."""
        ident = users.ident[i]
        w = ident_weight[ident]
        # lockstep: first and last use both coincide, and each user's use spans a while
        # (only for pairs of kinds that carry a sync weight)
        window = SYNC_WINDOW.total_seconds()
        at = np.flatnonzero(sync[kind[ident]] > 0)
        fi, fj = users.first[i[at]], users.first[j[at]]
        li, lj = users.last[i[at]], users.last[j[at]]
        in_sync = (
            (np.abs(fi - fj) <= window)
            & (np.abs(li - lj) <= window)
            & (np.minimum(li - fi, lj - fj) > window)
        )
        w[at] += sync[kind[ident[at]]] * in_sync
        return users.account[i], users.account[j], w

    # small identifiers: every pair of users, a few identifiers at a time
    starts = np.flatnonzero(np.r_[True, users.ident[1:] != users.ident[:-1]])
    sizes = np.diff(np.r_[starts, len(users.ident)])
    small = (sizes >= 2) & (sizes <= clique_limit)
    for i, j in _pair_chunks(starts[small], sizes[small], chunk_pairs):
        yield weighted(i, j)
    del starts, sizes, small
    # large identifiers: only users close in time
    big_pos = np.flatnonzero(n_users[users.ident] > clique_limit)
    i, j = _time_neighbour_pairs(
        users.ident[big_pos], users.first[big_pos], burst_neighbours,
        burst_window.total_seconds(),
    )  # fmt: skip
    yield weighted(big_pos[i], big_pos[j])
    del big_pos
    i, j = _cadence_pairs(users.ident, users.first, cadence[kind[users.ident]] > 0)
    yield users.account[i], users.account[j], cadence[kind[users.ident[i]]]


@dataclass(frozen=True)
class _Users:
    """The weighted kinds' memberships of known accounts, sorted by identifier and then
    first use: ``ident`` (identifier number), ``account`` (position), ``first`` / ``last``
    (seconds); ``kind_of_ident`` is each identifier's kind (an index into ``kinds``)."""

    ident: np.ndarray
    account: np.ndarray
    first: np.ndarray
    last: np.ndarray
    kind_of_ident: np.ndarray
    kinds: pd.Index


def _sorted_users(memberships: pd.DataFrame, weights: Mapping, n_accounts: int) -> _Users:
    # int32 where it fits and every temporary freed early: these arrays have one entry
    # per membership (12M at 1M accounts) and live through the pairing
    use = memberships["kind"].isin(list(weights)).to_numpy() & (
        memberships["account"].to_numpy() < n_accounts
    )
    key_code = memberships["key_code"].to_numpy()[use]
    n_keys = int(key_code.max()) + 1 if len(key_code) else 1
    combined = memberships["kind"].cat.codes.to_numpy()[use].astype(np.int64)
    combined *= n_keys
    combined += key_code
    del key_code
    ident, ident_first = pd.factorize(combined)
    del combined
    ident = ident.astype(np.int32 if len(ident_first) < 2**31 else np.int64)
    first = _seconds(memberships["first_seen"])[use]
    order = np.lexsort((first, ident))
    ident, first = ident[order], first[order]
    last = _seconds(memberships["last_seen"])[use][order] if "last_seen" in memberships else first
    account = memberships["account"].to_numpy()[use][order].astype(np.int32)
    return _Users(
        ident=ident,
        account=account,
        first=first,
        last=last,
        kind_of_ident=(ident_first // n_keys).astype(np.int8),
        kinds=memberships["kind"].cat.categories,
    )


def _cadence_pairs(
    group: np.ndarray, seconds: np.ndarray, eligible: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive pairs (k, k + 1) inside a run of three or more first uses of one
    identifier whose gaps are short and repeat (``CADENCE_*``); input sorted by group, time.
    """
    gap = np.diff(seconds)
    same = (group[1:] == group[:-1]) & eligible[1:] & eligible[:-1]
    short = same & (gap <= CADENCE_MAX_GAP.total_seconds())
    # gap k (between k and k+1) repeats gap k+1 (between k+1 and k+2)
    repeats = (
        short[:-1] & short[1:] & (np.abs(gap[:-1] - gap[1:]) <= CADENCE_TOLERANCE.total_seconds())
    )
    steps = np.zeros(len(gap), dtype=bool)
    steps[:-1] |= repeats
    steps[1:] |= repeats
    k = np.flatnonzero(steps)
    return k, k + 1


def _seconds(times: pd.Series) -> np.ndarray:
    """Seconds since the epoch (0 for unknown), as ``Timedelta.total_seconds`` gives them."""
    values = _naive_utc(times)
    out = values.view(np.int64) / 1e9
    return np.where(np.isnat(values), 0.0, out)


def _bucketed(
    a: np.ndarray, b: np.ndarray, w: np.ndarray, n: int, span: int, buckets: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(key, weight)`` of the pairs ``a != b`` per range of the lower account, in order;
    ``key = low * n + high``."""
    keep = a != b
    a, b, w = a[keep], b[keep], w[keep]
    low = np.minimum(a, b).astype(np.int64)
    bucket = low // span
    key = low * n + np.maximum(a, b)
    del a, b, low
    order = np.argsort(bucket, kind="stable")
    cuts = np.searchsorted(bucket[order], np.arange(1, buckets))
    return [(key[at], w[at]) for at in np.split(order, cuts)]


def _sum_pairs(
    account_ids: np.ndarray,
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    buckets: int = SUM_BUCKETS,
) -> LinkGraph:
    """Sum the weights of each pair of accounts ``(a, b)``, ``a != b``, over ``chunks``
    of ``(a, b, weight)``; pairs in ascending order.

    Each chunk is split by the lower account into ``buckets`` ranges, and each range is
    summed on its own, hash-factorised: a hash table (or a sort) of all the tens of
    millions of raw pairs at once was the peak of detection's memory. Within a pair the
    weights add up in the order the chunks give them, so the sums do not depend on the
    chunking.
    """
    n = len(account_ids)
    span = max(-(-n // buckets), 1)
    parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(buckets)]
    for chunk in chunks:
        for part, keyed in zip(parts, _bucketed(*chunk, n, span, buckets), strict=True):
            if len(keyed[0]):
                part.append(keyed)
        del chunk
    sums = []
    for part in parts:
        key = np.concatenate([k for k, _ in part]) if part else np.zeros(0, dtype=np.int64)
        w = np.concatenate([w for _, w in part]) if part else np.zeros(0)
        part.clear()
        codes, uniq = pd.factorize(key, sort=False)
        del key
        total = np.bincount(codes, weights=w, minlength=len(uniq))
        del codes, w
        order = np.argsort(uniq, kind="stable")
        sums.append((uniq[order], total[order]))
    n_pairs = sum(len(u) for u, _ in sums)
    src, dst = np.empty(n_pairs, dtype=np.int64), np.empty(n_pairs, dtype=np.int64)
    weight = np.empty(n_pairs)
    at = 0
    for k in range(len(sums)):
        (uniq, total), sums[k] = sums[k], None  # freed as the output fills
        end = at + len(uniq)
        src[at:end], dst[at:end], weight[at:end] = uniq // n, uniq % n, total
        at = end
    return LinkGraph(account_ids=account_ids, src=src, dst=dst, weight=weight)
