"""Scraping clusters on tiny hand-written request windows."""

from __future__ import annotations

import pytest

from graphs.errors import NotFittedError
from graphs.scraping import ScrapingDetector
from tests.graphs.tiny import TinyWorld


def population(world: TinyWorld, n: int = 120) -> None:
    """Ordinary logged-in browsing: a few windows each, modest and narrow."""
    for i in range(n):
        for w in range(3):
            ip = f"73.{i % 200}.1.{i % 9 + 1}"
            world.window(
                "account",
                f"u{i}",
                ip,
                24.0 * w + i % 24,
                n_requests=5 + i % 20,
                n_paths=2 + i % 6,
                n_creators=1 + i % 2,
            )


def crawler(world: TinyWorld, n_ips: int = 12, subnet: str = "45.77.10") -> set[str]:
    """Logged-out crawler: one bot UA, lockstep sessions, huge and broad."""
    ips = {f"{subnet}.{i + 1}" for i in range(n_ips)}
    for session in range(6):
        for ip in sorted(ips):
            world.window("ip", ip, ip, 100.0 + 24 * session, user_agent="python-requests/2.31.0",
                         n_requests=1500, n_paths=900, n_creators=300)  # fmt: skip
    return ips


def test_a_lockstep_crawler_is_a_cluster_reported_by_its_ips():
    world = TinyWorld()
    population(world)
    ips = crawler(world)
    snapshot = world.snapshot()
    clusters = ScrapingDetector().fit(snapshot).clusters(snapshot)
    assert len(clusters) == 1
    assert set(clusters[0].ips) == ips and clusters[0].accounts == []
    assert clusters[0].score >= 0.5
    assert any("12 clients from 12 IPs" in reason for reason in clusters[0].reasons)


def test_logged_in_scrapers_are_linked_to_their_accounts():
    world = TinyWorld()
    population(world)
    for i in range(5):
        for session in range(5):
            world.window("account", f"s{i}", f"104.20.3.{i + 1}", 50.0 + 24 * session,
                         user_agent="HeadlessChrome/120", n_requests=800, n_paths=500,
                         n_creators=40)  # fmt: skip
    snapshot = world.snapshot()
    clusters = ScrapingDetector().fit(snapshot).clusters(snapshot)
    assert [set(c.accounts) for c in clusters] == [{f"s{i}" for i in range(5)}]


def test_power_users_with_heavy_but_narrow_traffic_are_not_scrapers():
    world = TinyWorld()
    population(world)
    for i in range(4):
        for session in range(20):
            world.window("account", f"fan{i}", f"73.9.9.{i + 1}", 10.0 + 6 * session,
                         n_requests=2000, n_paths=3, n_creators=1)  # fmt: skip
    snapshot = world.snapshot()
    detector = ScrapingDetector().fit(snapshot)
    assert detector.clusters(snapshot) == []
    clients = detector.clients(snapshot).set_index("client_id")
    assert clients.loc["fan0", "rate_z"] > detector.z_floor  # heavy ...
    assert not clients.loc["fan0", "heavy"]  # ... but narrow


def test_a_verified_search_crawler_is_not_a_scraper_but_a_spoofed_one_is():
    world = TinyWorld()
    population(world)
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    for i in range(8):
        for session in range(6):
            for ip in (f"66.249.66.{i + 1}", f"45.1.1.{i + 1}"):  # Google's range, and not
                world.window("ip", ip, ip, 100.0 + 24 * session, user_agent=googlebot,
                             n_requests=1500, n_paths=900, n_creators=300)  # fmt: skip
    snapshot = world.snapshot()
    clusters = ScrapingDetector().fit(snapshot).clusters(snapshot)
    assert [set(c.ips) for c in clusters] == [{f"45.1.1.{i + 1}" for i in range(8)}]


def test_the_detector_must_be_fitted_first():
    world = TinyWorld()
    population(world, 5)
    with pytest.raises(NotFittedError):
        ScrapingDetector().clusters(world.snapshot())
