"""A small, seeded ring graph for the dashboard's browser tests and its benchmark.

It writes what ingest and detection would (accounts, identifiers, usage edges with
times and counts, request windows, rings with reasons and risk scores) with batched,
parameterised Cypher in :mod:`graphs.model` names. The app itself never uses it.

``sample_world`` is pure (rows from a seed); ``write_sample`` writes them.

>>> world = sample_world(rings=3, background=10, seed=1)
>>> sorted(world)
['accounts', 'edges', 'members', 'rings']
>>> len(world["rings"])
3
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from graphs.model import RING_STATUSES, USAGE_RELS, Label, Prop, Rel
from ingest.normalise import canonical_email

__all__ = ["EPOCH", "LAST_RUN", "sample_world", "write_sample"]

P = Prop
#: The sample's clock: activity runs over the 60 days before the last detection run.
LAST_RUN = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
EPOCH = LAST_RUN - timedelta(days=60)
POPULAR_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
]
OFFICE_IP = "198.51.100.10"  # a NAT shared by background accounts and some ring members


def _stamp(rng: random.Random, lo_days: float, hi_days: float) -> datetime:
    return EPOCH + timedelta(days=rng.uniform(lo_days, hi_days))


class _World:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.accounts: list[dict[str, Any]] = []
        self.edges: dict[Rel, list[dict[str, Any]]] = defaultdict(list)
        self.rings: list[dict[str, Any]] = []
        self.members: list[dict[str, str]] = []

    def account(self, account_id: str, created: datetime, risk: float, raw: str) -> None:
        """An account whose email is ``raw`` as typed (stored canonical, raw on the edge)."""
        rng = self.rng
        email = canonical_email(raw) or raw
        phone = f"+1415555{rng.randrange(10_000):04d}"
        self.accounts.append(
            {
                P.ACCOUNT_ID: account_id,
                P.CREATED_AT: created,
                P.COUNTRY: rng.choice(["US", "GB", "DE", "BR"]),
                P.STATUS: "active",
                P.ACCOUNT_EMAIL: email,
                P.DOMAIN: email.rpartition("@")[2],
                P.ACCOUNT_PHONE: phone,
                P.RISK_SCORE: round(risk, 4),
            }
        )
        self.link(Rel.HAS_EMAIL, account_id, email, created, created, 1, {P.RAW: raw})
        self.link(Rel.HAS_PHONE, account_id, phone, created, created, 1)

    def link(
        self,
        rel: Rel,
        account_id: str,
        key: str,
        first: datetime,
        last: datetime,
        count: int,
        extra: dict[str, Any] | None = None,
    ) -> None:
        props = {P.FIRST_SEEN: first, P.LAST_SEEN: max(first, last), P.COUNT: count}
        self.edges[rel].append({"a": account_id, "k": key, "props": props | (extra or {})})

    def activity(self, account_id: str, created: datetime, ips, devices, cards, ua) -> datetime:
        """Sign-up, logins, payments and request windows; returns the last activity."""
        rng = self.rng
        self.link(Rel.SIGNED_UP_FROM, account_id, ips[0], created, created, 1)
        self.link(Rel.SIGNED_UP_ON, account_id, devices[0], created, created, 1)
        last_seen = created
        for ip in ips:
            first = created + timedelta(hours=rng.uniform(0, 48))
            last = min(first + timedelta(days=rng.uniform(1, 20)), LAST_RUN)
            logins = rng.randrange(1, 30)
            starts = sorted(
                int((first + (last - first) * rng.random()).timestamp()) for _ in range(3)
            )
            self.link(
                Rel.USED_IP,
                account_id,
                ip,
                first,
                last,
                logins,
                {
                    P.LOGINS: logins,
                    P.FAILED_LOGINS: rng.randrange(3),
                    P.REQUESTS: 40 * len(starts),
                    P.WIN_START: starts,
                    P.WIN_S: [3600] * len(starts),
                    P.WIN_REQUESTS: [rng.randrange(10, 70) for _ in starts],
                    P.WIN_PATHS: [rng.randrange(1, 30) for _ in starts],
                    P.WIN_CREATORS: [-1 for _ in starts],
                    P.WIN_UA: [ua for _ in starts],
                },
            )
            last_seen = max(last_seen, last)
        for device in devices:
            last = min(created + timedelta(days=rng.uniform(0, 20)), LAST_RUN)
            self.link(Rel.USED_DEVICE, account_id, device, created, last, rng.randrange(1, 30))
        self.link(Rel.USED_UA, account_id, ua, created, last_seen, rng.randrange(1, 30))
        for card in cards:
            paid = created + timedelta(days=rng.uniform(0, 5))
            ok, declined = rng.randrange(0, 4), rng.randrange(0, 6)
            self.link(
                Rel.PAID_WITH,
                account_id,
                card,
                paid,
                min(paid + timedelta(days=3), LAST_RUN),
                ok + declined,
                {P.SUCCEEDED: ok, P.DECLINED: declined, P.AMOUNT: 4.99 * (ok + declined)},
            )
        return last_seen


def _ring(world: _World, index: int, size: int, prefix: str) -> None:
    rng = world.rng
    kind = "scraping" if index % 5 == 4 else "fake_account"
    ring_id = f"{prefix}{index:05d}"
    start = rng.uniform(0, 50)
    net = f"10.{index // 250 % 250}.{index % 250}"
    n_ips, n_devices, n_cards = max(1, size // 8), max(1, size // 10), max(1, size // 15)
    ips = [f"{net}.{i + 1}" for i in range(n_ips)]
    devices = [f"d-{ring_id}-{i}" for i in range(n_devices)]
    cards = [f"pm-{ring_id}-{i}" for i in range(n_cards)]
    first_seen, last_seen = LAST_RUN, EPOCH
    score = round(rng.uniform(0.5, 1.0), 3)
    for m in range(size):
        account_id = f"a-{ring_id}-{m:03d}"
        created = _stamp(rng, start, start + 0.2)
        raw = f"Ring.{ring_id[len(prefix) :]}.Member{m}+promo@GoogleMail.com"
        world.account(account_id, created, score * rng.uniform(0.7, 1.0), raw)
        my_ips = rng.sample(ips, min(2, len(ips))) + ([OFFICE_IP] if m == 0 else [])
        seen = world.activity(
            account_id,
            created,
            my_ips,
            rng.sample(devices, 1),
            rng.sample(cards, 1),
            rng.choice(POPULAR_UAS),
        )
        world.members.append({"a": account_id, "r": ring_id})
        first_seen, last_seen = min(first_seen, created), max(last_seen, seen)
    new = index % 7 == 0
    detected = LAST_RUN if new else LAST_RUN - timedelta(days=rng.randrange(1, 20))
    status = RING_STATUSES[index % 4] if index % 3 == 1 else "open"
    world.rings.append(
        {
            P.RING_ID: ring_id,
            P.KIND: kind,
            P.SCORE: score,
            P.STATUS: status,
            P.REASONS: [
                f"{size} accounts share {n_devices} devices and {n_cards} payment methods",
                f"{size} of {size} created within 5 hours",
            ],
            P.DETECTED_AT: detected,
            P.LAST_DETECTED_AT: LAST_RUN,
            P.FIRST_SEEN: first_seen,
            P.LAST_SEEN: last_seen,
        }
    )


def sample_world(
    rings: int = 30,
    background: int = 200,
    seed: int = 0,
    *,
    big_ring: int = 0,
    prefix: str = "R-",
) -> dict[str, Any]:
    """Rows for ``rings`` small rings (3-12 members), ``background`` ordinary accounts
    sharing a few popular user agents and an office IP with the rings, and optionally one
    ring of ``big_ring`` members (id ``{prefix}big``) for the 500-node benchmark."""
    world = _World(seed)
    for b in range(background):
        account_id = f"a-bg-{b:05d}"
        created = _stamp(world.rng, 0, 58)
        world.account(account_id, created, world.rng.uniform(0, 0.2), f"user{b}@example.org")
        ips = [f"192.0.2.{b % 250}"] + ([OFFICE_IP] if b % 3 == 0 else [])
        world.activity(account_id, created, ips, [f"d-bg-{b}"], [f"pm-bg-{b}"], POPULAR_UAS[b % 3])
    for index in range(rings):
        _ring(world, index, world.rng.randrange(3, 13), prefix)
    if big_ring:
        _ring(world, 99_999, big_ring, prefix)
        world.rings[-1][P.RING_ID] = f"{prefix}big"
        for row in world.members[-big_ring:]:
            row["r"] = f"{prefix}big"
    return {
        "accounts": world.accounts,
        "edges": dict(world.edges),
        "rings": world.rings,
        "members": world.members,
    }


def _batches(rows: list[dict[str, Any]], size: int = 5000):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _edge_query(rel: Rel) -> str:
    label, key = USAGE_RELS[rel]
    return f"""
UNWIND $rows AS row
MATCH (a:{Label.ACCOUNT} {{{P.ACCOUNT_ID}: row.a}})
MERGE (i:{label} {{{key}: row.k}})
CREATE (a)-[e:{rel}]->(i)
SET e = row.props
"""


ACCOUNTS = f"UNWIND $rows AS row CREATE (a:{Label.ACCOUNT}) SET a = row"
RINGS = f"UNWIND $rows AS row CREATE (r:{Label.RING}) SET r = row"
MEMBERS = f"""
UNWIND $rows AS row
MATCH (a:{Label.ACCOUNT} {{{P.ACCOUNT_ID}: row.a}}), (r:{Label.RING} {{{P.RING_ID}: row.r}})
CREATE (a)-[:{Rel.MEMBER_OF}]->(r)
"""
SUBNETS = f"""
MATCH (ip:{Label.IP}) WHERE NOT (ip)-[:{Rel.IN_SUBNET}]->()
WITH ip, split(ip.{P.IP}, '.') AS parts
MERGE (s:{Label.SUBNET} {{{P.SUBNET}: parts[0] + '.' + parts[1] + '.' + parts[2] + '.0/24'}})
CREATE (ip)-[:{Rel.IN_SUBNET}]->(s)
"""


def write_sample(driver, database: str, world: dict[str, Any]) -> dict[str, int]:
    """Write :func:`sample_world` rows into an empty database; returns counts written.

    The schema (uniqueness constraints and indexes) is ingest's own, as in production.
    """
    from ingest.writer import ensure_schema

    ensure_schema(driver, database)
    for batch in _batches(world["accounts"]):
        driver.execute_query(ACCOUNTS, {"rows": batch}, database_=database)
    for rel, rows in world["edges"].items():
        for batch in _batches(rows):
            driver.execute_query(_edge_query(rel), {"rows": batch}, database_=database)
    driver.execute_query(SUBNETS, database_=database)
    for batch in _batches(world["rings"]):
        driver.execute_query(RINGS, {"rows": batch}, database_=database)
    for batch in _batches(world["members"]):
        driver.execute_query(MEMBERS, {"rows": batch}, database_=database)
    return {
        "accounts": len(world["accounts"]),
        "edges": sum(len(rows) for rows in world["edges"].values()),
        "rings": len(world["rings"]),
    }
