"""Evaluation exactly as output-format.md defines it, on hand-made truth and rings."""

from __future__ import annotations

import pandas as pd
import pytest

from graphs.detection import account_table, assign_ring_ids
from graphs.evaluation import evaluate

TRUTH = pd.DataFrame(
    [
        # a fake-account ring of 4, found with 3 of them (Jaccard 3/4)
        *[("g1", "fake_account", "account", f"r{i}", "device_farm") for i in range(4)],
        # a fake-account ring of 4, found only as a pair (Jaccard 2/4: still a match)
        *[("g2", "fake_account", "account", f"c{i}", "shared_card_only") for i in range(4)],
        # a crawler named by ips only, missed
        *[("g3", "scraping", "ip", f"10.0.0.{i}", "logged_out_crawler") for i in range(4)],
        # a household of 4; one member is also in g1 (counts as abuse)
        *[("h1", "legit_group", "account", a, "household") for a in ("h0", "h1", "h2", "r0")],
        # a search crawler named by ip
        ("s1", "legit_group", "ip", "66.249.66.1", "search_crawler"),
    ],
    columns=["group_id", "kind", "entity_type", "entity_id", "scenario"],
)
RINGS = pd.DataFrame(
    {
        "ring_id": ["R-a", "R-b", "R-c"],
        "kind": ["fake_account", "fake_account", "scraping"],
        "score": [0.9, 0.8, 0.7],
        "accounts": [["r0", "r1", "r2"], ["c0", "c1"], ["h0", "x1"]],
        "ips": [[], [], ["66.249.66.1"]],
    }
)
SCORED = pd.DataFrame(
    {
        "account_id": ["r0", "r1", "r2", "c0", "c1", "h0", "x1", "r3"],
        "risk_score": [0.9, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.2],
        "flagged": [True] * 7 + [False],
    }
)
UNIVERSE = [*SCORED["account_id"], "c2", "c3", "h1", "h2", "z1", "z2"]


@pytest.fixture(scope="module")
def report():
    return evaluate(TRUTH, RINGS, SCORED, UNIVERSE)


def test_ring_recall_and_precision_use_jaccard_at_least_one_half(report):
    overall = report["overall"]
    assert overall["abuse_groups"] == 3
    assert overall["ring_recall"] == pytest.approx(2 / 3)  # g1 and g2, not g3
    assert overall["ring_precision"] == pytest.approx(2 / 3)  # R-a and R-b, not R-c


def test_account_metrics_count_unlisted_accounts_as_unflagged(report):
    overall = report["overall"]
    # 7 flagged, 5 of them abuse (r0-r2, c0, c1); 8 abuse accounts in all
    assert overall["account_precision"] == pytest.approx(5 / 7)
    assert overall["account_recall"] == pytest.approx(5 / 8)


def test_lookalike_rate_counts_accounts_and_ips_and_abuse_wins(report):
    overall = report["overall"]
    # household minus r0 (abuse wins): h0 flagged of h0, h1, h2; the crawler ip is in R-c
    assert overall["lookalike_account_fpr"] == pytest.approx(1 / 3)
    assert overall["lookalike_ip_fpr"] == 1.0
    assert overall["lookalike_fpr"] == pytest.approx(2 / 4)


def test_per_kind_and_per_scenario(report):
    assert report["per_kind"]["fake_account"]["ring_recall"] == 1.0
    assert report["per_kind"]["scraping"]["ring_recall"] == 0.0
    assert report["per_kind"]["scraping"]["ring_precision"] == 0.0
    assert report["per_scenario"]["shared_card_only"]["ring_recall"] == 1.0
    assert report["per_scenario"]["household"]["lookalike_fpr"] == pytest.approx(1 / 3)
    assert report["per_scenario"]["logged_out_crawler"]["ring_recall"] == 0.0


def test_auprc_is_reported_with_its_base_rate(report):
    overall = report["overall"]
    assert overall["base_rate"] == pytest.approx(8 / len(set(UNIVERSE)))
    assert 0 < overall["auprc"] <= 1


def test_ring_ids_are_stable_and_accounts_point_to_their_best_ring():
    rings = assign_ring_ids(RINGS.drop(columns="ring_id"))
    again = assign_ring_ids(RINGS.drop(columns="ring_id"))
    assert rings["ring_id"].tolist() == again["ring_id"].tolist()
    assert rings["ring_id"].str.fullmatch(r"R-[0-9a-f]{6}").all()
    # next night: R-a found again with one more member keeps its id
    later = RINGS.drop(columns="ring_id").iloc[[0]].copy()
    later.at[0, "accounts"] = ["r0", "r1", "r2", "r3"]
    continued = assign_ring_ids(later, rings)
    assert continued.at[0, "ring_id"] == rings.at[0, "ring_id"]
    assert bool(continued.at[0, "continuing"])
    table = account_table(SCORED[["account_id", "risk_score"]], rings, 0.5)
    assert table.set_index("account_id").loc["r0", "ring_id"] == rings.at[0, "ring_id"]
    assert table.set_index("account_id").loc["r3", "ring_id"] == ""
