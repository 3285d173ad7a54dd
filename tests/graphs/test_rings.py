"""Fake-account rings on tiny hand-written graphs: linking, components, scores, reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphs.components import networkx_components, ring_candidates
from graphs.detection import DetectConfig, detect
from graphs.errors import DetectionError, NotFittedError
from graphs.linking import LinkGraph, account_links
from graphs.rings import (
    RING_FEATURES,
    LearnedRingScorer,
    RuleRingScorer,
    label_targets,
    ring_features,
)
from tests.graphs.tiny import TinyWorld, background

RULE = DetectConfig(scorer="rule")


def candidate_sets(world: TinyWorld) -> set[frozenset[str]]:
    snapshot = world.snapshot()
    labels = ring_candidates(account_links(snapshot))
    ids = snapshot.accounts["account_id"].to_numpy()
    return {frozenset(ids[labels == c]) for c in np.unique(labels[labels >= 0])}


def written(world: TinyWorld, config: DetectConfig = RULE) -> set[frozenset[str]]:
    found = detect(world.snapshot(), config)
    rings = found.rings.loc[found.rings["score"] >= config.ring_threshold]
    return {frozenset(accounts) for accounts in rings["accounts"]}


def device_farm(world: TinyWorld, prefix: str, n: int = 8, start_h: float = 2000.0) -> set[str]:
    members = set()
    for i in range(n):
        account = world.account(f"{prefix}{i}", start_h + i * 0.2)
        world.link(account, "signup_device", f"{prefix}-farm0", start_h + i * 0.2)
        world.link(account, "device", f"{prefix}-farm{i % 2}", start_h + i * 0.2, start_h + 90)
        world.link(account, "user_agent", f"Android 6; {prefix} WebView", start_h, start_h + 90)
        members.add(account)
    return members


def test_a_household_is_not_a_ring():
    world = TinyWorld()
    background(world, 40)
    family = set()
    for i, created in enumerate((0, 900, 1500, 2600)):  # sign-ups months apart
        account = world.account(f"home{i}", created)
        world.link(account, "ip", "73.1.2.3", created, 2800, count=40)
        world.link(account, "signup_ip", "73.1.2.3", created)
        world.link(account, "device", "tablet", created + 5, 2800)
        world.link(account, "payment_method", f"card{i}", created + 10, 2800, succeeded=6)
        family.add(account)
    assert frozenset(family) in candidate_sets(world)  # linked: it is a candidate ...
    assert not written(world)  # ... that is not reported


def test_a_nat_ip_does_not_merge_two_rings():
    world = TinyWorld()
    background(world, 150, nat_ip="100.64.0.1")  # a carrier NAT shared by everyone
    ring_a = device_farm(world, "a", start_h=1000)
    ring_b = device_farm(world, "b", start_h=1500)
    for i, account in enumerate(sorted(ring_a | ring_b)):
        world.link(account, "ip", "100.64.0.1", 1600 + 7 * i, 1700 + 5 * i)
    candidates = candidate_sets(world)
    assert frozenset(ring_a) in candidates
    assert frozenset(ring_b) in candidates
    assert written(world) == {frozenset(ring_a), frozenset(ring_b)}


def test_a_camouflaged_ring_linked_only_by_a_card_and_timing_is_found():
    world = TinyWorld()
    background(world, 60)
    ring = set()
    for i in range(6):
        created = 1200 + i * 0.3  # a burst of sign-ups, each with its own device and IP
        account = world.account(f"cam{i}", created)
        world.link(account, "device", f"cam-dev{i}", created, created + 200)
        world.link(account, "ip", f"81.{i}.7.9", created, created + 200)
        world.link(account, "payment_method", "stolen-card", created + 1, created + 30,
                   succeeded=2, disputed=1, declined=1)  # fmt: skip
        ring.add(account)
    assert written(world) == {frozenset(ring)}


def test_a_lockstep_subnet_ring_links_through_its_sessions():
    world = TinyWorld()
    background(world, 30)
    ring = set()
    for i in range(6):
        created = 700 + i * 0.03  # every ~2 minutes
        account = world.account(f"ls{i}", created)
        world.link(account, "signup_ip", f"45.9.9.{i + 10}", created)
        # each its own IP in one /24, sessions starting and ending together
        world.link(account, "ip", f"45.9.9.{i + 10}", 800 + i / 3600, 900 + i / 3600, count=5)
        ring.add(account)
    assert frozenset(ring) in candidate_sets(world)
    assert frozenset(ring) in written(world)


def test_oversized_components_are_split():
    # a chain of 400 accounts: strong links inside blocks of 40, weaker ones between
    n = 400
    src = np.arange(n - 1)
    weight = np.where((src + 1) % 40 == 0, 0.6, 1.0)
    graph = LinkGraph(np.array([f"a{i}" for i in range(n)], dtype=object), src, src + 1, weight)
    labels = ring_candidates(graph, 0.5, max_size=50)
    sizes = np.bincount(labels[labels >= 0])
    assert sizes.max() <= 50
    assert (sizes == 40).sum() == 10


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_components_match_networkx(seed):
    rng = np.random.default_rng(seed)
    n, m = 300, 260
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = src != dst
    graph = LinkGraph(
        np.array([f"a{i}" for i in range(n)], dtype=object),
        np.minimum(src, dst)[keep],
        np.maximum(src, dst)[keep],
        rng.random(keep.sum()),
    )
    labels = ring_candidates(graph, 0.3, max_size=n)
    ours = {frozenset(graph.account_ids[labels == c]) for c in np.unique(labels[labels >= 0])}
    assert ours == set(networkx_components(graph, 0.3))


def test_reasons_carry_numbers_an_investigator_can_check():
    world = TinyWorld()
    background(world, 20)
    farm = device_farm(world, "f", n=10)
    found = detect(world.snapshot(), RULE)
    ring = found.rings.loc[found.rings["accounts"].map(frozenset) == frozenset(farm)].iloc[0]
    assert ring["reasons"][0] == "10 accounts share 2 devices"
    assert "10 of 10 created within 3 hours" in ring["reasons"]
    assert ring["shared"]["device"] == ["f-farm0", "f-farm1"]


def _features(n_rings: int, n_legit: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_rings + n_legit):
        ring = i < n_rings
        row = dict.fromkeys(RING_FEATURES, 0.0)
        row |= {
            "n_accounts": rng.integers(8, 30) if ring else rng.integers(2, 6),
            "signup_burst_share": rng.uniform(0.6, 1) if ring else rng.uniform(0, 0.6),
            "accounts_per_device": rng.uniform(2, 8) if ring else rng.uniform(0.3, 1.5),
            "signup_cadence_cv": 1.0,
            "fraud_labels": int(ring and rng.random() < 0.5),
            "legit_labels": int(not ring and rng.random() < 0.5),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def test_learned_scorer_learns_from_labels_and_is_calibrated():
    features = _features(60, 200)
    scorer = LearnedRingScorer(min_per_class=10).fit(features)
    scores = scorer.score(features)
    assert scores.between(0, 1).all()
    assert scores[:60].mean() > 0.8 and scores[60:].mean() < 0.2


def test_scorers_refuse_to_score_before_fit_and_to_learn_from_too_few_labels():
    features = _features(5, 20)
    with pytest.raises(NotFittedError):
        RuleRingScorer().score(features)
    with pytest.raises(DetectionError, match="too few labelled"):
        LearnedRingScorer(min_per_class=15).fit(features)


def test_label_targets_take_the_majority_of_labels():
    features = pd.DataFrame({"fraud_labels": [2, 0, 1, 0], "legit_labels": [0, 3, 1, 0]})
    assert label_targets(features).tolist()[:2] == [1.0, 0.0]
    assert label_targets(features)[2:].isna().all()


def test_learned_account_score_enters_ring_features():
    world = TinyWorld()
    pair = [world.account("p0", 0), world.account("p1", 500)]
    for account in pair:
        world.link(account, "device", "shared-dev", 0, 600)
    snapshot = world.snapshot()
    graph = account_links(snapshot)
    labels = ring_candidates(graph)
    learned = pd.Series({"p0": 0.9, "p1": 0.5})
    features, _ = ring_features(snapshot, graph, labels, learned=learned)
    assert features["learned_mean"].iloc[0] == pytest.approx(0.7)
    assert features["learned_max"].iloc[0] == pytest.approx(0.9)


def test_sign_ups_at_a_fixed_cadence_from_one_subnet_link():
    world = TinyWorld()
    background(world, 30)
    ring = set()
    for i in range(7):
        created = 300 + (i * 398 + i % 3 * 4) / 3600  # every ~400 s, seconds of jitter
        account = world.account(f"cad{i}", created)
        world.link(account, "signup_ip", f"175.1.2.{i + 20}", created)
        world.link(account, "device", f"cad-dev{i}", created, created + 50)
        ring.add(account)
    assert frozenset(ring) in candidate_sets(world)
    assert frozenset(ring) in written(world)
