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

from collections.abc import Mapping
from dataclasses import dataclass

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
    # pd.Series(..., dtype=object) keeps the string objects (pandas would copy them into
    # a new Arrow string column, and every later to_numpy would box them again)
    out = pd.DataFrame(
        {c: text_column(np.concatenate([np.asarray(p[c]) for p in parts])) for c in columns}
    )
    out["kind"] = pd.Categorical.from_codes(out["kind"].to_numpy(), categories=categories)
    for column in ("first_seen", "last_seen"):
        out[column] = out[column].dt.tz_localize("UTC").astype(links[column].dtype)
    return out


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
    # the rows of weighted kinds and known accounts, as arrays (no copy of the table)
    use = memberships["kind"].isin(list(weights)).to_numpy() & (
        memberships["account"].to_numpy() < len(account_ids)
    )
    acc = memberships["account"].to_numpy()[use]
    kind_code = memberships["kind"].cat.codes.to_numpy()[use].astype(np.int64)
    kinds = memberships["kind"].cat.categories
    key_code = memberships["key_code"].to_numpy()[use]
    n_keys = int(key_code.max()) + 1 if len(key_code) else 1
    ident_code, ident_first = pd.factorize(kind_code * n_keys + key_code)
    kind_of_ident = ident_first // n_keys
    n_users = np.bincount(ident_code, minlength=len(ident_first))

    def per_kind(field: str) -> np.ndarray:
        values = [getattr(weights[k], field) if k in weights else 0.0 for k in kinds]
        return np.array(values, dtype=float)[kind_of_ident]

    base, typical = per_kind("base"), per_kind("typical")
    sync, cadence = per_kind("sync"), per_kind("cadence")
    ident_weight = base * np.minimum(1.0, typical / np.maximum(n_users, 1))

    first = _seconds(memberships["first_seen"])[use]
    last = _seconds(memberships["last_seen"])[use] if "last_seen" in memberships else first
    order = np.lexsort((first, ident_code))
    code_sorted, acc_sorted = ident_code[order], acc[order]
    first, last = first[order], last[order]

    # small identifiers: every pair of users
    starts = np.flatnonzero(np.r_[True, code_sorted[1:] != code_sorted[:-1]])
    sizes = np.diff(np.r_[starts, len(code_sorted)])
    small = (sizes >= 2) & (sizes <= clique_limit)
    i_small, j_small = _all_pairs(starts[small], sizes[small])
    # large identifiers: only users close in time
    big_pos = np.flatnonzero(n_users[code_sorted] > clique_limit)
    i_big, j_big = _time_neighbour_pairs(
        code_sorted[big_pos], first[big_pos], burst_neighbours, burst_window.total_seconds()
    )
    # positions fit in 32 bits: the pair arrays are the peak of detection's memory
    i = np.concatenate([i_small, big_pos[i_big]]).astype(np.int32)
    j = np.concatenate([j_small, big_pos[j_big]]).astype(np.int32)
    del i_small, j_small, i_big, j_big, big_pos
    ident = code_sorted[i]
    w = ident_weight[ident]
    # lockstep: first and last use both coincide, and each user's use spans a while
    # (only for pairs of kinds that carry a sync weight)
    window = SYNC_WINDOW.total_seconds()
    at = np.flatnonzero(sync[ident] > 0)
    fi, fj, li, lj = first[i[at]], first[j[at]], last[i[at]], last[j[at]]
    in_sync = (
        (np.abs(fi - fj) <= window)
        & (np.abs(li - lj) <= window)
        & (np.minimum(li - fi, lj - fj) > window)
    )
    w[at] += sync[ident[at]] * in_sync
    del ident, at, fi, fj, li, lj, in_sync
    i_cad, j_cad = _cadence_pairs(code_sorted, first, cadence[code_sorted] > 0)
    w = np.concatenate([w, cadence[code_sorted[i_cad]]])
    acc_sorted = acc_sorted.astype(np.int32)
    a = acc_sorted[np.concatenate([i, i_cad.astype(np.int32)])]
    del i
    b = acc_sorted[np.concatenate([j, j_cad.astype(np.int32)])]
    del j
    n = len(account_ids)
    key = np.minimum(a, b).astype(np.int64)
    key *= n
    key += np.maximum(a, b)
    keep = a != b
    del a, b
    return _sum_pairs(account_ids, key[keep], w[keep])


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


def _sum_pairs(account_ids: np.ndarray, key: np.ndarray, w: np.ndarray) -> LinkGraph:
    """Sum the weights of each pair ``key = low * n + high``; pairs in ascending order.

    Hash-factorised rather than ``np.unique(return_inverse=True)``, whose sort needs
    several copies of the (tens of millions of) raw pairs at once.
    """
    n = len(account_ids)
    codes, uniq = pd.factorize(key, sort=False)
    del key
    total = np.bincount(codes, weights=w, minlength=len(uniq))
    del codes
    order = np.argsort(uniq, kind="stable")
    uniq, total = uniq[order], total[order]
    return LinkGraph(
        account_ids=account_ids,
        src=(uniq // n).astype(np.int64),
        dst=(uniq % n).astype(np.int64),
        weight=total,
    )
