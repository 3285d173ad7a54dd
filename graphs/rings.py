"""Fake-account rings: features of candidate rings, rule and learned scores, reasons.

A candidate ring is a component of :func:`graphs.components.ring_candidates`. Each gets
the features an analyst would look at (:data:`RING_FEATURES`, computed by
:func:`ring_features`), a score in [0, 1] from a :class:`RingScorer`, and ``reasons``:
sentences with numbers an investigator can check in the graph (:func:`ring_reasons`).

Two scorers share one interface (``fit`` / ``score`` / ``predict``):

* :class:`RuleRingScorer`: a documented logistic rule (weights in :data:`RULE_WEIGHTS`),
  used when too few labelled candidates exist to learn from;
* :class:`LearnedRingScorer`: gradient-boosted trees on the same features (labels
  excluded), calibrated with scikit-learn, trained on candidates whose labelled members
  say fraud or legit.

Both add the evidence of labels already known in the candidate on the logit scale
(:func:`label_evidence`), and both accept the per-account learned score of the GNN
through the ``learned_mean`` / ``learned_max`` features (zero when no GNN ran).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from graphs.errors import DetectionError, NotFittedError
from graphs.linking import LinkGraph, identifier_memberships
from graphs.snapshot import Snapshot, text_column

__all__ = [
    "MEMBERSHIP_KINDS",
    "RING_FEATURES",
    "RULE_WEIGHTS",
    "SHARED_KINDS",
    "LearnedRingScorer",
    "RingScorer",
    "RuleRingScorer",
    "label_evidence",
    "label_targets",
    "ring_features",
    "ring_reasons",
    "shared_identifiers",
]

#: Identifier kinds as rings report them: sign-up and later use of a device (or an IP)
#: are one identifier.
SHARED_KINDS = ("device", "payment_method", "email", "phone", "ip", "subnet", "user_agent")
_KIND_GROUP = {
    "device": "device",
    "signup_device": "device",
    "payment_method": "payment_method",
    "email": "email",
    "phone": "phone",
    "ip": "ip",
    "signup_ip": "ip",
    "subnet": "subnet",
    "signup_subnet": "subnet",
    "user_agent": "user_agent",
    "creator": "creator",
}
#: Link kinds the ring features read (as :func:`identifier_memberships` kinds).
MEMBERSHIP_KINDS = tuple(_KIND_GROUP)

RING_FEATURES = (
    "n_accounts",
    "link_density",
    "n_shared_kinds",
    "n_shared_device",
    "n_shared_payment_method",
    "n_shared_email",
    "n_shared_phone",
    "n_shared_ip",
    "accounts_per_device",
    "signup_burst_share",
    "signup_span_hours",
    "signup_span_days",
    "signup_cadence_cv",
    "payments_per_account",
    "decline_rate",
    "dispute_rate",
    "rare_ua_share",
    "subnet_share",
    "email_collision_share",
    "email_collision_accounts",
    "creator_share",
    "fraud_labels",
    "legit_labels",
    "learned_mean",
    "learned_max",
)
_LABEL_FEATURES = ("fraud_labels", "legit_labels")
#: The GNN's per-account scores: evidence added after either scorer (see learned_evidence).
_LEARNED_FEATURES = ("learned_mean", "learned_max")
#: Sign-ups within this window of each other count as one burst.
BURST_WINDOW = pd.Timedelta("3h")


def _members(snapshot: Snapshot, candidate_of: np.ndarray) -> pd.DataFrame:
    accounts = snapshot.accounts
    if len(candidate_of) != len(accounts):
        raise DetectionError(
            f"candidate labels cover {len(candidate_of)} accounts, the snapshot has {len(accounts)}"
        )
    account = np.flatnonzero(candidate_of >= 0)
    return pd.DataFrame(
        {
            "account_id": text_column(accounts["account_id"].to_numpy(dtype=object)[account]),
            "candidate": candidate_of[account],
            "account": account,  # position in snapshot.accounts
        }
    )


def _memberships(
    snapshot: Snapshot, candidate_of: np.ndarray, every: pd.DataFrame | None = None
) -> pd.DataFrame:
    """(candidate, account, kind group, key) plus the key's population count ``users``,
    and ``ident``, a number per (kind group, key).

    Counted on the integer codes of :func:`identifier_memberships`: strings are kept only
    for the rows inside candidates.
    """
    if every is None:
        every = identifier_memberships(snapshot, _KIND_GROUP)
    # the rows of the grouped kinds, as positions (a copy of the table's selected rows
    # cost ~0.5 GB at 1M accounts); temporaries are freed as soon as they are used
    sel = np.flatnonzero(every["kind"].isin(list(_KIND_GROUP)).to_numpy())
    groups = list(dict.fromkeys(_KIND_GROUP.values()))
    group_of = np.array([groups.index(_KIND_GROUP[k]) for k in every["kind"].cat.categories])
    kind_code, kinds = pd.factorize(group_of[every["kind"].cat.codes.to_numpy()[sel]])
    # numbered in order of appearance, as factorising the strings would
    key_code, keys = pd.factorize(every["key_code"].to_numpy()[sel])
    account = every["account"].to_numpy()[sel]
    account_code, _ = pd.factorize(account)
    ident = kind_code.astype(np.int64) * max(len(keys), 1) + key_code
    del key_code, keys
    pair = ident * (account_code.max() + 1 if len(account_code) else 1) + account_code
    del account_code
    _, first = np.unique(pair, return_index=True)  # one row per (account, kind, key)
    del pair
    ident_code, _ = pd.factorize(ident[first])
    users = np.bincount(ident_code)
    mine = account[first]
    known = mine < len(candidate_of)
    cand = np.full(len(first), -1, dtype=np.int64)
    cand[known] = candidate_of[mine[known]]
    inside = cand >= 0
    rows = first[inside]
    return pd.DataFrame(
        {
            "account_id": text_column(every["account_id"].to_numpy(dtype=object)[sel[rows]]),
            "kind": text_column(np.array(groups, dtype=object)[kinds][kind_code[rows]]),
            "key": text_column(every["key"].to_numpy(dtype=object)[sel[rows]]),
            "candidate": cand[inside],
            "users": users[ident_code[inside]],
            "ident": ident[rows],
        }
    )


def shared_identifiers(snapshot: Snapshot, candidate_of: np.ndarray) -> pd.DataFrame:
    """Identifiers used by two or more accounts of the same candidate ring.

    Returns columns ``candidate``, ``kind`` (one of :data:`SHARED_KINDS` or ``creator``),
    ``key``, ``members`` (accounts of the candidate using it) and ``users`` (accounts of
    the whole graph using it), most-shared first.
    """
    _members(snapshot, candidate_of)  # checks the labels cover the accounts
    return _shared(_memberships(snapshot, candidate_of))


def _shared(inside: pd.DataFrame) -> pd.DataFrame:
    columns = ["candidate", "kind", "key", "members", "users"]
    if inside.empty:
        return pd.DataFrame(columns=columns)
    # grouped on integers: (candidate, ident) is one-to-one with (candidate, kind, key)
    cand, ident = inside["candidate"].to_numpy(), inside["ident"].to_numpy()
    group, first = pd.factorize(cand * (int(ident.max()) + 1) + ident)
    row = np.full(len(first), len(inside), dtype=np.int64)
    np.minimum.at(row, group, np.arange(len(inside)))
    counts = pd.DataFrame(
        {
            "candidate": cand[row],
            "kind": text_column(inside["kind"].to_numpy(dtype=object)[row]),
            "key": text_column(inside["key"].to_numpy(dtype=object)[row]),
            "members": np.bincount(group),
            "users": inside["users"].to_numpy()[row],
        }
    )
    shared = counts.loc[counts["members"] >= 2]
    return shared.sort_values(["candidate", "members"], ascending=[True, False]).reset_index(
        drop=True
    )


def ring_features(
    snapshot: Snapshot,
    graph: LinkGraph,
    candidate_of: np.ndarray,
    *,
    link_threshold: float = 0.5,
    learned: pd.Series | None = None,
    burst_window: pd.Timedelta = BURST_WINDOW,
    rare_ua_users: int = 100,
    memberships: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of every candidate ring, and its shared identifiers.

    Parameters
    ----------
    candidate_of : array of int
        Candidate of each account of ``snapshot.accounts`` (-1: none).
    learned : Series, optional
        Per-account learned risk in [0, 1] indexed by ``account_id`` (the GNN's).
    burst_window : Timedelta
        ``signup_burst_share`` is the largest share of members created within it.
    rare_ua_users : int
        A user agent used by at most this many accounts of the graph counts as rare.
    memberships : DataFrame, optional
        :func:`graphs.linking.identifier_memberships` for at least the kinds of
        ``SHARED_KINDS`` and creators, when the caller has it already.

    Returns
    -------
    (features, shared)
        ``features`` indexed by candidate with :data:`RING_FEATURES`; ``shared`` as
        :func:`shared_identifiers` returns it.
    """
    members = _members(snapshot, candidate_of)
    n = members.groupby("candidate").size().rename("n_accounts")
    features = pd.DataFrame(index=n.index)
    features["n_accounts"] = n
    if features.empty:
        return features.reindex(columns=list(RING_FEATURES)), _shared(pd.DataFrame())
    features["link_density"] = _link_density(graph, candidate_of, link_threshold, n)
    inside = _memberships(snapshot, candidate_of, memberships)
    shared = _shared(inside)
    _shared_counts(features, shared, inside, n, rare_ua_users)
    _signup_features(features, snapshot, members, burst_window)
    _payment_features(features, snapshot, members, n)
    _label_and_learned(features, snapshot, members, learned)
    return features[list(RING_FEATURES)].fillna(0.0), shared


def _link_density(
    graph: LinkGraph, candidate_of: np.ndarray, threshold: float, n: pd.Series
) -> pd.Series:
    keep = graph.weight >= threshold
    cs, cd = candidate_of[graph.src[keep]], candidate_of[graph.dst[keep]]
    same = (cs == cd) & (cs >= 0)
    edges = pd.Series(np.bincount(cs[same], minlength=int(n.index.max()) + 1)).reindex(n.index)
    return (edges / (n * (n - 1) / 2)).clip(upper=1.0)


def _shared_counts(
    features: pd.DataFrame,
    shared: pd.DataFrame,
    inside: pd.DataFrame,
    n: pd.Series,
    rare_ua_users: int,
) -> None:
    by_kind = shared.groupby(["candidate", "kind"]).size().unstack(fill_value=0)
    for kind in SHARED_KINDS:
        col = by_kind[kind] if kind in by_kind else pd.Series(dtype=float)
        features[f"n_shared_{kind}"] = col.reindex(n.index, fill_value=0)
    kinds = [k for k in SHARED_KINDS if k in by_kind]
    features["n_shared_kinds"] = (by_kind[kinds] > 0).sum(axis=1).reindex(n.index, fill_value=0)
    devices = inside.loc[inside["kind"] == "device"].groupby("candidate")["ident"].nunique()
    features["accounts_per_device"] = n / devices.reindex(n.index).fillna(n).clip(lower=1)

    def top_share(rows: pd.DataFrame) -> pd.Series:
        return (rows.groupby("candidate")["members"].max() / n).reindex(n.index, fill_value=0)

    concentrated = shared["members"] >= 0.5 * shared["users"]
    rare_ua = (shared["kind"] == "user_agent") & (shared["users"] <= rare_ua_users)
    features["rare_ua_share"] = top_share(shared.loc[rare_ua & concentrated])
    features["subnet_share"] = top_share(shared.loc[shared["kind"] == "subnet"])
    features["creator_share"] = top_share(shared.loc[(shared["kind"] == "creator") & concentrated])
    emails = shared.loc[shared["kind"] == "email"].groupby("candidate")["members"].sum()
    emails = emails.reindex(n.index, fill_value=0)
    features["email_collision_accounts"] = emails
    features["email_collision_share"] = (emails / n).clip(upper=1)


def _signup_features(
    features: pd.DataFrame, snapshot: Snapshot, members: pd.DataFrame, window: pd.Timedelta
) -> None:
    created = snapshot.accounts["created_at"].iloc[members["account"].to_numpy()]
    seconds = (
        (pd.to_datetime(created, utc=True) - pd.Timestamp(0, tz="UTC"))
        .dt.total_seconds()
        .to_numpy()
    )
    cand = members["candidate"].to_numpy()
    order = np.lexsort((seconds, cand))
    cand, seconds = cand[order], seconds[order]
    # members created within `window` after each member, found by one searchsorted on
    # (candidate, time) keys: candidates are spaced further apart than any time span
    span = 1e11
    key = cand * span + (seconds - seconds.min())
    within = np.searchsorted(key, key + window.total_seconds(), side="right") - np.arange(len(key))
    frame = pd.DataFrame({"candidate": cand, "seconds": seconds, "within": within})
    grouped = frame.groupby("candidate")
    n = features["n_accounts"]
    features["signup_burst_share"] = grouped["within"].max() / n
    features["signup_span_hours"] = (grouped["seconds"].max() - grouped["seconds"].min()) / 3600
    features["signup_span_days"] = features["signup_span_hours"] / 24
    frame["gap"] = np.r_[np.nan, np.diff(seconds)]
    frame.loc[np.r_[True, cand[1:] != cand[:-1]], "gap"] = np.nan
    gaps = frame.groupby("candidate")["gap"]
    cv = gaps.std() / gaps.mean().clip(lower=1.0)
    # a machine's cadence: five or more gaps of minutes that hardly vary; 1.0 is what a
    # Poisson process (people signing up on their own) gives
    machine_like = (gaps.count() >= 5) & (gaps.mean() <= 3600)
    features["signup_cadence_cv"] = cv.where(machine_like, 1.0).fillna(1.0)


def _payment_features(
    features: pd.DataFrame, snapshot: Snapshot, members: pd.DataFrame, n: pd.Series
) -> None:
    links = snapshot.links
    account = snapshot.link_accounts
    candidate_of = np.full(len(snapshot.accounts), -1, dtype=np.int64)
    candidate_of[members["account"].to_numpy()] = members["candidate"].to_numpy()
    cand = np.where(account >= 0, candidate_of[np.maximum(account, 0)], -1)
    rows = np.flatnonzero((cand >= 0) & (links["kind"] == "payment_method").to_numpy())
    pay = links[list(_OUTCOME_COLS)].iloc[rows]
    sums = pay.groupby(cand[rows])[list(_OUTCOME_COLS)].sum().reindex(n.index, fill_value=0)
    attempts = sums.sum(axis=1)
    safe = attempts.where(attempts > 0, 1)
    features["payments_per_account"] = attempts / n
    features["decline_rate"] = sums["declined"] / safe
    features["dispute_rate"] = (sums["disputed"] + sums["refunded"]) / safe


_OUTCOME_COLS = ("succeeded", "declined", "refunded", "disputed")


def _label_and_learned(
    features: pd.DataFrame,
    snapshot: Snapshot,
    members: pd.DataFrame,
    learned: pd.Series | None,
) -> None:
    label = snapshot.accounts["label"].iloc[members["account"].to_numpy()]
    counts = pd.crosstab(members["candidate"].to_numpy(), label.to_numpy())
    for value, column in (("fraud", "fraud_labels"), ("legit", "legit_labels")):
        col = counts[value] if value in counts else pd.Series(dtype=float)
        features[column] = col.reindex(features.index, fill_value=0)
    if learned is None:
        features["learned_mean"] = 0.0
        features["learned_max"] = 0.0
        return
    risk = members["account_id"].map(learned).fillna(0.0)
    grouped = risk.groupby(members["candidate"])
    features["learned_mean"] = grouped.mean()
    features["learned_max"] = grouped.max()


# ------------------------------------------------------------------------------ scoring
def label_evidence(features: pd.DataFrame, per_label: float = 1.5, cap: int = 3) -> pd.Series:
    """Log-odds added for labels already known in a candidate.

    Each fraud label adds ``per_label``, each legit label subtracts it, at most ``cap``
    of each: one chargeback in a ring is strong evidence, ten are not ten times stronger.
    """
    fraud = features["fraud_labels"].clip(upper=cap)
    legit = features["legit_labels"].clip(upper=cap)
    return per_label * (fraud - legit)


def label_targets(features: pd.DataFrame) -> pd.Series:
    """1 for candidates whose labels say mostly fraud, 0 mostly legit, NaN unlabelled."""
    fraud, legit = features["fraud_labels"], features["legit_labels"]
    target = pd.Series(np.nan, index=features.index)
    target[fraud > legit] = 1.0
    target[legit > fraud] = 0.0
    return target


@dataclass(frozen=True)
class RuleTerm:
    """``weight * clip((feature - start) / (full - start), 0, 1)``: a ramp on one feature.

    With ``full < start`` the ramp falls: low values of the feature add the weight.
    """

    weight: float
    start: float
    full: float
    unless: str | None = None  # another term whose ramp waives this one

    def ramp(self, features: pd.DataFrame, name: str) -> np.ndarray:
        values = features[name].to_numpy(dtype=float)
        return np.clip((values - self.start) / (self.full - self.start), 0.0, 1.0)


#: The documented rule score: logit = RULE_BIAS + sum of ramps + label evidence.
RULE_BIAS = -3.5
RULE_WEIGHTS: Mapping[str, RuleTerm] = {
    "n_accounts": RuleTerm(4.0, 3, 12),
    "n_shared_kinds": RuleTerm(1.5, 1, 3),
    "accounts_per_device": RuleTerm(1.0, 2, 5),
    # falling ramps (start > full): the shorter the sign-up span or the more regular the
    # cadence, the more machine-made
    "signup_span_hours": RuleTerm(2.0, 168, 12),
    # a campaign runs for days or weeks; months of sign-ups is a population, not a ring
    "signup_span_days": RuleTerm(-2.5, 30, 90),
    "signup_cadence_cv": RuleTerm(3.0, 0.5, 0.1),
    "decline_rate": RuleTerm(2.0, 0.15, 0.5),
    "dispute_rate": RuleTerm(1.5, 0.03, 0.15),
    "rare_ua_share": RuleTerm(1.5, 0.3, 0.8),
    # everyone behind one subnet is what a home, an office or a campus looks like
    # (waived for sign-ups at a machine's cadence: proxy farms sit in one subnet too)
    "subnet_share": RuleTerm(-4.0, 0.5, 1.0, unless="signup_cadence_cv"),
    # one mailbox behind four or more accounts (a parent's +tags cover two or three)
    "email_collision_accounts": RuleTerm(2.5, 3, 5),
    "creator_share": RuleTerm(0.5, 0.3, 0.8),
}

#: The GNN's evidence, added to the logit of either scorer: nothing while the members'
#: mean calibrated risk stays under 0.1 (it never lowers a score, so look-alikes the GNN
#: calls legit are unaffected), up to +4 when it reaches 0.5. On the 100k world the
#: calibrated score's 99th percentile is 0.0075 for look-alike accounts and its median
#: 0.20 for abuse accounts: the ramp starts 13x above the first.
LEARNED_EVIDENCE = RuleTerm(4.0, 0.1, 0.5)


def learned_evidence(features: pd.DataFrame) -> np.ndarray:
    """Log-odds added for the GNN's per-account risk of a candidate's members.

    The structural scorers never see the learned score as a feature: a tree fitted on a
    few dozen labelled candidates learns noise from it (it wrote households as rings on
    the 20k world). Instead the calibrated score enters once, as documented evidence.

    Examples
    --------
    >>> import pandas as pd
    >>> learned_evidence(pd.DataFrame({"learned_mean": [0.05, 0.3, 0.9]})).round(2).tolist()
    [0.0, 2.0, 4.0]
    """
    return LEARNED_EVIDENCE.weight * LEARNED_EVIDENCE.ramp(features, "learned_mean")


class RingScorer:
    """Base class: ``fit`` on candidate features, ``score`` in [0, 1], ``predict``.

    Subclasses override :meth:`_logit` (and :meth:`_fit` when they learn).
    """

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def fit(self, features: pd.DataFrame, target: pd.Series | None = None) -> RingScorer:
        """Fit on candidate features; ``target`` defaults to :func:`label_targets`."""
        self._fit(features, label_targets(features) if target is None else target)
        self.threshold_ = self.threshold
        return self

    def score(self, features: pd.DataFrame) -> pd.Series:
        """Probability-like ring score in [0, 1] per candidate."""
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() first")
        if features.empty:
            return pd.Series(dtype=float, index=features.index, name="score")
        logit = self._logit(features) + label_evidence(features) + learned_evidence(features)
        return pd.Series(1.0 / (1.0 + np.exp(-logit)), index=features.index, name="score")

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """True for candidates whose score reaches the operating threshold."""
        return self.score(features) >= self.threshold_

    def _fit(self, features: pd.DataFrame, target: pd.Series) -> None:
        del features, target

    def _logit(self, features: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError


class RuleRingScorer(RingScorer):
    """The documented rule score: :data:`RULE_BIAS` plus the ramps of :data:`RULE_WEIGHTS`.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame([dict.fromkeys(RING_FEATURES, 0.0)] * 2)
    >>> f.loc[:, ["signup_span_hours", "signup_cadence_cv"]] = [2000.0, 1.0]
    >>> f.loc[1, ["n_accounts", "accounts_per_device", "signup_burst_share", "n_shared_kinds",
    ...           "signup_span_hours"]] = [20, 10, 1.0, 3, 2.0]
    >>> RuleRingScorer().fit(f).predict(f).tolist()
    [False, True]
    """

    name = "rule"

    def _logit(self, features: pd.DataFrame) -> np.ndarray:
        logit = np.full(len(features), RULE_BIAS)
        for name, term in RULE_WEIGHTS.items():
            ramp = term.ramp(features, name)
            if term.unless:
                ramp = ramp * (1.0 - RULE_WEIGHTS[term.unless].ramp(features, term.unless))
            logit += term.weight * ramp
        return logit


class LearnedRingScorer(RingScorer):
    """Calibrated gradient-boosted trees learned from labelled candidates.

    Label counts are not features (they are the target); their evidence is added to
    the calibrated logit like in the rule score. ``fit`` raises
    :class:`graphs.errors.DetectionError` when fewer than ``min_per_class`` candidates
    of either class are labelled; callers fall back to :class:`RuleRingScorer`.
    """

    name = "learned"

    def __init__(self, threshold: float = 0.5, min_per_class: int = 15, seed: int = 0) -> None:
        super().__init__(threshold)
        self.min_per_class = min_per_class
        self.seed = seed

    @property
    def feature_names(self) -> list[str]:
        return [f for f in RING_FEATURES if f not in (*_LABEL_FEATURES, *_LEARNED_FEATURES)]

    def _fit(self, features: pd.DataFrame, target: pd.Series) -> None:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        known = target.notna()
        y = target[known].astype(int).to_numpy()
        counts = np.bincount(y, minlength=2)
        if counts.min() < self.min_per_class:
            raise DetectionError(
                f"too few labelled candidate rings to learn from: {counts[1]} fraud, "
                f"{counts[0]} legit (need {self.min_per_class} of each)"
            )
        trees = HistGradientBoostingClassifier(
            max_depth=3, learning_rate=0.1, max_iter=150, l2_regularization=1.0,
            random_state=self.seed,
        )  # fmt: skip
        model = CalibratedClassifierCV(trees, method="sigmoid", cv=min(5, int(counts.min())))
        # one thread: on a shared machine OpenMP spinning costs far more than it saves
        with threadpool_limits(1):
            model.fit(features.loc[known, self.feature_names].to_numpy(dtype=float), y)
        self.model_ = model
        self.n_train_ = counts

    def _logit(self, features: pd.DataFrame) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            proba = self.model_.predict_proba(features[self.feature_names].to_numpy(dtype=float))
        proba = proba[:, 1]
        proba = np.clip(proba, 1e-4, 1 - 1e-4)
        return np.log(proba / (1 - proba))


# ------------------------------------------------------------------------------ reasons
def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


_KIND_WORDS = {
    "device": "device",
    "payment_method": "payment method",
    "email": "canonical email",
    "phone": "phone number",
    "ip": "IP",
}


def ring_reasons(row: pd.Series, shared: pd.DataFrame, *, burst_hours: float = 3.0) -> list[str]:
    """Sentences with numbers that explain one candidate's score.

    ``row`` is the candidate's features; ``shared`` its rows of :func:`shared_identifiers`.

    Examples
    --------
    >>> import pandas as pd
    >>> row = pd.Series(dict.fromkeys(RING_FEATURES, 0.0) | {"n_accounts": 14,
    ...     "signup_burst_share": 12 / 14, "decline_rate": 0.61, "payments_per_account": 3.0,
    ...     "signup_cadence_cv": 1.0})
    >>> shared = pd.DataFrame({"kind": ["device", "device", "payment_method"],
    ...     "key": ["d1", "d2", "pm1"], "members": [10, 4, 14], "users": [10, 4, 14]})
    >>> for reason in ring_reasons(row, shared)[:3]:
    ...     print(reason)
    14 accounts share 2 devices and 1 payment method
    12 of 14 created within 3 hours
    61% of 42 payment attempts declined
    """
    n = int(row["n_accounts"])
    kinds = shared["kind"].to_numpy()
    keys = shared["key"].to_numpy()
    inside = shared["members"].to_numpy()
    users = shared["users"].to_numpy()

    def top(kind: str) -> int | None:
        where = np.flatnonzero(kinds == kind)
        return int(where[np.argmax(inside[where])]) if len(where) else None

    reasons = []
    counts = {kind: int((kinds == kind).sum()) for kind in _KIND_WORDS}
    parts = [_plural(counts[kind], word) for kind, word in _KIND_WORDS.items() if counts[kind]]
    if parts:
        joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        reasons.append(f"{n} accounts share {joined}")
    burst = round(row["signup_burst_share"] * n)
    if burst >= 2 and row["signup_burst_share"] >= 0.4:
        reasons.append(f"{burst} of {n} created within {burst_hours:g} hours")
    if row["signup_cadence_cv"] < 0.3:
        reasons.append(
            f"sign-ups at a regular cadence (gaps vary by {row['signup_cadence_cv']:.0%})"
        )
    attempts = round(row["payments_per_account"] * n)
    if attempts and row["decline_rate"] >= 0.15:
        reasons.append(f"{row['decline_rate']:.0%} of {attempts} payment attempts declined")
    if attempts and row["dispute_rate"] >= 0.03:
        reasons.append(f"{row['dispute_rate']:.0%} of {attempts} payments disputed or refunded")
    if row["accounts_per_device"] >= 2:
        reasons.append(f"{row['accounts_per_device']:.1f} accounts per device")
    ua = top("user_agent")
    if row["rare_ua_share"] >= 0.3 and ua is not None:
        reasons.append(
            f"{round(row['rare_ua_share'] * n)} of {n} use a rare user agent seen on "
            f"{int(users[ua])} accounts in all: {keys[ua]}"
        )
    subnet = top("subnet")
    if row["subnet_share"] >= 0.5 and subnet is not None:
        reasons.append(f"{round(row['subnet_share'] * n)} of {n} use IPs in {keys[subnet]}")
    email = top("email")
    if email is not None:
        reasons.append(
            f"{int(inside[kinds == 'email'].sum())} accounts share "
            f"{_plural(counts['email'], 'canonical email address')} ({keys[email]})"
        )
    if row["creator_share"] >= 0.3:
        reasons.append(
            f"{round(row['creator_share'] * n)} of {n} support the same creator, "
            "who has few other supporters"
        )
    if row["fraud_labels"] or row["legit_labels"]:
        reasons.append(
            f"{int(row['fraud_labels'])} of {n} already labelled fraud, "
            f"{int(row['legit_labels'])} labelled legit"
        )
    if row["learned_mean"] > 0:
        reasons.append(f"learned account risk: mean {row['learned_mean']:.2f}")
    return reasons
