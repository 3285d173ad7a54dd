"""Tiny hand-made snapshots for the GNN tests."""

from __future__ import annotations

import pandas as pd
import pytest

from graphs.snapshot import LINK_COLUMNS, WINDOW_COLUMNS, Snapshot

T0 = pd.Timestamp("2026-03-01T00:00:00Z")


def ts(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


def link(account_id: str, kind: str, key: str, hours: float = 0.0, count: int = 1, **extra) -> dict:
    row = dict.fromkeys(LINK_COLUMNS, 0)
    row.update(
        account_id=account_id,
        kind=kind,
        key=key,
        count=count,
        first_seen=ts(hours),
        last_seen=ts(hours),
        amount=0.0,
    )
    row.update(extra)
    return row


@pytest.fixture
def tiny_snapshot() -> Snapshot:
    """Three accounts: a1 and a2 share device d1 and card pm1; a3 is alone.

    a1 signed up at 01:00 with a disposable email, paid 4 times on pm1 (3 declined) and
    logged in 5 times from ip 10.0.0.1; a2 signed up at 03:00 (gmail); a3 at 10:00 has
    no email and sent 2 request windows (100 and 50 requests).
    """
    accounts = pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3"],
            "created_at": [ts(1), ts(3), ts(10)],
            "country": ["DE", "DE", None],
            "status": ["active"] * 3,
            "email": ["x@mailinator.com", "y@gmail.com", None],
            "email_domain": ["mailinator.com", "gmail.com", None],
            "phone": [None, "+4915112345678", None],
            "label": ["fraud", None, "legit"],
            "label_source": ["chargeback", None, "investigator"],
        }
    )
    links = pd.DataFrame(
        [
            link("a1", "device", "d1", 1, count=5, logins=5),
            link("a1", "signup_device", "d1", 1),
            link("a1", "ip", "10.0.0.1", 1, count=5, logins=5),
            link("a1", "payment_method", "pm1", 2, count=4, succeeded=1, declined=3, amount=8.0),
            link("a2", "device", "d1", 3, count=2, logins=2),
            link("a2", "ip", "10.0.0.2", 3, count=2, logins=2),
            link("a2", "payment_method", "pm1", 4, count=1, succeeded=1, amount=5.0),
            link("a3", "device", "d3", 10, logins=1),
            link("a3", "ip", "2001:db8::1", 10, logins=1),
            link("a3", "user_agent", "Mozilla/5.0", 10, logins=1),
        ]
    )
    ip_subnets = pd.DataFrame(
        {
            "ip": ["10.0.0.1", "10.0.0.2", "2001:db8::1"],
            "subnet": ["10.0.0.0/24", "10.0.0.0/24", "2001:db8::/48"],
        }
    )
    windows = pd.DataFrame(
        [
            ("account", "a3", "2001:db8::1", "Mozilla/5.0", ts(11), 300, 100, 7, 2),
            ("account", "a3", "2001:db8::1", "Mozilla/5.0", ts(12), 300, 50, 3, 1),
            ("ip", "10.0.0.2", "10.0.0.2", "bot/1.0", ts(12), 300, 40, 20, 5),
        ],
        columns=list(WINDOW_COLUMNS),
    )
    return Snapshot(accounts=accounts, links=links, ip_subnets=ip_subnets, windows=windows)


def planted_snapshot(n_legit: int = 240, n_rings: int = 12, ring_size: int = 5, seed: int = 0):
    """Legit accounts with devices of their own, and rings whose members share one device
    and one card; every account is labelled, sign-ups spread over 30 days (rings too).

    Account features alone do not tell the two apart (same email, payment and login
    distributions); the shared identifiers do.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    rows, links = [], []
    n = n_legit + n_rings * ring_size
    hours = np.sort(rng.uniform(0, 30 * 24, n))
    order = rng.permutation(n)
    for i in range(n):
        ring = i - n_legit if i >= n_legit else None
        account = f"a{i:04d}"
        created = float(hours[order[i]])
        rows.append(
            {
                "account_id": account,
                "created_at": ts(created),
                "email_domain": "gmail.com",
                "phone": None,
                "label": "fraud" if ring is not None else "legit",
            }
        )
        device = f"ring-d{ring // ring_size}" if ring is not None else f"d{i}"
        card = f"ring-pm{ring // ring_size}" if ring is not None else f"pm{i}"
        links.append(link(account, "device", device, created, count=3, logins=3))
        links.append(
            link(account, "payment_method", card, created + 1, count=2, succeeded=2, amount=9.0)
        )
        links.append(link(account, "ip", f"10.{i // 250}.{i % 250}.1", created, logins=3))
    return Snapshot(accounts=pd.DataFrame(rows), links=pd.DataFrame(links))
