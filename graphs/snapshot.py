"""The in-memory snapshot of the account–identifier graph that detection works on.

A :class:`Snapshot` is a handful of pandas tables keyed by string ids. It is built by
reading Neo4j (``ingest.snapshot_io.read_snapshot``) or, in tests, by hand from tiny
tables. Integer indices are made only inside an algorithm, next to their id map.

Tables and columns (times are ``datetime64[ns, UTC]``):

``accounts``
    ``account_id`` (str), ``created_at``, ``country`` (str or None), ``status``,
    ``email`` (canonical, or None), ``email_domain`` (or None), ``phone`` (or None),
    ``label`` (``"fraud"``, ``"legit"`` or None: the latest label), ``label_source``.
``links``
    One row per account–identifier edge: ``account_id``, ``kind`` (one of
    :data:`LINK_KINDS`), ``key`` (the identifier's id as stored in the graph),
    ``count``, ``first_seen``, ``last_seen``; payment links also ``succeeded``,
    ``declined``, ``refunded``, ``disputed`` (ints) and ``amount`` (float); ip / device /
    user-agent links also ``logins`` (int, 0 where not applicable). The graph's usage
    relationships also hold ``requests``, ``max_paths`` and ``max_creators``: the
    snapshot leaves them out, since the request windows carry the same traffic per
    window and nothing here reads the per-edge totals (reading them was a quarter of the
    link values detect read from Neo4j).
``ip_subnets``
    ``ip``, ``subnet`` (IPv4 /24 or IPv6 /48 in CIDR form).
``windows``
    Request windows per client, for volume, breadth and lockstep timing:
    ``client_kind`` (``"account"`` or ``"ip"``: logged-out traffic is keyed by ip),
    ``client_id``, ``ip``, ``user_agent`` (or None), ``window_start``, ``window_s``,
    ``n_requests``, ``n_paths``, ``n_creators``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

__all__ = ["LINK_KINDS", "Snapshot", "text_column"]

#: Kinds of account–identifier link in ``Snapshot.links``. Names match the output
#: format's ``shared`` keys where they exist (device, payment_method, ip, email, phone).
LINK_KINDS = (
    "device",
    "signup_device",
    "ip",
    "signup_ip",
    "email",
    "phone",
    "payment_method",
    "user_agent",
    "creator",
)

ACCOUNT_COLUMNS = (
    "account_id",
    "created_at",
    "country",
    "status",
    "email",
    "email_domain",
    "phone",
    "label",
    "label_source",
)
LINK_COLUMNS = (
    "account_id",
    "kind",
    "key",
    "count",
    "first_seen",
    "last_seen",
    "succeeded",
    "declined",
    "refunded",
    "disputed",
    "amount",
    "logins",
)
WINDOW_COLUMNS = (
    "client_kind",
    "client_id",
    "ip",
    "user_agent",
    "window_start",
    "window_s",
    "n_requests",
    "n_paths",
    "n_creators",
)


@dataclass(frozen=True)
class Snapshot:
    """Tables of the account–identifier graph, see the module docstring."""

    accounts: pd.DataFrame
    links: pd.DataFrame
    ip_subnets: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["ip", "subnet"]))
    windows: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(WINDOW_COLUMNS))
    )

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)

    @cached_property
    def link_accounts(self) -> np.ndarray:
        """Position in ``accounts`` of each ``links`` row's account (-1: not in ``accounts``).

        Looked up once per snapshot: hashing millions of id strings is the expensive part
        of joining links to accounts, and several detection steps need this join.

        Examples
        --------
        >>> accounts = pd.DataFrame({"account_id": ["a", "b"]})
        >>> links = pd.DataFrame({"account_id": ["b", "x", "a"]})
        >>> Snapshot(accounts=accounts, links=links).link_accounts.tolist()
        [1, -1, 0]
        """
        if len(self.links) == 0:
            return np.zeros(0, dtype=np.int64)
        ids = pd.Index(self.accounts["account_id"].to_numpy(dtype=object), dtype=object)
        found = ids.get_indexer(self.links["account_id"].to_numpy(dtype=object))
        return found.astype(np.int64, copy=False)


def text_column(values: np.ndarray) -> pd.Series:
    """A column holding ``values``; an object array keeps its string objects.

    pandas 3 would copy an object array of strings into a new Arrow string column (and
    every later ``to_numpy`` would box each value again as a new Python string): for
    millions of rows of ids that is seconds and gigabytes. The array itself is not
    copied either: pass one that nothing else will change.

    Examples
    --------
    >>> ids = np.array(["a1", "b2"], dtype=object)
    >>> column = text_column(ids)
    >>> column.dtype, column.to_numpy()[0] is ids[0]
    (dtype('O'), True)
    """
    # copy=False: pandas 3 copies an array into a new Series by default, and these
    # columns are millions of rows of freshly made arrays
    return pd.Series(values, dtype=object if values.dtype == object else None, copy=False)
