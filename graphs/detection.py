"""The whole detection on a snapshot: rings, scraping clusters, account risk, ring ids.

:func:`detect` is pure: it takes a :class:`graphs.snapshot.Snapshot` (and optionally a
per-account learned score from the GNN) and returns :class:`Detections`: every scored
ring (fake-account rings and scraping clusters) with reasons, and every account's risk.
:func:`assign_ring_ids` gives rings their ids, keeping the id of a ring found again
(most of the same members) so that an investigator's decision on it carries over.

Examples
--------
>>> import pandas as pd
>>> from graphs.snapshot import Snapshot
>>> t = pd.Timestamp("2026-03-01", tz="UTC")
>>> accounts = pd.DataFrame({"account_id": ["a", "b"], "created_at": [t, t],
...     "label": [None, None]})
>>> links = pd.DataFrame({"account_id": ["a", "b"], "kind": ["device"] * 2,
...     "key": ["d1"] * 2, "first_seen": [t] * 2, "last_seen": [t] * 2, "succeeded": 0,
...     "declined": 0, "refunded": 0, "disputed": 0})
>>> found = detect(Snapshot(accounts=accounts, links=links))
>>> found.rings[["kind", "accounts"]].to_dict("records")
[{'kind': 'fake_account', 'accounts': ['a', 'b']}]
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from graphs.components import ring_candidates
from graphs.errors import DetectionError
from graphs.fragments import merge_fragments
from graphs.linking import (
    DEFAULT_WEIGHTS,
    IdentifierWeight,
    account_links,
    identifier_memberships,
)
from graphs.rings import (
    MEMBERSHIP_KINDS,
    LearnedRingScorer,
    RingScorer,
    RuleRingScorer,
    ring_features,
    ring_reasons,
)
from graphs.scraping import ScrapingDetector
from graphs.snapshot import Snapshot

__all__ = [
    "RING_COLUMNS",
    "DetectConfig",
    "Detections",
    "account_table",
    "assign_ring_ids",
    "detect",
    "written_rings",
]

#: A ring's columns, in the order of the output format's rings.jsonl.
RING_COLUMNS = (
    "ring_id",
    "kind",
    "score",
    "accounts",
    "ips",
    "shared",
    "reasons",
    "first_seen",
    "last_seen",
)
#: ``shared`` keys of the output format; sign-up devices and IPs count as devices and IPs.
SHARED_OUTPUT_KINDS = ("device", "payment_method", "ip", "email", "phone")
MAX_SHARED_LISTED = 50


@dataclass(frozen=True)
class DetectConfig:
    """Every knob of :func:`detect`; recorded in summary.json."""

    weights: Mapping[str, IdentifierWeight] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    link_threshold: float = 0.5
    clique_limit: int = 60
    max_ring_size: int = 80
    ring_threshold: float = 0.5
    merge_fragments: bool = True  # join candidates paying one small creator together
    scorer: str = "auto"  # auto (learned when labels allow, else rule), rule or learned
    scraping_threshold: float = 0.5
    seed: int = 0

    def summary(self) -> dict:
        return {
            "link_threshold": self.link_threshold,
            "clique_limit": self.clique_limit,
            "max_ring_size": self.max_ring_size,
            "ring_threshold": self.ring_threshold,
            "merge_fragments": self.merge_fragments,
            "scraping_threshold": self.scraping_threshold,
            "scorer": self.scorer,
            "weights": {k: [w.base, w.typical] for k, w in self.weights.items()},
        }


@dataclass
class Detections:
    """What :func:`detect` found.

    ``rings`` has :data:`RING_COLUMNS` (``ring_id`` empty until
    :func:`assign_ring_ids`), all scored candidates, highest score first; ``accounts``
    has ``account_id``, ``risk_score``; ``features`` the fake-account ring features by
    ring row; ``timings`` seconds per stage; ``info`` what ran.
    """

    rings: pd.DataFrame
    accounts: pd.DataFrame
    features: pd.DataFrame
    timings: dict[str, float]
    info: dict


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def stage(self, name: str, began: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - began, 3)
        return now


def _choose_scorer(config: DetectConfig, features: pd.DataFrame) -> tuple[RingScorer, str]:
    if config.scorer == "rule":
        return RuleRingScorer(config.ring_threshold).fit(features), "rule"
    learned = LearnedRingScorer(config.ring_threshold, seed=config.seed)
    try:
        return learned.fit(features), "learned"
    except DetectionError as why:
        if config.scorer == "learned":
            raise
        return RuleRingScorer(config.ring_threshold).fit(features), f"rule ({why})"


def detect(
    snapshot: Snapshot,
    config: DetectConfig | None = None,
    *,
    learned: pd.Series | None = None,
) -> Detections:
    """Find and score fake-account rings and scraping clusters in ``snapshot``.

    ``learned`` is an optional per-account risk in [0, 1] indexed by account_id (the
    GNN's): it enters the ring features and each account's risk.
    """
    config = config or DetectConfig()
    timer = _Timer()
    began = time.perf_counter()
    kinds = dict.fromkeys([*config.weights, *MEMBERSHIP_KINDS])
    memberships = identifier_memberships(snapshot, kinds)
    graph = account_links(
        snapshot, config.weights, clique_limit=config.clique_limit, memberships=memberships
    )
    began = timer.stage("link", began)
    candidate_of = ring_candidates(
        graph, config.link_threshold, max_size=config.max_ring_size, seed=config.seed
    )
    if config.merge_fragments:
        candidate_of = merge_fragments(
            candidate_of, graph.account_ids, memberships, max_size=config.max_ring_size
        )
    began = timer.stage("components", began)
    features, shared = ring_features(
        snapshot, graph, candidate_of, link_threshold=config.link_threshold, learned=learned,
        memberships=memberships,
    )  # fmt: skip
    scorer, scorer_name = _choose_scorer(config, features)
    scores = scorer.score(features)
    fake = _fake_rings(snapshot, candidate_of, features, shared, scores, config)
    scraping = _scraping_rings(snapshot, config)
    rings = pd.concat([fake, scraping], ignore_index=True)
    rings = rings.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    accounts = _account_risk(snapshot, rings, learned)
    timer.stage("score", began)
    info = {
        "detectors": ["fake_account_rings", "scraping_clusters"],
        "ring_scorer": scorer_name,
        "learned_account_score": learned is not None,
        "candidates": len(features),
        "links": int((graph.weight >= config.link_threshold).sum()),
        "weighted_pairs": len(graph.weight),
        "config": config.summary(),
    }
    return Detections(rings, accounts, features, timer.timings, info)


def _fake_rings(
    snapshot: Snapshot,
    candidate_of: np.ndarray,
    features: pd.DataFrame,
    shared: pd.DataFrame,
    scores: pd.Series,
    config: DetectConfig,
) -> pd.DataFrame:
    if features.empty:
        return pd.DataFrame(columns=list(RING_COLUMNS))
    ids = snapshot.accounts["account_id"].to_numpy()
    inside = candidate_of >= 0
    members = _grouped_lists(candidate_of[inside], ids[inside])
    created = pd.to_datetime(snapshot.accounts["created_at"], utc=True)
    first = created[inside].groupby(candidate_of[inside]).min()
    last = pd.Series(_last_seen(snapshot, candidate_of)).reindex(features.index)
    last = np.maximum(last.fillna(first.reindex(features.index)), first.reindex(features.index))
    listed_rows = shared.loc[shared["kind"].isin(SHARED_OUTPUT_KINDS)]
    kind_code, kind_names = pd.factorize(listed_rows["kind"])
    group = listed_rows["candidate"].to_numpy() * len(SHARED_OUTPUT_KINDS) + kind_code
    lists = _grouped_lists(group, listed_rows["key"].astype(str).to_numpy())
    listed = {
        (g // len(SHARED_OUTPUT_KINDS), kind_names[g % len(SHARED_OUTPUT_KINDS)]): keys[
            :MAX_SHARED_LISTED
        ]
        for g, keys in lists.items()
    }
    out = pd.DataFrame(
        {
            "ring_id": "",
            "kind": "fake_account",
            "score": scores.reindex(features.index).astype(float).round(4),
            "accounts": members.reindex(features.index),
            "ips": [listed.get((c, "ip"), []) for c in features.index],
            "shared": [
                {k: listed.get((c, k), []) for k in SHARED_OUTPUT_KINDS} for c in features.index
            ],
            "reasons": [[] for _ in features.index],
            "first_seen": first.reindex(features.index),
            "last_seen": last,
            "candidate": features.index,
        },
        index=features.index,
    )
    # reasons only for rings that are written: they are what an analyst reads
    written = out.index[out["score"] >= config.ring_threshold]
    shared_written = shared.loc[shared["candidate"].isin(written)]
    for cand, mine in shared_written.groupby("candidate"):
        out.at[cand, "reasons"] = ring_reasons(features.loc[cand], mine)
    for cand in written.difference(shared_written["candidate"].unique()):
        out.at[cand, "reasons"] = ring_reasons(features.loc[cand], shared.iloc[0:0])
    return out.reset_index(drop=True)


def _grouped_lists(group: np.ndarray, values: np.ndarray) -> pd.Series:
    """Sorted list of ``values`` per ``group`` (a Series indexed by group), vectorised."""
    if len(group) == 0:
        return pd.Series(dtype=object)
    order = np.lexsort((values.astype(str), group))
    group, values = group[order], values[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    chunks = np.split(values, starts[1:])
    return pd.Series([chunk.tolist() for chunk in chunks], index=group[starts])


def _last_seen(snapshot: Snapshot, candidate_of: np.ndarray) -> dict:
    links = snapshot.links
    if links.empty or "last_seen" not in links:
        return {}
    cand = candidate_of[snapshot.link_accounts]  # positions looked up once per snapshot
    seen = pd.to_datetime(links["last_seen"], utc=True)
    keep = cand >= 0
    return seen[keep].groupby(cand[keep]).max().to_dict()


def _scraping_rings(snapshot: Snapshot, config: DetectConfig) -> pd.DataFrame:
    detector = ScrapingDetector(threshold=config.scraping_threshold).fit(snapshot)
    rows = [
        {
            "ring_id": "",
            "kind": "scraping",
            "score": round(c.score, 4),
            "accounts": c.accounts,
            "ips": c.ips,
            "shared": {k: [] for k in SHARED_OUTPUT_KINDS} | {"ip": c.ips[:MAX_SHARED_LISTED]},
            "reasons": c.reasons,
            "first_seen": c.first_seen,
            "last_seen": c.last_seen,
            "candidate": -1,
        }
        for c in detector.clusters(snapshot)
    ]
    return pd.DataFrame(rows, columns=[*RING_COLUMNS, "candidate"])


def _account_risk(
    snapshot: Snapshot, rings: pd.DataFrame, learned: pd.Series | None
) -> pd.DataFrame:
    ids = snapshot.accounts["account_id"]
    risk = pd.Series(0.0, index=pd.Index(ids, name="account_id"))
    if len(rings):
        exploded = rings[["accounts", "score"]].explode("accounts").dropna()
        best = exploded.astype({"score": float}).groupby("accounts")["score"].max()
        risk = best.reindex(risk.index).fillna(0.0).rename_axis("account_id")
    if learned is not None:
        risk = np.maximum(risk, learned.reindex(risk.index).fillna(0.0).clip(0, 1))
    return risk.rename("risk_score").reset_index()


# ------------------------------------------------------------------------- outputs
def written_rings(
    rings: pd.DataFrame, threshold: float, *, include_all: bool = False
) -> pd.DataFrame:
    """Rings at or above ``threshold`` (every ring with ``include_all``), best first."""
    keep = rings if include_all else rings.loc[rings["score"] >= threshold]
    return keep.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def account_table(accounts: pd.DataFrame, written: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """accounts.csv: ``account_id, risk_score, ring_id, flagged``.

    ``ring_id`` is the highest-scoring written ring holding the account; ``flagged`` is
    true for accounts in a written ring at or above the threshold.
    """
    table = accounts[["account_id", "risk_score"]].copy()
    table["risk_score"] = table["risk_score"].astype(float).round(4)
    if len(written):
        exploded = written[["ring_id", "score", "accounts"]].explode("accounts").dropna()
        exploded = exploded.sort_values("score", ascending=False, kind="stable")
        top = exploded.drop_duplicates("accounts").set_index("accounts")
        table["ring_id"] = table["account_id"].map(top["ring_id"]).fillna("")
        flagged_ids = set(exploded.loc[exploded["score"] >= threshold, "accounts"])
        table["flagged"] = table["account_id"].isin(flagged_ids)
    else:
        table["ring_id"] = ""
        table["flagged"] = False
    return table


def _ring_hash(kind: str, members: Iterable[str], length: int) -> str:
    digest = hashlib.sha1((kind + "\x1f" + "\x1f".join(sorted(members))).encode()).hexdigest()
    return "R-" + digest[:length]


def assign_ring_ids(
    rings: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    *,
    min_jaccard: float = 0.5,
) -> pd.DataFrame:
    """Give every ring a ``ring_id``, reusing the id of the previous ring it continues.

    ``previous`` has ``ring_id``, ``kind``, ``accounts``, ``ips`` (lists). A ring
    continues a previous ring of the same kind when their members (accounts, or ips for
    a ring without accounts) overlap with Jaccard >= ``min_jaccard``; pairs are matched
    best-first, each previous ring at most once. New rings get ``R-`` and the first six
    hex digits of a hash of their kind and members (more digits on a clash), so re-running
    on the same graph gives the same ids. Adds a boolean ``continuing`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> old = pd.DataFrame({"ring_id": ["R-old"], "kind": ["fake_account"],
    ...     "accounts": [["a", "b", "c"]], "ips": [[]]})
    >>> new = pd.DataFrame({"kind": ["fake_account"] * 2,
    ...     "accounts": [["a", "b", "c", "d"], ["x", "y"]], "ips": [[], []]})
    >>> assign_ring_ids(new, old)[["ring_id", "continuing"]].values.tolist()
    [['R-old', True], ['R-52fc41', False]]
    """
    out = rings.copy()
    out["ring_id"] = ""
    out["continuing"] = False
    taken: set[str] = set()
    if previous is not None and len(previous) and len(out):
        for r, p in _best_matches(out, previous, min_jaccard):
            out.at[r, "ring_id"] = previous.at[p, "ring_id"]
            out.at[r, "continuing"] = True
        taken |= set(previous["ring_id"])
    taken |= set(out["ring_id"]) - {""}
    for r in out.index[out["ring_id"] == ""]:
        members = _members_of(out.loc[r])
        length = 6
        ring_id = _ring_hash(out.at[r, "kind"], members, length)
        while ring_id in taken:
            length += 2
            ring_id = _ring_hash(out.at[r, "kind"], members, length)
        out.at[r, "ring_id"] = ring_id
        taken.add(ring_id)
    return out


def _members_of(ring: pd.Series) -> list[str]:
    accounts = list(ring["accounts"])
    return accounts if accounts else ["ip:" + ip for ip in ring["ips"]]


def _best_matches(
    rings: pd.DataFrame, previous: pd.DataFrame, min_jaccard: float
) -> list[tuple[int, int]]:
    index: dict[tuple[str, str], list[int]] = {}
    prev_sets = {}
    for p, row in previous.iterrows():
        members = frozenset(_members_of(row))
        prev_sets[p] = members
        for m in members:
            index.setdefault((row["kind"], m), []).append(p)
    scored = []
    for r, row in rings.iterrows():
        members = frozenset(_members_of(row))
        touching = {p for m in members for p in index.get((row["kind"], m), [])}
        for p in touching:
            union = len(members | prev_sets[p])
            jaccard = len(members & prev_sets[p]) / union
            if jaccard >= min_jaccard:
                scored.append((jaccard, r, p))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    used_r, used_p, pairs = set(), set(), []
    for _, r, p in scored:
        if r not in used_r and p not in used_p:
            used_r.add(r)
            used_p.add(p)
            pairs.append((r, p))
    return pairs
