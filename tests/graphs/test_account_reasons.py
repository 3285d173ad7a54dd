"""Per-account reasons on a tiny hand-made detection result."""

from __future__ import annotations

import pandas as pd
import pytest

from graphs.account_reasons import account_reasons

#: Ring R-big (score 0.93): a, b, c, d share device d1 and card pm1; ring R-small
#: (0.61): c and e share phone +1555. Outside both rings: x also uses d1, y uses IP ip9
#: with a (an IP no ring lists), z is quiet.
RINGS = pd.DataFrame(
    {
        "ring_id": ["R-big", "R-small"],
        "kind": ["fake_account", "fake_account"],
        "score": [0.93, 0.61],
        "accounts": [["a", "b", "c", "d"], ["c", "e"]],
        "shared": [
            {"device": ["d1"], "payment_method": ["pm1"], "ip": [], "email": [], "phone": []},
            {"device": [], "payment_method": [], "ip": [], "email": [], "phone": ["+1555"]},
        ],
    }
)
RISK = pd.DataFrame(
    {
        "account_id": ["a", "b", "c", "d", "e", "x", "y", "z"],
        "risk_score": [0.93, 0.93, 0.93, 0.93, 0.61, 0.2, 0.4, 0.0],
    }
)
LINKS = pd.DataFrame(
    [
        ("a", "device", "d1"),
        ("a", "signup_device", "d1"),  # sign-up and use of one device: one identifier
        ("b", "device", "d1"),
        ("c", "signup_device", "d1"),
        ("x", "device", "d1"),
        ("a", "payment_method", "pm1"),
        ("b", "payment_method", "pm1"),
        ("d", "payment_method", "pm1"),
        ("c", "phone", "+1555"),
        ("e", "phone", "+1555"),
        ("a", "ip", "ip9"),
        ("y", "ip", "ip9"),
    ],
    columns=["account_id", "kind", "key"],
)


def test_only_flagged_accounts_get_reasons():
    reasons = account_reasons(RINGS, RISK, LINKS, threshold=0.5)
    assert set(reasons) == {"a", "b", "c", "d", "e"}
    assert account_reasons(RINGS, RISK, LINKS, threshold=0.95) == {}
    assert set(account_reasons(RINGS, RISK, LINKS, threshold=0.7)) == {"a", "b", "c", "d"}


def test_ring_and_shared_identifiers_with_checkable_numbers():
    reasons = account_reasons(RINGS, RISK, LINKS, threshold=0.5)
    # d1 is used by a, b, c and x (outside the ring): three others; pm1 by a, b, d
    assert reasons["a"] == [
        "member of fake_account ring R-big (score 0.930, 4 accounts)",
        "shares device d1 with 3 other accounts",
        "shares payment method pm1 with 2 other accounts",
    ]
    # c is in both rings: the best one is named, the other counted
    assert reasons["c"][0] == (
        "member of fake_account ring R-big (score 0.930, 4 accounts) and of 1 other ring"
    )
    assert "shares device d1 with 3 other accounts" in reasons["c"]
    assert "shares phone +1555 with 1 other account" in reasons["c"]
    # d shares no device; its card is listed
    assert reasons["d"][1:] == ["shares payment method pm1 with 2 other accounts"]
    assert reasons["e"] == [
        "member of fake_account ring R-small (score 0.610, 2 accounts)",
        "shares phone +1555 with 1 other account",
    ]


def test_gnn_score_and_explanations_when_a_model_was_used():
    risk = RISK.assign(risk_score=RISK["risk_score"].where(RISK["account_id"] != "y", 0.8))
    learned = pd.Series({"a": 0.7, "y": 0.8, "z": 0.0})
    explanations = {
        "a": ["uses payment_method pm1 shared by 3 accounts (+0.40)", "decline_rate is 0.8"],
        "y": ["uses ip ip9 shared by 2 accounts (+0.30)"],
    }
    reasons = account_reasons(
        RINGS, risk, LINKS, threshold=0.5, learned=learned, explanations=explanations
    )
    # y is in no ring: flagged by the model alone
    assert reasons["y"] == [
        "GNN risk score 0.800 (flag threshold 0.50): uses ip ip9 shared by 2 accounts (+0.30)"
    ]
    assert len(reasons["a"]) == 4  # ring, device, GNN, card: the GNN's second line is cut
    assert reasons["a"][2].startswith("GNN risk score 0.700 (flag threshold 0.50): uses")
    assert reasons["a"][3] == "shares payment method pm1 with 2 other accounts"
    assert all(len(lines) <= 2 for lines in account_reasons(
        RINGS, risk, LINKS, threshold=0.5, learned=learned, explanations=explanations,
        max_reasons=2,
    ).values())  # fmt: skip


def test_an_account_flagged_without_ring_or_model_still_gets_a_checkable_line():
    reasons = account_reasons(RINGS.iloc[0:0], RISK, LINKS, threshold=0.9)
    assert reasons["a"] == ["risk score 0.930 is at or above the flag threshold 0.90"]


@pytest.mark.parametrize("drop_shared", [True, False])
def test_rings_without_shared_lists(drop_shared):
    rings = RINGS.drop(columns="shared") if drop_shared else RINGS.assign(shared=[{}, None])
    reasons = account_reasons(rings, RISK, LINKS, threshold=0.5)
    assert reasons["a"] == ["member of fake_account ring R-big (score 0.930, 4 accounts)"]
