"""Score detections against a truth table, exactly as ``output-format.md`` defines.

:func:`evaluate` takes the truth table (``group_id, kind, entity_type, entity_id`` and an
optional ``scenario``), the written rings (``ring_id, kind, accounts, ips``), the scored
accounts (``account_id, risk_score, flagged``) and the universe of account ids, and
returns plain dicts of numbers (JSON-ready):

* account precision / recall / F1 of ``flagged`` against abuse-group accounts;
* ring recall: share of abuse groups matched by some written ring with Jaccard >= 0.5
  (on accounts; on ips for a group whose truth names no account);
* ring precision: share of written rings matching some abuse group;
* look-alike false-positive rate: flagged share of ``legit_group`` accounts, and for
  look-alike groups named by ip, the share of their ips in written rings (reported
  apart and pooled over entities);
* AUPRC of ``risk_score`` over the universe, with the base rate;

overall, per ``kind`` and per ``scenario``.

Examples
--------
>>> import pandas as pd
>>> truth = pd.DataFrame({"group_id": ["g1"] * 2 + ["h1"] * 2,
...     "kind": ["fake_account"] * 2 + ["legit_group"] * 2, "entity_type": ["account"] * 4,
...     "entity_id": ["a", "b", "c", "d"]})
>>> rings = pd.DataFrame({"ring_id": ["R-1"], "kind": ["fake_account"],
...     "accounts": [["a", "b"]], "ips": [[]]})
>>> scored = pd.DataFrame({"account_id": ["a", "b", "c"], "risk_score": [0.9, 0.8, 0.3],
...     "flagged": [True, True, False]})
>>> report = evaluate(truth, rings, scored, ["a", "b", "c", "d", "e"])
>>> report["overall"]["ring_recall"], report["overall"]["ring_precision"]
(1.0, 1.0)
>>> report["overall"]["lookalike_fpr"]
0.0
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from graphs.errors import DatasetError

__all__ = ["ABUSE_KINDS", "MATCH_JACCARD", "evaluate", "pr_curve"]

ABUSE_KINDS = ("fake_account", "scraping")
MATCH_JACCARD = 0.5
_TRUTH_COLUMNS = ("group_id", "kind", "entity_type", "entity_id")


def _check_truth(truth: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise DatasetError(f"truth table lacks column(s) {', '.join(missing)}")
    truth = truth.copy()
    if "scenario" not in truth.columns:
        truth["scenario"] = None
    for column in (*_TRUTH_COLUMNS, "scenario"):
        truth[column] = truth[column].astype(object).where(truth[column].notna(), None)
    return truth


def _groups(truth: pd.DataFrame) -> pd.DataFrame:
    """One row per truth group: kind, scenario, account set, ip set, match entity."""
    rows = []
    for group_id, part in truth.groupby("group_id", sort=True):
        accounts = frozenset(part.loc[part["entity_type"] == "account", "entity_id"])
        ips = frozenset(part.loc[part["entity_type"] == "ip", "entity_id"])
        rows.append(
            {
                "group_id": group_id,
                "kind": part["kind"].iloc[0],
                "scenario": part["scenario"].iloc[0],
                "accounts": accounts,
                "ips": ips,
                "on": "accounts" if accounts else "ips",
            }
        )
    return pd.DataFrame(rows, columns=["group_id", "kind", "scenario", "accounts", "ips", "on"])


def _jaccard(a: frozenset, b: frozenset) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _match(groups: pd.DataFrame, rings: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(groups x rings) boolean match matrix on the group's entity, via an inverted index."""
    matched = np.zeros((len(groups), len(rings)), dtype=bool)
    if groups.empty or rings.empty:
        return matched, np.zeros(len(rings), dtype=object)
    ring_sets = {
        "accounts": [frozenset(x) for x in rings["accounts"]],
        "ips": [frozenset(x) for x in rings["ips"]],
    }
    index: dict[tuple[str, str], list[int]] = {}
    for on, sets in ring_sets.items():
        for r, members in enumerate(sets):
            for entity in members:
                index.setdefault((on, entity), []).append(r)
    best_group = np.full(len(rings), None, dtype=object)
    best_score = np.zeros(len(rings))
    for g, group in enumerate(groups.itertuples(index=False)):
        on = group.on
        members = getattr(group, on)
        touching = {r for entity in members for r in index.get((on, entity), [])}
        for r in touching:
            score = _jaccard(members, ring_sets[on][r])
            if score >= MATCH_JACCARD:
                matched[g, r] = True
                if score > best_score[r]:
                    best_score[r], best_group[r] = score, g
    return matched, best_group


def _prf(flagged: set, positives: set) -> dict[str, float]:
    tp = len(flagged & positives)
    precision = tp / len(flagged) if flagged else 0.0
    recall = tp / len(positives) if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"account_precision": precision, "account_recall": recall, "account_f1": f1}


def _auprc(scores: pd.Series, positives: set, negatives: set) -> dict[str, float | None]:
    from sklearn.metrics import average_precision_score

    universe = [a for a in scores.index if a in positives or a in negatives]
    y = np.array([a in positives for a in universe])
    if not y.any() or y.all():
        return {"auprc": None, "base_rate": float(y.mean()) if len(y) else None}
    return {
        "auprc": float(average_precision_score(y, scores.loc[universe].to_numpy())),
        "base_rate": float(y.mean()),
    }


def pr_curve(
    truth: pd.DataFrame, scored: pd.DataFrame, universe: Iterable[str], points: int = 200
) -> dict[str, list[float]]:
    """Precision-recall curve of ``risk_score`` (abuse-group accounts positive), thinned."""
    from sklearn.metrics import precision_recall_curve

    truth = _check_truth(truth)
    scores = _universe_scores(scored, universe)
    abuse = set(truth.loc[truth["kind"].isin(ABUSE_KINDS) & (truth["entity_type"] == "account"),
                          "entity_id"])  # fmt: skip
    y = scores.index.isin(list(abuse))
    if not y.any():
        return {"precision": [], "recall": [], "threshold": []}
    precision, recall, threshold = precision_recall_curve(y, scores.to_numpy())
    keep = np.unique(np.linspace(0, len(threshold) - 1, min(points, len(threshold))).astype(int))
    return {
        "precision": precision[keep].round(4).tolist(),
        "recall": recall[keep].round(4).tolist(),
        "threshold": threshold[keep].round(4).tolist(),
    }


def _universe_scores(scored: pd.DataFrame, universe: Iterable[str]) -> pd.Series:
    ids = pd.Index(pd.unique(pd.Series(list(universe), dtype=object)))
    risk = scored.set_index("account_id")["risk_score"].astype(float)
    risk = risk[~risk.index.duplicated()]
    return risk.reindex(ids.union(risk.index), fill_value=0.0)


def evaluate(
    truth: pd.DataFrame,
    rings: pd.DataFrame,
    scored: pd.DataFrame,
    universe: Iterable[str],
) -> dict:
    """All metrics of the output spec, overall, per kind and per scenario.

    ``rings`` are the written rings (``kind``, ``accounts``, ``ips`` as lists);
    ``scored`` is accounts.csv (``account_id``, ``risk_score``, ``flagged`` as bool).
    """
    truth = _check_truth(truth)
    groups = _groups(truth)
    scores = _universe_scores(scored, universe)
    flagged = set(scored.loc[scored["flagged"].astype(bool), "account_id"])
    matched, best_group = _match(groups, rings)
    accounts = truth.loc[truth["entity_type"] == "account"]
    abuse_accounts = set(accounts.loc[accounts["kind"].isin(ABUSE_KINDS), "entity_id"])
    ring_ips = {ip for ips in rings["ips"] for ip in ips} if len(rings) else set()
    negatives = set(scores.index) - abuse_accounts
    is_abuse_group = groups["kind"].isin(ABUSE_KINDS).to_numpy()

    def lookalike(part: pd.DataFrame) -> dict[str, float | None]:
        acc = set(part.loc[part["entity_type"] == "account", "entity_id"]) - abuse_accounts
        ips = set(part.loc[part["entity_type"] == "ip", "entity_id"])
        hit_acc, hit_ip = len(acc & flagged), len(ips & ring_ips)
        total = len(acc) + len(ips)
        return {
            "lookalike_fpr": (hit_acc + hit_ip) / total if total else None,
            "lookalike_account_fpr": hit_acc / len(acc) if acc else None,
            "lookalike_ip_fpr": hit_ip / len(ips) if ips else None,
            "lookalike_entities": total,
        }

    def block(group_mask: np.ndarray, ring_mask: np.ndarray, kind_accounts: set) -> dict:
        n_groups = int((group_mask & is_abuse_group).sum())
        found = matched[group_mask & is_abuse_group].any(axis=1) if n_groups else np.array([])
        n_rings = int(ring_mask.sum())
        good = matched[is_abuse_group][:, ring_mask].any(axis=0) if n_rings else np.array([])
        out = {
            "abuse_groups": n_groups,
            "written_rings": n_rings,
            "ring_recall": float(found.mean()) if n_groups else None,
            "ring_precision": float(good.mean()) if n_rings else None,
        }
        if kind_accounts:
            out |= {"account_recall": len(kind_accounts & flagged) / len(kind_accounts)}
            out |= _auprc(scores, kind_accounts, negatives)
        return out

    all_rings = np.ones(len(rings), dtype=bool)
    overall = block(np.ones(len(groups), dtype=bool), all_rings, abuse_accounts)
    overall |= _prf(flagged, abuse_accounts)
    overall |= lookalike(truth.loc[truth["kind"] == "legit_group"])

    per_kind = {}
    for kind in (*ABUSE_KINDS, "legit_group"):
        if kind == "legit_group":
            per_kind[kind] = lookalike(truth.loc[truth["kind"] == kind])
            continue
        ring_mask = (rings["kind"] == kind).to_numpy() if len(rings) else all_rings
        kind_accounts = set(accounts.loc[accounts["kind"] == kind, "entity_id"])
        per_kind[kind] = block(groups["kind"].eq(kind).to_numpy(), ring_mask, kind_accounts)
        flagged_here = _flagged_in_kind(rings, kind, flagged)
        per_kind[kind]["account_precision"] = (
            len(flagged_here & abuse_accounts) / len(flagged_here) if flagged_here else None
        )

    per_scenario = {}
    for scenario, part in truth.dropna(subset=["scenario"]).groupby("scenario"):
        kind = part["kind"].iloc[0]
        if kind == "legit_group":
            per_scenario[scenario] = {"kind": kind} | lookalike(part)
            continue
        mask = groups["scenario"].eq(scenario).to_numpy()
        ring_mask = np.isin(best_group, np.flatnonzero(mask))
        members = set(part.loc[part["entity_type"] == "account", "entity_id"])
        stats = block(mask, ring_mask, members)
        stats.pop("ring_precision")  # an unmatched ring has no scenario
        stats["matched_rings"] = stats.pop("written_rings")
        per_scenario[scenario] = {"kind": kind} | stats
    return {
        "universe_accounts": len(scores),
        "match_jaccard": MATCH_JACCARD,
        "overall": overall,
        "per_kind": per_kind,
        "per_scenario": per_scenario,
    }


def _flagged_in_kind(rings: pd.DataFrame, kind: str, flagged: set) -> set:
    if rings.empty:
        return set()
    members = {a for accs in rings.loc[rings["kind"] == kind, "accounts"] for a in accs}
    return members & flagged
