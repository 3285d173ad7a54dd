"""Reading the whole account–identifier graph out of Neo4j into a :class:`Snapshot`.

One streaming read query per table (and per relationship type for links), each returning
plain values (times as epoch milliseconds, so no driver temporal objects are built),
collected column-wise straight into pandas. No query runs per node.
"""

from __future__ import annotations

import pandas as pd

from graphs.model import USAGE_RELS, Label, Prop, Rel
from graphs.snapshot import ACCOUNT_COLUMNS, Snapshot
from ingest.prepare import EDGE_COUNTERS, LINK_KIND, links_frame, windows_frame

__all__ = ["read_snapshot"]

P = Prop
A = Label.ACCOUNT

ACCOUNTS = f"""
MATCH (a:{A})
RETURN a.{P.ACCOUNT_ID} AS account_id, a.{P.CREATED_AT}.epochMillis AS created_at,
       a.{P.COUNTRY} AS country, a.{P.STATUS} AS status, a.{P.ACCOUNT_EMAIL} AS email,
       a.{P.DOMAIN} AS email_domain, a.{P.ACCOUNT_PHONE} AS phone, a.{P.LABEL} AS label,
       a.{P.LABEL_SOURCE} AS label_source
"""


def _links_query(rel: Rel) -> str:
    label, key = USAGE_RELS[rel]
    counters = ", ".join(f"r.{c} AS {c}" for c in EDGE_COUNTERS[rel])
    return f"""
MATCH (a:{A})-[r:{rel}]->(x:{label})
RETURN a.{P.ACCOUNT_ID} AS account_id, x.{key} AS key,
       r.{P.FIRST_SEEN}.epochMillis AS first_seen, r.{P.LAST_SEEN}.epochMillis AS last_seen,
       {counters}
"""


LINKS = {rel: _links_query(rel) for rel in LINK_KIND}
IP_SUBNETS = f"""
MATCH (i:{Label.IP})-[:{Rel.IN_SUBNET}]->(s:{Label.SUBNET})
RETURN i.{P.IP} AS ip, s.{P.SUBNET} AS subnet
"""
_WINDOW_LISTS = (
    f"w.{P.WIN_UA} AS user_agent, w.{P.WIN_START} AS window_start, w.{P.WIN_S} AS window_s, "
    f"w.{P.WIN_REQUESTS} AS n_requests, w.{P.WIN_PATHS} AS n_paths, "
    f"w.{P.WIN_CREATORS} AS n_creators"
)
ACCOUNT_WINDOWS = f"""
MATCH (a:{A})-[w:{Rel.USED_IP}]->(i:{Label.IP}) WHERE w.{P.WIN_START} IS NOT NULL
RETURN 'account' AS client_kind, a.{P.ACCOUNT_ID} AS client_id, i.{P.IP} AS ip, {_WINDOW_LISTS}
"""
IP_WINDOWS = f"""
MATCH (w:{Label.IP}) WHERE w.{P.WIN_START} IS NOT NULL
RETURN 'ip' AS client_kind, w.{P.IP} AS client_id, w.{P.IP} AS ip, {_WINDOW_LISTS}
"""


def _frame(driver, database: str, query: str) -> pd.DataFrame:
    """Stream ``query``'s records into a DataFrame, column by column."""

    def collect(result) -> pd.DataFrame:
        keys = result.keys()
        return pd.DataFrame(result.values(), columns=keys)

    return driver.execute_query(
        query, database_=database, routing_="r", result_transformer_=collect
    )


def _times(ms: pd.Series) -> pd.Series:
    return pd.to_datetime(ms.astype("float64"), unit="ms", utc=True).astype("datetime64[ns, UTC]")


def read_snapshot(driver, database: str) -> Snapshot:
    """The :class:`Snapshot` of the graph in ``database`` (see graphs/snapshot.py)."""
    accounts = _frame(driver, database, ACCOUNTS)
    accounts["created_at"] = _times(accounts["created_at"])
    accounts = accounts.reindex(columns=list(ACCOUNT_COLUMNS))
    for column in ACCOUNT_COLUMNS:
        if column != "created_at":
            accounts[column] = accounts[column].astype(object)
            accounts[column] = accounts[column].where(accounts[column].notna(), None)

    parts = []
    for rel, kind in LINK_KIND.items():
        frame = _frame(driver, database, LINKS[rel])
        if not frame.empty:
            frame["kind"] = kind
            frame["first_seen"] = _times(frame["first_seen"])
            frame["last_seen"] = _times(frame["last_seen"])
            parts.append(frame)
    links = links_frame(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame())

    subnets = _frame(driver, database, IP_SUBNETS)
    subnets = subnets.reindex(columns=["ip", "subnet"]).astype(object)

    windows = pd.concat(
        [_frame(driver, database, ACCOUNT_WINDOWS), _frame(driver, database, IP_WINDOWS)],
        ignore_index=True,
    )
    list_columns = ["user_agent", "window_start", "window_s", "n_requests", "n_paths", "n_creators"]
    if windows.empty:
        windows = pd.DataFrame(columns=["client_kind", "client_id", "ip", *list_columns])
    else:
        windows = windows.explode(list_columns, ignore_index=True)
    windows["window_start"] = pd.to_datetime(
        windows["window_start"].astype("int64"), unit="s", utc=True
    )
    return Snapshot(
        accounts=accounts.reset_index(drop=True),
        links=links,
        ip_subnets=subnets.reset_index(drop=True),
        windows=windows_frame(windows),
    )
