"""Tiny hand-written graphs for detection unit tests.

``TinyWorld`` collects accounts and their identifier links in a few readable calls and
turns them into a :class:`graphs.snapshot.Snapshot` with the contract's columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from graphs.snapshot import LINK_COLUMNS, WINDOW_COLUMNS, Snapshot

T0 = pd.Timestamp("2026-03-01T00:00:00Z")


def at(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


@dataclass
class TinyWorld:
    accounts: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    subnets: dict[str, str] = field(default_factory=dict)
    windows: list[dict] = field(default_factory=list)

    def account(self, account_id: str, created_h: float, label: str | None = None) -> str:
        self.accounts.append(
            {"account_id": account_id, "created_at": at(created_h), "label": label}
        )
        return account_id

    def link(
        self,
        account_id: str,
        kind: str,
        key: str,
        first_h: float = 0.0,
        last_h: float | None = None,
        **counts: float,
    ) -> None:
        row = dict.fromkeys(LINK_COLUMNS, 0) | {
            "account_id": account_id,
            "kind": kind,
            "key": key,
            "count": 1,
            "first_seen": at(first_h),
            "last_seen": at(first_h if last_h is None else last_h),
        }
        self.links.append(row | counts)
        if kind in ("ip", "signup_ip") and key not in self.subnets:
            self.subnets[key] = key.rsplit(".", 1)[0] + ".0/24"

    def window(self, client_kind: str, client_id: str, ip: str, start_h: float, **values) -> None:
        row = {
            "client_kind": client_kind,
            "client_id": client_id,
            "ip": ip,
            "user_agent": values.pop("user_agent", "Mozilla/5.0 Chrome/130"),
            "window_start": at(start_h),
            "window_s": 300,
            "n_requests": 10,
            "n_paths": 4,
            "n_creators": 1,
        }
        self.windows.append(row | values)
        if ip not in self.subnets:
            self.subnets[ip] = ip.rsplit(".", 1)[0] + ".0/24"

    def snapshot(self) -> Snapshot:
        accounts = pd.DataFrame(self.accounts)
        for column in ("country", "status", "email", "email_domain", "phone", "label_source"):
            accounts[column] = None
        links = pd.DataFrame(self.links, columns=list(LINK_COLUMNS))
        subnets = pd.DataFrame({"ip": list(self.subnets), "subnet": list(self.subnets.values())})
        windows = pd.DataFrame(self.windows, columns=list(WINDOW_COLUMNS))
        return Snapshot(accounts=accounts, links=links, ip_subnets=subnets, windows=windows)


def background(world: TinyWorld, n: int, prefix: str = "bg", nat_ip: str | None = None) -> list:
    """``n`` ordinary accounts spread over months, each with its own device and IP."""
    ids = []
    for i in range(n):
        created = 24.0 * (i * 37 % 120) + i % 11
        account = world.account(f"{prefix}{i}", created)
        world.link(account, "device", f"{prefix}-dev{i}", created, created + 500)
        world.link(account, "ip", f"10.{i % 250}.{i // 250}.{i % 7 + 1}", created, created + 500)
        if nat_ip:
            world.link(account, "ip", nat_ip, created + 3, created + 400)
        ids.append(account)
    return ids
