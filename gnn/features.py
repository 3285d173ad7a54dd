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


def _values(table: pd.DataFrame, column: str, rows: np.ndarray | None = None) -> np.ndarray:
    """``_num`` as a float array, of ``rows`` only when given."""
    values = _num(table, column).to_numpy()
    return values if rows is None else values[rows]


def _ns(table: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray:
    """Times of ``rows`` as float nanoseconds since the epoch (NaN for missing)."""
    times = pd.to_datetime(table[column], utc=True).dt.as_unit("ns")
    out = times.array.asi8[rows].astype(float)
    out[times.isna().to_numpy()[rows]] = np.nan
    return out


def _rate_of(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.divide(part, whole, out=np.zeros(len(part)), where=whole > 0)


def _factorize_sorted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=True)``, with string uniques sorted by Arrow.

    numpy sorts an object array one Python comparison at a time (15 s for the 1M world's
    identifier keys); Arrow's sort of the UTF-8 bytes gives the same order (that of the
    code points) in a fraction of it. Other values are sorted by pandas.

    >>> codes, uniques = _factorize_sorted(np.array(["b", "a", "b", "é", "z"], dtype=object))
    >>> codes.tolist(), uniques.tolist()
    ([1, 0, 1, 3, 2], ['a', 'b', 'z', 'é'])
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    codes, uniques = pd.factorize(values)
    try:
        order = pc.sort_indices(pa.array(uniques, type=pa.large_string())).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.factorize(values, sort=True)
    rank = np.empty(len(order), dtype=codes.dtype)
    rank[order] = np.arange(len(order), dtype=codes.dtype)
    found = codes >= 0  # -1: a missing value, as pandas gives
    codes[found] = rank[codes[found]]
    return codes, uniques[order]


@dataclass(frozen=True)
class LinkCodes:
    """The link table as integer codes, computed once per snapshot (string ids are
    hashed once here, never again per feature).

    ``kind`` is each row's code in ``kinds``; ``account`` is its account: its position
    in ``snapshot.accounts``, or a code from ``n_accounts`` up for an id not there. Per
    identifier node type (:data:`NODE_TYPE_OF_KIND`, plus ``subnet``), ``rows`` are the
    link rows (for
    ``subnet``: the ip rows whose ip has a subnet), ``key`` their identifier's code and
    ``keys`` the identifiers (sorted; code ``i`` is ``keys[i]``). ``subnet_of_ip`` is
    the subnet code of each ip code (-1: none).
    """

    account: np.ndarray
    n_accounts: int
    n_codes: int
    kind: np.ndarray
    kinds: np.ndarray
    rows: dict[str, np.ndarray]
    key: dict[str, np.ndarray]
    keys: dict[str, pd.Index]
    subnet_of_ip: np.ndarray

    @classmethod
    def of(cls, snapshot: Snapshot) -> LinkCodes:
        links = snapshot.links
        n = snapshot.n_accounts
        account = np.asarray(snapshot.link_accounts, dtype=np.int64).copy()
        unknown = np.flatnonzero(account < 0)
        n_codes = n
        if len(unknown):
            extra, names = pd.factorize(links["account_id"].to_numpy(dtype=object)[unknown])
            account[unknown] = n + extra
            n_codes += len(names)
        kind = links["kind"].to_numpy(dtype=object)
        kind_code, kinds = pd.factorize(kind)
        unknown = sorted(set(kinds) - set(NODE_TYPE_OF_KIND))
        if unknown:
            from graphs.errors import ModelError

            raise ModelError(f"snapshot links have unknown kinds {unknown}")
        # node type per kind, then per row (no Series of a million strings: pandas 3
        # would copy it into an Arrow string column)
        type_names = sorted({NODE_TYPE_OF_KIND[k] for k in kinds})
        type_of_kind = np.array([type_names.index(NODE_TYPE_OF_KIND[k]) for k in kinds])
        type_code = type_of_kind[kind_code] if len(kinds) else np.zeros(0, dtype=np.int64)
        key_column = links["key"].to_numpy(dtype=object)
        rows, key, keys = {}, {}, {}
        for code, name in enumerate(type_names):
            rows[name] = np.flatnonzero(type_code == code)
            key[name], uniques = _factorize_sorted(key_column[rows[name]])
            keys[name] = pd.Index(uniques, name="key")
        subnet_of_ip = np.full(len(keys.get("ip", ())), -1, dtype=np.int64)
        pairs = snapshot.ip_subnets.drop_duplicates("ip")
        if "ip" in keys and len(pairs):
            at = keys["ip"].get_indexer(pairs["ip"].to_numpy(dtype=object))
            found = at >= 0
            code, subnets = _factorize_sorted(pairs["subnet"].to_numpy(dtype=object)[found])
            subnet_of_ip[at[found]] = code
            ip_rows = rows["ip"]
            sub = subnet_of_ip[key["ip"]]
            if (sub >= 0).any():
                rows["subnet"] = ip_rows[sub >= 0]
                key["subnet"] = sub[sub >= 0]
                keys["subnet"] = pd.Index(subnets, name="key")
        return cls(account, n, n_codes, kind_code, kinds, rows, key, keys, subnet_of_ip)

    def kind_rows(self, *kinds: str) -> np.ndarray:
        """Link rows of these kinds."""
        wanted = np.flatnonzero(np.isin(self.kinds, kinds))
        return np.flatnonzero(np.isin(self.kind, wanted))

    def distinct_per_account(self, node_type: str) -> np.ndarray:
        """Distinct identifiers of ``node_type`` per account (in accounts order)."""
        if node_type not in self.rows:
            return np.zeros(self.n_accounts)
        account = self.account[self.rows[node_type]]
        pairs = pd.unique(account * len(self.keys[node_type]) + self.key[node_type])
        owner = pairs // len(self.keys[node_type])
        return np.bincount(owner[owner < self.n_accounts], minlength=self.n_accounts).astype(float)


def account_features(snapshot: Snapshot, codes: LinkCodes | None = None) -> pd.DataFrame:
    """One row per account (index ``account_id``, in snapshot order), columns as in
    :data:`ACCOUNT_FEATURES`; see the module docstring for an example. ``codes`` is
    :meth:`LinkCodes.of` of ``snapshot`` when the caller has it already."""
    codes = codes or LinkCodes.of(snapshot)
    accounts, links = snapshot.accounts, snapshot.links
    n = codes.n_accounts
    created = pd.to_datetime(accounts["created_at"], utc=True)
    columns: dict[str, np.ndarray] = {}
    columns["account_age_days"] = _days(as_of(snapshot) - created)
    columns["signup_hour"] = created.dt.hour.to_numpy(dtype=float)
    domain = accounts["email_domain"] if "email_domain" in accounts else pd.Series([None] * n)
    domain_code, domains = pd.factorize(domain.to_numpy(dtype=object))  # a few thousand
    klass = email_domain_class(pd.Series(domains, dtype=object)).to_numpy()
    klass = np.append(klass, "missing")[domain_code]  # code -1 (None, NaN) is missing
    for name in ("missing", "freemail", "disposable", "other"):
        columns[f"email_{name}"] = (klass == name).astype(float)
    phone = accounts["phone"] if "phone" in accounts else pd.Series([None] * n)
    columns["phone_missing"] = phone.isna().to_numpy(dtype=float)

    def per_account(rows: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        account = codes.account[rows]
        known = account < n
        w = None if weights is None else weights[known]
        return np.bincount(account[known], w, minlength=n).astype(float)

    pay = codes.kind_rows("payment_method")
    sums = {o: per_account(pay, _values(links, o, pay)) for o in (*_PAYMENT_OUTCOMES, "amount")}
    n_payments = sums["succeeded"] + sums["declined"] + sums["refunded"] + sums["disputed"]
    columns["n_payments"] = n_payments
    columns["decline_rate"] = _rate_of(sums["declined"], n_payments)
    columns["dispute_rate"] = _rate_of(sums["disputed"], n_payments)
    columns["refund_rate"] = _rate_of(sums["refunded"], n_payments)
    columns["amount_total"] = sums["amount"]
    columns["n_payment_methods"] = codes.distinct_per_account("payment_method")
    columns["n_creators"] = codes.distinct_per_account("creator")
    logins = _values(links, "logins")
    by_ip, by_device = codes.kind_rows("ip"), codes.kind_rows("device")
    columns["n_logins"] = np.maximum(
        per_account(by_ip, logins[by_ip]), per_account(by_device, logins[by_device])
    )
    columns["n_devices"] = codes.distinct_per_account("device")
    columns["n_ips"] = codes.distinct_per_account("ip")
    columns["n_subnets"] = codes.distinct_per_account("subnet")
    columns["n_user_agents"] = codes.distinct_per_account("user_agent")

    win = snapshot.windows
    rows = np.flatnonzero((win["client_kind"] == "account").to_numpy(dtype=bool))
    ids = pd.Index(accounts["account_id"].to_numpy(dtype=object), dtype=object)
    client = ids.get_indexer(win["client_id"].to_numpy(dtype=object)[rows])
    rows, client = rows[client >= 0], client[client >= 0]
    requests = _values(win, "n_requests", rows)
    columns["n_requests"] = np.bincount(client, requests, minlength=n)
    columns["n_request_windows"] = np.bincount(client, minlength=n).astype(float)
    for name, column in (
        ("max_paths_per_window", "n_paths"),
        ("max_creators_per_window", "n_creators"),
    ):
        most = np.zeros(n)
        np.maximum.at(most, client, _values(win, column, rows))
        columns[name] = most
    out = pd.DataFrame(columns, index=pd.Index(ids, name="account_id"))
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


def identifier_features(
    snapshot: Snapshot, codes: LinkCodes | None = None
) -> dict[str, pd.DataFrame]:
    """Per identifier node type, one row per identifier (index ``key``, sorted), columns as
    in :data:`IDENTIFIER_FEATURES`; see the module docstring for an example. ``codes`` is
    :meth:`LinkCodes.of` of ``snapshot`` when the caller has it already."""
    codes = codes or LinkCodes.of(snapshot)
    links = snapshot.links
    created = pd.to_datetime(snapshot.accounts["created_at"], utc=True)
    created_h = (created - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy() / 3600.0
    # accounts not in snapshot.accounts have no sign-up time
    created_h = np.concatenate([created_h, np.full(codes.n_codes - codes.n_accounts, np.nan)])
    now = as_of(snapshot).value
    logged_out = _logged_out_requests(snapshot)
    out: dict[str, pd.DataFrame] = {}
    for node_type in sorted(codes.rows):
        rows, key, keys = codes.rows[node_type], codes.key[node_type], codes.keys[node_type]
        k = len(keys)

        def total(values: np.ndarray, key: np.ndarray = key, k: int = k) -> np.ndarray:
            return np.bincount(key, values, minlength=k)

        cols: dict[str, np.ndarray] = {}
        pairs = pd.unique(key * codes.n_codes + codes.account[rows])  # hashing: no sort
        pair_key, pair_account = pairs // codes.n_codes, pairs % codes.n_codes
        cols["n_accounts"] = np.bincount(pair_key, minlength=k).astype(float)
        cols["n_uses"] = total(_values(links, "count", rows))
        first = np.full(k, np.inf)
        np.fmin.at(first, key, _ns(links, "first_seen", rows))
        last = np.full(k, -np.inf)
        np.fmax.at(last, key, _ns(links, "last_seen", rows))
        first[np.isinf(first)], last[np.isinf(last)] = np.nan, np.nan
        cols["age_days"] = (now - first) / 1e9 / _SECONDS_PER_DAY
        cols["span_days"] = (last - first) / 1e9 / _SECONDS_PER_DAY
        # standard deviation of the linked accounts' sign-up hours (two passes: exact)
        hours = created_h[pair_account]
        known = ~np.isnan(hours)
        n_known = np.bincount(pair_key[known], minlength=k)
        mean = np.bincount(pair_key[known], hours[known], minlength=k) / np.maximum(n_known, 1)
        square = (hours[known] - mean[pair_key[known]]) ** 2
        spread = np.sqrt(np.bincount(pair_key[known], square, minlength=k) / np.maximum(n_known, 1))
        cols["signup_spread_hours"] = np.where(n_known > 0, spread, 0.0)
        declined, disputed = _values(links, "declined", rows), _values(links, "disputed", rows)
        payments = total(sum(_values(links, o, rows) for o in _PAYMENT_OUTCOMES))
        cols["decline_rate"] = _rate_of(total(declined), payments)
        cols["dispute_rate"] = _rate_of(total(disputed), payments)
        requests = logged_out.get(node_type, pd.Series(dtype=float))
        at = keys.get_indexer(requests.index.to_numpy(dtype=object))
        cols["logged_out_requests"] = np.bincount(
            at[at >= 0], requests.to_numpy(dtype=float)[at >= 0], minlength=k
        )
        frame = pd.DataFrame(cols, index=keys)
        out[node_type] = frame[[f.name for f in IDENTIFIER_FEATURES]].fillna(0.0).astype(float)
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
