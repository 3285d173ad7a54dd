"""Scraping clusters: clients far above the population in request volume *and* breadth.

The request windows of a :class:`graphs.snapshot.Snapshot` are aggregated per client (an
account for logged-in traffic, an IP for logged-out traffic). A client is **heavy** when
both its request rate and its breadth (distinct paths and creators per window) stand far
above the population's on a robust log scale (median and MAD): superfans with heavy but
narrow traffic are not scrapers. Heavy clients are grouped when they share a subnet or a
user agent *and* run in lockstep (their active hours overlap); each group is a candidate
cluster, scored by a documented rule (:data:`SCRAPING_RULE`) and explained with reasons.

Search-engine crawlers that announce themselves and come from their operators'
published ranges (:data:`VERIFIED_CRAWLERS`) are not scrapers: real sites check
exactly this (a claimed Googlebot from elsewhere is a spoof).

Examples
--------
>>> import pandas as pd
>>> from graphs.snapshot import Snapshot
>>> detector = ScrapingDetector()
>>> empty = Snapshot(accounts=pd.DataFrame({"account_id": []}), links=pd.DataFrame())
>>> len(detector.fit(empty).clusters(empty))
0
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from graphs.components import connected_labels
from graphs.errors import NotFittedError
from graphs.snapshot import Snapshot, text_column

__all__ = ["SCRAPING_RULE", "VERIFIED_CRAWLERS", "ScrapingCluster", "ScrapingDetector"]

#: Published crawler ranges, with the token their user agent carries.
VERIFIED_CRAWLERS: Mapping[str, tuple[str, ...]] = {
    "Googlebot": ("66.249.64.0/19",),
    "bingbot": ("40.77.167.0/24", "157.55.39.0/24", "207.46.13.0/24"),
}

#: Logit weights of the cluster rule score (see :meth:`ScrapingDetector.score`).
SCRAPING_RULE: Mapping[str, float] = {
    "bias": -3.0,
    "per_client_excess": 0.8,  # per unit of the weaker of rate and breadth z above the floor
    "lockstep": 3.0,  # mean Jaccard of active hours between linked clients
    "same_subnet": 1.0,  # share of clients in the top subnet
    "many_clients": 1.0,  # 3 or more clients
}


@dataclass(frozen=True)
class ScrapingCluster:
    """One scored cluster of scraping clients."""

    accounts: list[str]
    ips: list[str]
    score: float
    reasons: list[str]
    first_seen: pd.Timestamp | None = None
    last_seen: pd.Timestamp | None = None
    user_agents: list[str] = field(default_factory=list)


def _subnet_of(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _verified(ips: pd.Series, agents: pd.Series) -> np.ndarray:
    out = np.zeros(len(ips), dtype=bool)
    for token, ranges in VERIFIED_CRAWLERS.items():
        claims = agents.fillna("").str.contains(token, regex=False).to_numpy()
        if not claims.any():
            continue
        networks = [ipaddress.ip_network(r) for r in ranges]
        for i in np.flatnonzero(claims):
            try:
                address = ipaddress.ip_address(ips.iloc[i])
            except ValueError:
                continue
            out[i] = any(address in net for net in networks)
    return out


def _robust_z(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    logs, ref = np.log1p(values), np.log1p(reference)
    median = np.median(ref)
    mad = np.median(np.abs(ref - median)) * 1.4826
    return (logs - median) / max(mad, 0.25)


class ScrapingDetector:
    """Heavy, broad clients grouped by subnet, user agent and lockstep timing.

    Parameters
    ----------
    z_floor : float
        A client is heavy when its request rate and its breadth both stand at least this
        many robust standard deviations (log scale) above the population median.
    lockstep_min : float
        Two heavy clients in the same subnet or with the same user agent join one cluster
        when the Jaccard overlap of their active hours reaches this.
    min_clients : int
        Smallest cluster reported.
    threshold : float
        Operating threshold on the cluster score.
    """

    def __init__(
        self,
        z_floor: float = 3.0,
        lockstep_min: float = 0.3,
        min_clients: int = 2,
        threshold: float = 0.5,
    ) -> None:
        self.z_floor = z_floor
        self.lockstep_min = lockstep_min
        self.min_clients = min_clients
        self.threshold = threshold

    # -------------------------------------------------------------------------- fit
    def fit(self, snapshot: Snapshot) -> ScrapingDetector:
        """Learn the population's medians and spreads of rate and breadth."""
        clients, client_of = self._client_table(snapshot.windows)
        self.reference_ = clients[["rate", "paths", "creators"]].copy()
        # scoring the windows it was fitted on (the usual case) reuses their table
        self._fitted = (snapshot.windows, clients, client_of)
        self.population_median_ = (
            clients[["rate", "paths", "creators"]].median() if len(clients) else None
        )
        return self

    @staticmethod
    def _client_table(windows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """One row per client, in order of first window; and each window's client row."""
        if windows is None or windows.empty:
            empty = pd.DataFrame(
                columns=["client_kind", "client_id", "rate", "paths", "creators", "windows",
                         "requests", "ip", "user_agent"]
            )  # fmt: skip
            return empty, np.zeros(0, dtype=np.int64)
        w = windows
        # clients numbered in order of first window, as a groupby on the strings would
        kind_code, _ = pd.factorize(w["client_kind"].to_numpy(dtype=object))
        id_code, ids = pd.factorize(w["client_id"].to_numpy(dtype=object))
        client_of, _ = pd.factorize(kind_code.astype(np.int64) * max(len(ids), 1) + id_code)
        first = np.full(client_of.max() + 1, len(w), dtype=np.int64)
        np.minimum.at(first, client_of, np.arange(len(w)))
        hours = w["window_s"].astype(float) / 3600.0
        frame = pd.DataFrame(
            {
                "client": client_of,
                "requests": w["n_requests"].astype(float).to_numpy(),
                "hours": hours.to_numpy(),
                "paths": pd.to_numeric(w["n_paths"], errors="coerce").fillna(1).to_numpy(),
                "creators": pd.to_numeric(w["n_creators"], errors="coerce").fillna(0).to_numpy(),
                # plain datetime64: numpy would box tz-aware times as objects
                "window_start": pd.to_datetime(w["window_start"], utc=True)
                .dt.tz_localize(None)
                .to_numpy(dtype="datetime64[ns]"),
            }
        )
        grouped = frame.groupby("client", sort=True)
        out = grouped.agg(
            requests=("requests", "sum"),
            hours=("hours", "sum"),
            paths=("paths", "median"),
            creators=("creators", "median"),
            windows=("window_start", "nunique"),
        ).reset_index(drop=True)
        for column in ("client_id", "client_kind"):  # object strings, as the windows hold them
            out.insert(0, column, text_column(w[column].to_numpy(dtype=object)[first]))
        out["rate"] = out["requests"] / out["hours"].clip(lower=1e-9)
        return out, client_of

    # ------------------------------------------------------------------------ score
    def clients(self, snapshot: Snapshot) -> pd.DataFrame:
        """Every client with its rate, breadth, robust z-scores and ``heavy`` flag."""
        if not hasattr(self, "reference_"):
            raise NotFittedError("ScrapingDetector is not fitted: call fit() first")
        clients, _ = self._client_rows(snapshot)
        clients = clients.copy()
        if clients.empty:
            clients["heavy"] = pd.Series(dtype=bool)
            return clients
        ref = self.reference_
        clients["rate_z"] = _robust_z(clients["rate"].to_numpy(), ref["rate"].to_numpy())
        breadth = np.minimum(
            _robust_z(clients["paths"].to_numpy(), ref["paths"].to_numpy()),
            _robust_z(clients["creators"].to_numpy(), ref["creators"].to_numpy()),
        )
        clients["breadth_z"] = breadth
        clients["excess"] = np.minimum(clients["rate_z"], clients["breadth_z"]) - self.z_floor
        clients["heavy"] = clients["excess"] >= 0
        return clients

    def _client_rows(self, snapshot: Snapshot) -> tuple[pd.DataFrame, np.ndarray]:
        windows, table, client_of = self._fitted
        if windows is snapshot.windows:
            return table, client_of
        return self._client_table(snapshot.windows)

    def clusters(self, snapshot: Snapshot) -> list[ScrapingCluster]:
        """Scored clusters of heavy clients, highest score first (all, not thresholded)."""
        clients = self.clients(snapshot)
        is_heavy = clients["heavy"].to_numpy(dtype=bool)
        heavy = clients.loc[is_heavy].reset_index(drop=True)
        if heavy.empty:
            return []
        _, client_of = self._client_rows(snapshot)
        rows = self._heavy_windows(snapshot.windows.loc[is_heavy[client_of]], snapshot.ip_subnets)
        heavy = self._drop_verified(heavy, rows)
        if heavy.empty:
            return []
        rows = rows.merge(heavy[["client_kind", "client_id"]], on=["client_kind", "client_id"])
        heavy["client"] = np.arange(len(heavy))
        rows = rows.merge(heavy[["client_kind", "client_id", "client"]])
        pairs, jaccard = self._lockstep_pairs(rows, len(heavy))
        labels = connected_labels(len(heavy), pairs[0], pairs[1])
        heavy["cluster"] = labels
        found = []
        for _, members in heavy.groupby("cluster"):
            if len(members) < self.min_clients:
                continue
            inside = np.isin(pairs[0], members["client"].to_numpy())
            found.append(self._cluster(members, rows, jaccard[inside]))
        return sorted(found, key=lambda c: -c.score)

    @staticmethod
    def _heavy_windows(windows: pd.DataFrame, subnets: pd.DataFrame) -> pd.DataFrame:
        """The heavy clients' windows with their subnet and hour."""
        rows = windows.reset_index(drop=True)
        known = subnets.drop_duplicates("ip").set_index("ip")["subnet"]
        rows["subnet"] = rows["ip"].map(known)
        missing = rows["subnet"].isna()
        rows.loc[missing, "subnet"] = rows.loc[missing, "ip"].map(_subnet_of)
        rows["hour"] = pd.to_datetime(rows["window_start"], utc=True).dt.floor("h")
        return rows

    @staticmethod
    def _drop_verified(heavy: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
        verified = rows.loc[_verified(rows["ip"], rows["user_agent"])]
        share = (
            verified.groupby(["client_kind", "client_id"]).size()
            / rows.groupby(["client_kind", "client_id"]).size()
        )
        keep = share.reindex(pd.MultiIndex.from_frame(heavy[["client_kind", "client_id"]]))
        return heavy.loc[~(keep.fillna(0).to_numpy() >= 0.5)].reset_index(drop=True)

    def _lockstep_pairs(
        self, rows: pd.DataFrame, n_clients: int
    ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """Client pairs sharing a subnet or a user agent whose active hours overlap,
        in ascending order of (src, dst)."""
        from scipy.sparse import csr_matrix

        hour_code, _ = pd.factorize(rows["hour"])
        active = csr_matrix(
            (np.ones(len(rows)), (rows["client"].to_numpy(), hour_code)),
            shape=(n_clients, hour_code.max() + 1),
        )
        active.data[:] = 1.0
        hours = np.asarray(active.sum(axis=1)).ravel()
        # a group's shared hours from one sparse product, kept only when in lockstep: a
        # common browser user agent groups a thousand heavy clients (millions of pairs
        # at 1M accounts), which as Python tuples took gigabytes
        found = [np.zeros(0, dtype=np.int64)]
        for column in ("subnet", "user_agent"):
            groups = rows.dropna(subset=[column]).groupby(column)["client"].unique()
            for members in groups:
                found.extend(self._lockstep_in_group(active, hours, np.sort(members)))
        key = np.unique(np.concatenate(found))
        src, dst = key // max(n_clients, 1), key % max(n_clients, 1)
        overlap = np.asarray(active[src].multiply(active[dst]).sum(axis=1)).ravel()
        jaccard = overlap / (hours[src] + hours[dst] - overlap)
        return (src, dst), jaccard

    def _lockstep_in_group(
        self, active, hours: np.ndarray, members: np.ndarray, block: int = 4_000_000
    ) -> Iterator[np.ndarray]:
        """Keys ``a * n + b`` (a < b) of the group's pairs in lockstep, a block of rows
        of the group's shared-hours matrix at a time."""
        m, n = len(members), active.shape[0]
        if m < 2:
            return
        sub = active[members]
        step = max(block // m, 1)
        for lo in range(0, m - 1, step):
            shared = (sub[lo : lo + step] @ sub.T).toarray()
            i, j = np.nonzero(np.triu(np.ones(shared.shape, dtype=bool), k=lo + 1))
            overlap = shared[i, j]
            a, b = members[lo + i], members[j]
            jaccard = overlap / (hours[a] + hours[b] - overlap)
            keep = jaccard >= self.lockstep_min
            yield a[keep].astype(np.int64) * n + b[keep]

    def _cluster(
        self, members: pd.DataFrame, rows: pd.DataFrame, jaccard: np.ndarray
    ) -> ScrapingCluster:
        rule = SCRAPING_RULE
        mine = rows.loc[rows["client"].isin(members["client"])]
        subnet_counts = mine.groupby("subnet")["client"].nunique().sort_values()
        top_subnet, in_top = subnet_counts.index[-1], int(subnet_counts.iloc[-1])
        lockstep = float(jaccard.mean()) if len(jaccard) else 0.0
        excess = float(members["excess"].clip(upper=3).mean())
        logit = (
            rule["bias"]
            + rule["per_client_excess"] * excess
            + rule["lockstep"] * lockstep
            + rule["same_subnet"] * in_top / len(members)
            + rule["many_clients"] * (len(members) >= 3)
        )
        score = float(1 / (1 + np.exp(-logit)))
        accounts = sorted(members.loc[members["client_kind"] == "account", "client_id"])
        ips = sorted(mine["ip"].unique())
        agents = mine["user_agent"].dropna().value_counts()
        n = len(members)
        kind_word = "accounts" if accounts and len(accounts) == n else "clients"
        reasons = [
            f"{n} {kind_word} from {len(ips)} IPs sent {int(mine['n_requests'].sum()):,} "
            f"requests at a median {members['rate'].median():,.0f} per hour "
            f"(population median {self.population_median_['rate']:,.0f})",
            f"median {members['paths'].median():.0f} distinct paths and "
            f"{members['creators'].median():.0f} creators per window "
            f"(population {self.population_median_['paths']:.0f} and "
            f"{self.population_median_['creators']:.0f})",
            f"{in_top} of {n} in {top_subnet}",
        ]
        if len(agents):
            reasons.append(
                f"{agents.iloc[0] / agents.sum():.0%} of their windows use one user agent: "
                f"{agents.index[0]}"
            )
        if lockstep:
            reasons.append(f"active hours overlap by {lockstep:.0%} on average (lockstep)")
        starts = pd.to_datetime(mine["window_start"], utc=True)
        return ScrapingCluster(
            accounts=accounts,
            ips=ips,
            score=score,
            reasons=reasons,
            first_seen=starts.min(),
            last_seen=starts.max(),
            user_agents=list(agents.index[:3]),
        )
