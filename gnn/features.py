"""Node features from a :class:`graphs.snapshot.Snapshot`: the one place they are defined.

Every feature is named in :data:`ACCOUNT_FEATURES` or :data:`IDENTIFIER_FEATURES` with a
sentence an analyst can check in the graph, and whether models see it on a log scale
(counts and amounts: ``log1p``). The tables returned by :func:`account_features` and
:func:`identifier_features` have exactly these columns in this order; a model file stores
the names and refuses to score tables with other ones.

Everything is computed with vectorised pandas / numpy over the link table (no Python loop
over accounts), so a million-account snapshot takes seconds.

Identifier node types group link kinds that point at the same kind of thing
(:data:`NODE_TYPE_OF_KIND`: ``signup_ip`` and ``ip`` are both ``ip`` nodes); subnets are
identifiers of their own, reached through ``ip_subnets``.

Examples
--------
>>> import pandas as pd
>>> from graphs.snapshot import Snapshot
>>> ts = pd.Timestamp("2026-03-01T12:00:00Z")
>>> accounts = pd.DataFrame({"account_id": ["a1", "a2"], "created_at": [ts, ts],
...     "email_domain": ["mailinator.com", "gmail.com"], "phone": [None, "+4915112345678"]})
>>> links = pd.DataFrame({"account_id": ["a1", "a2"], "kind": ["device", "device"],
...     "key": ["d1", "d1"], "count": [3, 1], "first_seen": [ts, ts], "last_seen": [ts, ts]})
>>> feats = account_features(Snapshot(accounts, links))
>>> feats.loc["a1", ["email_disposable", "n_devices", "signup_hour"]].tolist()
[1.0, 1.0, 12.0]
>>> float(identifier_features(Snapshot(accounts, links))["device"].loc["d1", "n_accounts"])
2.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from graphs.snapshot import Snapshot

__all__ = [
    "ACCOUNT_FEATURES",
    "DISPOSABLE_DOMAINS",
    "FREEMAIL_DOMAINS",
    "IDENTIFIER_FEATURES",
    "NODE_TYPE_OF_KIND",
    "Feature",
    "account_features",
    "as_of",
    "email_domain_class",
    "identifier_features",
    "identifier_links",
]


@dataclass(frozen=True)
class Feature:
    """One named feature: what it means, and whether models read it as ``log1p``."""

    name: str
    description: str
    log: bool = False


ACCOUNT_FEATURES: tuple[Feature, ...] = (
    Feature("account_age_days", "days from sign-up to the snapshot's as-of time"),
    Feature("signup_hour", "hour of day (UTC) of sign-up, 0-23"),
    Feature("email_missing", "1 when the account has no email"),
    Feature("email_freemail", "1 when the email domain is a large free-mail provider"),
    Feature("email_disposable", "1 when the email domain is a known disposable-mail domain"),
    Feature("email_other", "1 for any other domain (corporate, school, small provider)"),
    Feature("phone_missing", "1 when the account has no phone number"),
    Feature("n_payments", "payments made (all outcomes)", log=True),
    Feature("decline_rate", "share of payments declined"),
    Feature("dispute_rate", "share of payments disputed (chargebacks)"),
    Feature("refund_rate", "share of payments refunded"),
    Feature("amount_total", "sum of payment amounts", log=True),
    Feature("n_payment_methods", "distinct payment methods used", log=True),
    Feature("n_creators", "distinct creators supported with payments", log=True),
    Feature("n_logins", "logins (the larger of the ip and device login counts)", log=True),
    Feature("n_devices", "distinct devices, sign-up device included", log=True),
    Feature("n_ips", "distinct IPs, sign-up IP included", log=True),
    Feature("n_subnets", "distinct /24 (IPv4) or /48 (IPv6) subnets of those IPs", log=True),
    Feature("n_user_agents", "distinct user agents", log=True),
    Feature("n_requests", "logged-in requests in all request windows", log=True),
    Feature("n_request_windows", "request windows with logged-in traffic", log=True),
    Feature("max_paths_per_window", "most distinct URLs fetched in one window", log=True),
    Feature("max_creators_per_window", "most distinct creators fetched in one window", log=True),
)

IDENTIFIER_FEATURES: tuple[Feature, ...] = (
    Feature("n_accounts", "distinct accounts linked to the identifier", log=True),
    Feature("n_uses", "sum of the link counts (logins, payments, sign-ups)", log=True),
    Feature("age_days", "days from first use to the snapshot's as-of time"),
    Feature("span_days", "days between first and last use"),
    Feature(
        "signup_spread_hours",
        "standard deviation of the linked accounts' sign-up times, hours (0 for one account)",
        log=True,
    ),
    Feature("decline_rate", "share of its payments declined (payment methods, else 0)"),
    Feature("dispute_rate", "share of its payments disputed (payment methods, else 0)"),
    Feature("logged_out_requests", "logged-out requests sent from it (IPs, user agents)", log=True),
)

#: Node type of the identifier that each link kind points to.
NODE_TYPE_OF_KIND: dict[str, str] = {
    "device": "device",
    "signup_device": "device",
    "ip": "ip",
    "signup_ip": "ip",
    "email": "email",
    "phone": "phone",
    "payment_method": "payment_method",
    "user_agent": "user_agent",
    "creator": "creator",
}

FREEMAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "outlook.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "orange.fr",
        "free.fr",
        "libero.it",
        "t-online.de",
        "zoho.com",
        "mail.com",
    ]
)
DISPOSABLE_DOMAINS = frozenset(
    [
        "mailinator.com",
        "guerrillamail.com",
        "guerrillamail.net",
        "sharklasers.com",
        "grr.la",
        "10minutemail.com",
        "10minutemail.net",
        "temp-mail.org",
        "tempmail.com",
        "tempmail.net",
        "tempmailo.com",
        "tempr.email",
        "yopmail.com",
        "yopmail.net",
        "trashmail.com",
        "trashmail.de",
        "throwawaymail.com",
        "getnada.com",
        "nada.email",
        "dispostable.com",
        "maildrop.cc",
        "mailnesia.com",
        "fakeinbox.com",
        "mintemail.com",
        "mohmal.com",
        "emailondeck.com",
        "spamgourmet.com",
        "mytemp.email",
        "moakt.com",
        "burnermail.io",
        "discard.email",
        "mailcatch.com",
        "tempinbox.com",
        "getairmail.com",
    ]
)
# Substrings of domains that are disposable in practice even when not listed above.
_DISPOSABLE_HINTS = ("tempmail", "temp-mail", "trashmail", "throwaway", "10minute", "disposable")

_PAYMENT_OUTCOMES = ("succeeded", "declined", "refunded", "disputed")
_SECONDS_PER_DAY = 86_400.0


def email_domain_class(domains: pd.Series) -> pd.Series:
    """Class of each email domain: ``missing``, ``freemail``, ``disposable`` or ``other``.

    >>> email_domain_class(pd.Series(["Gmail.com", None, "x.tempmail.dev", "acme.io"])).tolist()
    ['freemail', 'missing', 'disposable', 'other']
    """
    lower = domains.astype("string").str.strip().str.lower()
    disposable = lower.isin(DISPOSABLE_DOMAINS)
    for hint in _DISPOSABLE_HINTS:
        disposable |= lower.str.contains(hint, regex=False).fillna(False)
    out = np.where(
        lower.isna() | (lower == ""),
        "missing",
        np.where(
            disposable, "disposable", np.where(lower.isin(FREEMAIL_DOMAINS), "freemail", "other")
        ),
    )
    return pd.Series(out, index=domains.index)


def as_of(snapshot: Snapshot) -> pd.Timestamp:
    """The snapshot's reference time: the latest sign-up, link use or request window."""
    times = [snapshot.accounts["created_at"].max()]
    if len(snapshot.links):
        times.append(snapshot.links["last_seen"].max())
    if len(snapshot.windows):
        times.append(snapshot.windows["window_start"].max())
    times = [t for t in times if not pd.isna(t)]
    return max(times) if times else pd.Timestamp(0, tz="UTC")


def _days(delta: pd.Series) -> np.ndarray:
    return delta.dt.total_seconds().to_numpy(dtype=float) / _SECONDS_PER_DAY


def _num(links: pd.DataFrame, column: str) -> pd.Series:
    """A numeric link column with absent values as 0 (links of other kinds lack it)."""
    if column not in links:
        return pd.Series(0.0, index=links.index)
    return pd.to_numeric(links[column], errors="coerce").fillna(0.0).astype(float)


def _rate(part: pd.Series, whole: pd.Series) -> pd.Series:
    return (part / whole.where(whole > 0)).fillna(0.0)


def _nunique_by_account(links: pd.DataFrame, kinds: tuple[str, ...], ids: pd.Index) -> pd.Series:
    sel = links[links["kind"].isin(kinds)]
    counts = sel.drop_duplicates(["account_id", "key"]).groupby("account_id").size()
    return counts.reindex(ids, fill_value=0).astype(float)


def account_features(snapshot: Snapshot) -> pd.DataFrame:
    """One row per account (index ``account_id``, in snapshot order), columns as in
    :data:`ACCOUNT_FEATURES`; see the module docstring for an example."""
    accounts = snapshot.accounts
    ids = pd.Index(accounts["account_id"], name="account_id")
    links = snapshot.links
    created = pd.to_datetime(accounts["created_at"], utc=True)
    out = pd.DataFrame(index=ids)
    out["account_age_days"] = _days(as_of(snapshot) - created)
    out["signup_hour"] = created.dt.hour.to_numpy(dtype=float)
    domain = (
        accounts["email_domain"]
        if "email_domain" in accounts
        else pd.Series(None, index=accounts.index)
    )
    klass = email_domain_class(domain).to_numpy()
    for name in ("missing", "freemail", "disposable", "other"):
        out[f"email_{name}"] = (klass == name).astype(float)
    phone = accounts["phone"] if "phone" in accounts else pd.Series(None, index=accounts.index)
    out["phone_missing"] = phone.isna().to_numpy(dtype=float)

    pay = links[links["kind"] == "payment_method"]
    sums = pd.DataFrame({o: _num(pay, o) for o in (*_PAYMENT_OUTCOMES, "amount")})
    sums["account_id"] = pay["account_id"].to_numpy()
    sums = sums.groupby("account_id").sum().reindex(ids, fill_value=0.0)
    n_payments = sums[list(_PAYMENT_OUTCOMES)].sum(axis=1)
    out["n_payments"] = n_payments
    out["decline_rate"] = _rate(sums["declined"], n_payments)
    out["dispute_rate"] = _rate(sums["disputed"], n_payments)
    out["refund_rate"] = _rate(sums["refunded"], n_payments)
    out["amount_total"] = sums["amount"]
    out["n_payment_methods"] = _nunique_by_account(links, ("payment_method",), ids)
    out["n_creators"] = _nunique_by_account(links, ("creator",), ids)

    logins = pd.DataFrame({"logins": _num(links, "logins"), "kind": links["kind"]})
    logins["account_id"] = links["account_id"]
    per_kind = logins[logins["kind"].isin(("ip", "device"))].pivot_table(
        index="account_id", columns="kind", values="logins", aggfunc="sum", fill_value=0.0
    )
    out["n_logins"] = (
        per_kind.max(axis=1).reindex(ids, fill_value=0.0) if len(per_kind.columns) else 0.0
    )
    out["n_devices"] = _nunique_by_account(links, ("device", "signup_device"), ids)
    out["n_ips"] = _nunique_by_account(links, ("ip", "signup_ip"), ids)
    out["n_subnets"] = _nunique_by_account(_subnet_links(snapshot), ("subnet",), ids)
    out["n_user_agents"] = _nunique_by_account(links, ("user_agent",), ids)

    win = snapshot.windows
    win = win[win["client_kind"] == "account"]
    grouped = (
        pd.DataFrame(
            {
                "account_id": win["client_id"].to_numpy(),
                "n_requests": _num(win, "n_requests").to_numpy(),
                "n_paths": _num(win, "n_paths").to_numpy(),
                "n_creators": _num(win, "n_creators").to_numpy(),
            }
        )
        .groupby("account_id")
        .agg(
            n_requests=("n_requests", "sum"),
            n_request_windows=("n_requests", "size"),
            max_paths_per_window=("n_paths", "max"),
            max_creators_per_window=("n_creators", "max"),
        )
        .reindex(ids, fill_value=0.0)
    )
    for column in grouped.columns:
        out[column] = grouped[column].astype(float)
    return out[[f.name for f in ACCOUNT_FEATURES]].astype(float)


def _subnet_links(snapshot: Snapshot) -> pd.DataFrame:
    """Account–subnet links derived from ip links through ``ip_subnets`` (kind ``subnet``)."""
    ip_links = snapshot.links[snapshot.links["kind"].isin(("ip", "signup_ip"))]
    subnets = snapshot.ip_subnets.drop_duplicates("ip")
    joined = ip_links.merge(subnets, left_on="key", right_on="ip", how="inner")
    joined = joined.drop(columns=["key", "ip"]).rename(columns={"subnet": "key"})
    joined["kind"] = "subnet"
    return joined


def identifier_links(snapshot: Snapshot) -> dict[str, pd.DataFrame]:
    """Link rows per identifier node type, subnets included (derived from ip links).

    Each frame has ``account_id`` and ``key`` and the usage columns of the links.
    """
    links = snapshot.links
    node_type = links["kind"].map(NODE_TYPE_OF_KIND)
    unknown = links.loc[node_type.isna(), "kind"].unique()
    if len(unknown):
        from graphs.errors import ModelError

        raise ModelError(f"snapshot links have unknown kinds {sorted(unknown)}")
    out = {t: frame for t, frame in links.groupby(node_type, sort=True)}
    subnet = _subnet_links(snapshot)
    if len(subnet):
        out["subnet"] = subnet
    return out


def identifier_features(snapshot: Snapshot) -> dict[str, pd.DataFrame]:
    """Per identifier node type, one row per identifier (index ``key``, sorted), columns as
    in :data:`IDENTIFIER_FEATURES`; see the module docstring for an example."""
    created = pd.Series(
        pd.to_datetime(snapshot.accounts["created_at"], utc=True).to_numpy(),
        index=snapshot.accounts["account_id"],
    )
    created_h = (created - pd.Timestamp(0, tz="UTC")).dt.total_seconds() / 3600.0
    now = as_of(snapshot)
    logged_out = _logged_out_requests(snapshot)
    out: dict[str, pd.DataFrame] = {}
    for node_type, frame in identifier_links(snapshot).items():
        frame = frame.assign(
            _count=_num(frame, "count"),
            _declined=_num(frame, "declined"),
            _disputed=_num(frame, "disputed"),
            _payments=sum(_num(frame, o) for o in _PAYMENT_OUTCOMES),
        )
        g = frame.groupby("key", sort=True)
        feats = pd.DataFrame(index=pd.Index(sorted(frame["key"].unique()), name="key"))
        pairs = frame.drop_duplicates(["key", "account_id"])
        feats["n_accounts"] = pairs.groupby("key").size().astype(float)
        feats["n_uses"] = g["_count"].sum()
        first = pd.to_datetime(g["first_seen"].min(), utc=True)
        last = pd.to_datetime(g["last_seen"].max(), utc=True)
        feats["age_days"] = _days(now - first)
        feats["span_days"] = _days(last - first)
        spread = (
            pd.DataFrame(
                {
                    "key": pairs["key"].to_numpy(),
                    "h": created_h.reindex(pairs["account_id"]).to_numpy(),
                }
            )
            .groupby("key")["h"]
            .std(ddof=0)
        )
        feats["signup_spread_hours"] = spread.fillna(0.0)
        payments = g["_payments"].sum()
        feats["decline_rate"] = _rate(g["_declined"].sum(), payments)
        feats["dispute_rate"] = _rate(g["_disputed"].sum(), payments)
        feats["logged_out_requests"] = logged_out.get(node_type, pd.Series(dtype=float)).reindex(
            feats.index, fill_value=0.0
        )
        out[node_type] = feats[[f.name for f in IDENTIFIER_FEATURES]].fillna(0.0).astype(float)
    return out


def _logged_out_requests(snapshot: Snapshot) -> dict[str, pd.Series]:
    win = snapshot.windows
    win = win[win["client_kind"] == "ip"]
    if not len(win):
        return {}
    n = _num(win, "n_requests")
    return {
        "ip": n.groupby(win["ip"].to_numpy()).sum(),
        "user_agent": n[win["user_agent"].notna().to_numpy()]
        .groupby(win["user_agent"].dropna().to_numpy())
        .sum(),
    }
