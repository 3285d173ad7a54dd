"""Why a flagged account is risky: short sentences with numbers an investigator can check.

:func:`account_reasons` is pure. From detection's written rings (members, kind, score and
the identifiers each ring shares), every account's risk, the snapshot's account–identifier
links (to count who else uses an identifier) and, when a model was used, the learned (GNN)
score and its explanation sentences (:func:`gnn.explain.reasons`), it gives each account
whose risk is at or above the flag threshold one to four sentences: the ring it is in, the
ring identifiers it uses with how many other accounts use them, and what the model saw.
Only flagged accounts are looked at, so the work is bounded by how many are flagged.

The nightly write-back stores them as ``Account.reasons`` (:mod:`ingest.rings_io`); the
dashboard's account page shows them.

Examples
--------
>>> import pandas as pd
>>> rings = pd.DataFrame({"ring_id": ["R-1a2b"], "kind": ["fake_account"], "score": [0.93],
...     "accounts": [["a", "b", "c"]], "shared": [{"device": ["d_19"], "ip": []}]})
>>> risk = pd.DataFrame({"account_id": ["a", "b", "c", "z"],
...     "risk_score": [0.93, 0.93, 0.93, 0.1]})
>>> links = pd.DataFrame({"account_id": ["a", "b", "c", "z", "a"],
...     "kind": ["device", "signup_device", "device", "device", "ip"],
...     "key": ["d_19", "d_19", "d_19", "d_19", "10.0.0.1"]})
>>> reasons = account_reasons(rings, risk, links, threshold=0.5)
>>> sorted(reasons)
['a', 'b', 'c']
>>> for line in reasons["a"]: print(line)
member of fake_account ring R-1a2b (score 0.930, 3 accounts)
shares device d_19 with 3 other accounts
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

__all__ = ["MAX_REASONS", "account_reasons"]

#: At most this many sentences per account.
MAX_REASONS = 4
#: At most this many "shares <identifier>" sentences per account.
MAX_SHARED = 2
#: Identifier kinds of a ring's ``shared`` lists, the most telling first: few honest
#: accounts share a device or a card, many share an IP.
SHARED_ORDER = ("device", "payment_method", "phone", "email", "ip")
#: Snapshot link kinds counted as the identifier kind they share (as in the output format).
LINK_KIND = {"signup_device": "device", "signup_ip": "ip"}
WORDS = {"payment_method": "payment method"}


def account_reasons(
    rings: pd.DataFrame,
    risk: pd.DataFrame,
    links: pd.DataFrame,
    *,
    threshold: float,
    learned: pd.Series | None = None,
    explanations: Mapping[str, Sequence[str]] | None = None,
    max_reasons: int = MAX_REASONS,
) -> dict[str, list[str]]:
    """Sentences on why each account with ``risk_score >= threshold`` is risky.

    Parameters
    ----------
    rings
        Written rings: ``ring_id``, ``kind``, ``score``, ``accounts`` (lists) and
        optionally ``shared`` (a dict of identifier kind to keys, as detection writes it).
    risk
        ``account_id``, ``risk_score`` of every account (detection's account table).
    links
        The snapshot's links: ``account_id``, ``kind``, ``key``.
    threshold
        The flag threshold: only accounts at or above it get reasons.
    learned
        The learned (GNN) per-account score, indexed by account id, when a model was used.
    explanations
        The model's sentences per account (:func:`gnn.explain.reasons`), largest first.
    max_reasons
        At most this many sentences per account.

    Returns
    -------
    dict
        account id -> one to ``max_reasons`` sentences, for flagged accounts only.
    """
    scores = risk.set_index("account_id")["risk_score"].astype(float)
    flagged = scores.index[scores >= threshold]
    if flagged.empty:
        return {}
    ring_lines = _ring_lines(rings, flagged)
    shared_lines = _shared_lines(rings, links, flagged)
    out: dict[str, list[str]] = {}
    for account_id in flagged:
        gnn = _gnn_lines(account_id, threshold, learned, explanations)
        shared = shared_lines.get(account_id, [])
        ring = ring_lines.get(account_id, [])
        lines = [*ring, *shared[:1], *gnn[:1], *shared[1:], *gnn[1:]][:max_reasons]
        if not lines:
            lines = [
                f"risk score {scores[account_id]:.3f} is at or above the flag threshold "
                f"{threshold:.2f}"
            ]
        out[str(account_id)] = lines
    return out


def _members(rings: pd.DataFrame, flagged: pd.Index) -> pd.DataFrame:
    """One row per (flagged account, ring it is in), the best ring first."""
    if rings.empty:
        return pd.DataFrame(columns=["ring_id", "kind", "score", "size", "account_id"])
    table = rings[["ring_id", "kind", "score", "accounts"]].copy()
    table["size"] = table["accounts"].map(len)
    exploded = table.explode("accounts").rename(columns={"accounts": "account_id"})
    exploded = exploded.loc[exploded["account_id"].isin(flagged)]
    return exploded.sort_values(["score", "ring_id"], ascending=[False, True], kind="stable")


def _ring_lines(rings: pd.DataFrame, flagged: pd.Index) -> dict[str, list[str]]:
    members = _members(rings, flagged)
    others = members.groupby("account_id").size() - 1
    lines: dict[str, list[str]] = {}
    for row in members.drop_duplicates("account_id").itertuples(index=False):
        text = (
            f"member of {row.kind} ring {row.ring_id} "
            f"(score {float(row.score):.3f}, {int(row.size)} accounts)"
        )
        more = int(others[row.account_id])
        if more:
            text += f" and of {more} other ring{'s' if more > 1 else ''}"
        lines[row.account_id] = [text]
    return lines


def _ring_identifiers(rings: pd.DataFrame) -> pd.DataFrame:
    """``ring_id, kind, key`` of every identifier a ring lists as shared."""
    rows = [
        (ring_id, kind, str(key))
        for ring_id, shared in zip(rings["ring_id"], rings["shared"], strict=True)
        for kind, keys in (shared or {}).items()
        if kind in SHARED_ORDER
        for key in keys
    ]
    return pd.DataFrame(rows, columns=["ring_id", "kind", "key"])


def _shared_lines(
    rings: pd.DataFrame, links: pd.DataFrame, flagged: pd.Index
) -> dict[str, list[str]]:
    """Per flagged account: the identifiers of its rings it uses, with how many other
    accounts (in the whole graph) use each, the most telling kind first."""
    if rings.empty or "shared" not in rings:
        return {}
    listed = _ring_identifiers(rings)
    if listed.empty:
        return {}
    near = links.loc[links["key"].isin(set(listed["key"])), ["account_id", "kind", "key"]]
    near = near.assign(kind=near["kind"].replace(LINK_KIND), key=near["key"].astype(str))
    users = near.drop_duplicates().groupby(["kind", "key"])["account_id"].nunique()
    # an account's candidates: identifiers listed by a ring it is in, that it uses itself
    member_of = _members(rings, flagged)[["account_id", "ring_id"]]
    candidates = member_of.merge(listed, on="ring_id").drop(columns="ring_id")
    used = near.loc[near["account_id"].isin(flagged), ["account_id", "kind", "key"]]
    mine = candidates.merge(used.drop_duplicates(), on=["account_id", "kind", "key"])
    mine = mine.drop_duplicates()
    mine = mine.merge(users.rename("others").reset_index(), on=["kind", "key"])
    mine["others"] -= 1
    mine = mine.loc[mine["others"] > 0]
    mine["order"] = mine["kind"].map(SHARED_ORDER.index)
    mine = mine.sort_values(
        ["account_id", "order", "others", "key"], ascending=[True, True, False, True]
    )
    lines: dict[str, list[str]] = {}
    for row in mine.groupby("account_id", sort=False).head(MAX_SHARED).itertuples(index=False):
        word = WORDS.get(row.kind, row.kind)
        plural = "s" if row.others > 1 else ""
        lines.setdefault(row.account_id, []).append(
            f"shares {word} {row.key} with {row.others} other account{plural}"
        )
    return lines


def _gnn_lines(
    account_id: str,
    threshold: float,
    learned: pd.Series | None,
    explanations: Mapping[str, Sequence[str]] | None,
) -> list[str]:
    said = list((explanations or {}).get(account_id, ()))
    score = None if learned is None else learned.get(account_id)
    if score is None or pd.isna(score):
        return [f"GNN: {text}" for text in said]
    head = f"GNN risk score {float(score):.3f} (flag threshold {threshold:.2f})"
    if said:
        return [f"{head}: {said[0]}", *(f"GNN: {text}" for text in said[1:])]
    return [head] if float(score) >= threshold else []
