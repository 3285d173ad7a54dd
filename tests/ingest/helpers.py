"""Tiny hand-written datasets and a canonical dump of a graph, for the ingest tests."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from graphs.model import IDENTIFIER_KEYS, Label, Prop

ACCOUNTS = [
    # account_id, created_at, email, phone, country, signup_ip, signup_device_id, status
    ("00123", "2026-03-01T10:00:00Z", "John.Doe+x@gmail.com", "(415) 555-0123", "US",
     "203.0.113.7", "d1", ""),
    ("a2", "2026-03-01T11:00:00+01:00", "johndoe@googlemail.com", "+1 415 555 0123", "US",
     "::ffff:203.0.113.8", "d1", "active"),
    ("a3", "2026-03-02", "ann@example.org", "", "GB", "2001:DB8::1", "d3", "suspended"),
]  # fmt: skip
ACCOUNT_HEADER = (
    "account_id", "created_at", "email", "phone", "country", "signup_ip",
    "signup_device_id", "status",
)  # fmt: skip
LOGIN_HEADER = ("account_id", "ts", "ip", "device_id", "user_agent", "success")
LOGINS = [
    ("00123", "2026-03-02T10:00:00Z", "203.0.113.7", "d1", "UA-1", "true"),
    ("00123", "2026-03-03T10:00:00Z", "203.0.113.7", "d1", "UA-1", "FALSE"),
    ("a2", "2026-03-03T10:00:00Z", "10.0.0.1", "", "UA-1", "1"),
]
PAYMENT_HEADER = (
    "payment_id", "account_id", "ts", "payment_method_id", "amount", "currency", "outcome",
    "creator_id", "card_bin", "card_country",
)  # fmt: skip
PAYMENTS = [
    ("p1", "00123", "2026-03-02T10:00:00Z", "pm1", "10.50", "USD", "succeeded", "c1",
     "411111", "US"),
    ("p2", "a2", "2026-03-02T11:00:00Z", "pm1", "3", "USD", "declined", "", "", ""),
]  # fmt: skip
REQUEST_HEADER = (
    "window_start", "window_s", "ip", "user_agent", "device_id", "account_id", "n_requests",
    "n_paths", "n_creators",
)  # fmt: skip
REQUESTS = [
    ("2026-03-02T10:00:00Z", "60", "198.51.100.1", "bot/1.0", "", "", "100", "90", "40"),
    ("2026-03-02T10:01:00Z", "60", "198.51.100.1", "bot/1.0", "", "", "120", "", ""),
    ("2026-03-02T10:00:00Z", "60", "203.0.113.7", "UA-1", "d1", "00123", "5", "3", "1"),
]
LABEL_HEADER = ("account_id", "label", "source", "ts")
LABELS = [
    ("a2", "legit", "investigator", "2026-03-01"),
    ("a2", "fraud", "chargeback", "2026-03-01"),
    ("00123", "legit", "", ""),
]
TABLES = {
    "accounts": (ACCOUNT_HEADER, ACCOUNTS),
    "logins": (LOGIN_HEADER, LOGINS),
    "payments": (PAYMENT_HEADER, PAYMENTS),
    "requests": (REQUEST_HEADER, REQUESTS),
    "labels": (LABEL_HEADER, LABELS),
}


def write_table(directory: Path, name: str, header, rows, suffix: str = ".csv") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}{suffix}"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_dataset(directory: Path, **overrides) -> Path:
    """The small dataset above, with tables replaced by ``name=(header, rows)`` or
    dropped by ``name=None``."""
    for name, table in {**TABLES, **overrides}.items():
        if table is not None:
            write_table(directory, name, *table)
    return directory


def _freeze(value):
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, float):
        return round(value, 6)
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


_WINDOW_LISTS = (
    Prop.WIN_START, Prop.WIN_S, Prop.WIN_REQUESTS, Prop.WIN_PATHS, Prop.WIN_CREATORS,
    Prop.WIN_UA,
)  # fmt: skip


def _props(props: dict) -> tuple:
    props = dict(props)
    if Prop.WIN_START in props:  # windows are a set: compare them in a canonical order
        rows = sorted(zip(*(props[name] for name in _WINDOW_LISTS), strict=True))
        for i, name in enumerate(_WINDOW_LISTS):
            props[name] = [row[i] for row in rows]
    return tuple(sorted((k, _freeze(v)) for k, v in props.items()))


def _key(labels: list[str], props: dict):
    label = Label(labels[0])
    return label, props.get(IDENTIFIER_KEYS[label])


def graph_dump(driver, database: str) -> tuple[Counter, Counter]:
    """Every node and relationship except run records, as comparable multisets."""
    nodes, _, _ = driver.execute_query(
        "MATCH (n) WHERE NOT n:IngestRun RETURN labels(n) AS l, properties(n) AS p",
        database_=database,
    )
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN labels(a) AS la, properties(a) AS pa, type(r) AS t, "
        "labels(b) AS lb, properties(b) AS pb, properties(r) AS p",
        database_=database,
    )
    node_set = Counter((tuple(r["l"]), _props(r["p"])) for r in nodes)
    rel_set = Counter(
        (_key(r["la"], r["pa"]), r["t"], _key(r["lb"], r["pb"]), _props(r["p"])) for r in rels
    )
    return node_set, rel_set
