"""Detection write-back: rings, memberships, account risk and detect-run records in Neo4j.

Functions take a ``Driver`` and a database name and never create a driver. Queries are
module constants built from :mod:`graphs.model` names; data goes in only as
``$parameters``, in batched ``UNWIND`` writes after the uniqueness constraints exist
(:func:`ingest.writer.ensure_schema`).

The graph it writes (``output-format.md``)::

    (:Ring {ring_id, kind, score, status, reasons, detected_at, last_detected_at,
            first_seen, last_seen})
    (:Account)-[:MEMBER_OF]->(:Ring)      members of every ring
    (:IP)-[:MEMBER_OF]->(:Ring)           clients of a scraping cluster without accounts
    (:Account {risk_score, reasons})      reasons only on flagged accounts
    (:DetectRun {run_id, started_at, finished_at, duration_s, dataset, status, report})

Idempotence: ``detected_at`` is set when a ring is created and ``status`` only then
(``open``), so an investigator's status survives; ``last_detected_at`` is the data time
of the detection (the newest event in the graph), so detecting again on an unchanged
graph writes the same values; risk scores and account reasons are written only where
they changed, and an account no longer flagged loses its reasons. Nothing here touches
an investigator's decisions (``CaseDecision`` nodes, or a ring's ``assignee``, ``note``,
``status_by``, ``status_at``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence

import pandas as pd

from graphs.model import Label, Prop, Rel

__all__ = [
    "finish_detect_run",
    "read_rings",
    "start_detect_run",
    "write_detections",
]

P = Prop
A, IP, RING, RUN = Label.ACCOUNT, Label.IP, Label.RING, Label.DETECT_RUN
MEMBER_OF = Rel.MEMBER_OF

READ_RINGS = f"""
MATCH (r:{RING})
OPTIONAL MATCH (m)-[:{MEMBER_OF}]->(r)
WITH r, collect(m.{P.ACCOUNT_ID}) AS accounts, collect(m.{P.IP}) AS ips
RETURN r.{P.RING_ID} AS ring_id, r.{P.KIND} AS kind, r.{P.STATUS} AS status,
       r.{P.SCORE} AS score, accounts, ips
"""

WRITE_RINGS = f"""
UNWIND $rows AS row
MERGE (r:{RING} {{{P.RING_ID}: row.ring_id}})
ON CREATE SET r.{P.STATUS} = 'open', r.{P.DETECTED_AT} = datetime(row.detected_at)
SET r.{P.KIND} = row.kind,
    r.{P.SCORE} = row.score,
    r.{P.REASONS} = row.reasons,
    r.{P.LAST_DETECTED_AT} = datetime(row.detected_at),
    r.{P.FIRST_SEEN} = datetime(row.first_seen),
    r.{P.LAST_SEEN} = datetime(row.last_seen)
"""

#: Members that left a ring (the ring was found again without them).
DROP_MEMBERS = f"""
UNWIND $rows AS row
MATCH (r:{RING} {{{P.RING_ID}: row.ring_id}})<-[m:{MEMBER_OF}]-(x)
WHERE NOT coalesce(x.{P.ACCOUNT_ID}, x.{P.IP}) IN row.members
DELETE m
"""

ACCOUNT_MEMBERS = f"""
UNWIND $rows AS row
MATCH (r:{RING} {{{P.RING_ID}: row.ring_id}})
MATCH (a:{A} {{{P.ACCOUNT_ID}: row.member}})
MERGE (a)-[:{MEMBER_OF}]->(r)
"""

IP_MEMBERS = f"""
UNWIND $rows AS row
MATCH (r:{RING} {{{P.RING_ID}: row.ring_id}})
MATCH (i:{IP} {{{P.IP}: row.member}})
MERGE (i)-[:{MEMBER_OF}]->(r)
"""

#: The stored risk scores, read as lists by id range (ingest.snapshot_io.read_columns):
#: as one record per account, the 1M graph's scores took 76-78 s to read, as lists 3.1-3.6 s.
READ_RISK = (
    f"MATCH (a:{A}) WHERE a.{P.RISK_SCORE} IS NOT NULL",
    ((f"a.{P.ACCOUNT_ID}", "account_id"), (f"a.{P.RISK_SCORE}", "risk_score")),
    "id(a)",
)

WRITE_RISK = f"""
UNWIND $rows AS row
MATCH (a:{A} {{{P.ACCOUNT_ID}: row.account_id}})
SET a.{P.RISK_SCORE} = row.risk_score
"""

READ_REASONS = f"""
MATCH (a:{A}) WHERE a.{P.REASONS} IS NOT NULL
RETURN a.{P.ACCOUNT_ID} AS account_id, a.{P.REASONS} AS reasons
"""

#: ``row.reasons`` null removes the property (an account no longer flagged).
WRITE_REASONS = f"""
UNWIND $rows AS row
MATCH (a:{A} {{{P.ACCOUNT_ID}: row.account_id}})
SET a.{P.REASONS} = row.reasons
"""

START_RUN = f"""
MERGE (r:{RUN} {{{P.RUN_ID}: $run_id}})
SET r.{P.STARTED_AT} = datetime(), r.{P.STATUS} = 'running', r.{P.DATASET} = $dataset
"""

FINISH_RUN = f"""
MATCH (r:{RUN} {{{P.RUN_ID}: $run_id}})
SET r.{P.FINISHED_AT} = datetime(), r.{P.STATUS} = $status,
    r.{P.DURATION_S} = $duration_s, r.{P.REPORT} = $report
"""


def _batches(rows: Sequence[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


def read_rings(driver, database: str) -> pd.DataFrame:
    """Every ring in the graph with its members: ``ring_id, kind, status, score,
    accounts, ips`` (lists), for :func:`graphs.detection.assign_ring_ids`."""
    records, _, _ = driver.execute_query(READ_RINGS, database_=database, routing_="r")
    rows = [record.data() for record in records]
    return pd.DataFrame(rows, columns=["ring_id", "kind", "status", "score", "accounts", "ips"])


def _iso(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert("UTC").isoformat()


def write_detections(
    driver,
    database: str,
    rings: pd.DataFrame,
    accounts: pd.DataFrame,
    *,
    detected_at: pd.Timestamp,
    reasons: Mapping[str, Sequence[str]] | None = None,
    batch_size: int = 10_000,
) -> dict[str, int]:
    """Write the rings (with ids), their members, every account's risk score and, when
    given, the flagged accounts' ``reasons`` (:func:`graphs.account_reasons.account_reasons`;
    accounts left out lose theirs); return counts of what was written.

    ``rings`` has ``ring_id, kind, score, reasons, accounts, ips, first_seen,
    last_seen``; ``accounts`` has ``account_id, risk_score``.
    """
    ring_rows, member_rows, ip_rows, membership = [], [], [], []
    for ring in rings.itertuples(index=False):
        ring_rows.append(
            {
                "ring_id": ring.ring_id,
                "kind": ring.kind,
                "score": float(ring.score),
                "reasons": list(ring.reasons),
                "detected_at": _iso(detected_at),
                "first_seen": _iso(ring.first_seen),
                "last_seen": _iso(ring.last_seen),
            }
        )
        members = list(ring.accounts) if len(ring.accounts) else list(ring.ips)
        membership.append({"ring_id": ring.ring_id, "members": members})
        target = member_rows if len(ring.accounts) else ip_rows
        target.extend({"ring_id": ring.ring_id, "member": m} for m in members)
    for query, rows in (
        (WRITE_RINGS, ring_rows),
        (DROP_MEMBERS, membership),
        (ACCOUNT_MEMBERS, member_rows),
        (IP_MEMBERS, ip_rows),
    ):
        for batch in _batches(rows, batch_size):
            driver.execute_query(query, rows=batch, database_=database)
    changed = _changed_risk(driver, database, accounts)
    for batch in _batches(changed, batch_size):
        driver.execute_query(WRITE_RISK, rows=batch, database_=database)
    counts = {
        "rings": len(ring_rows),
        "account_memberships": len(member_rows),
        "ip_memberships": len(ip_rows),
        "risk_scores_written": len(changed),
    }
    if reasons is not None:
        reason_rows = _changed_reasons(driver, database, reasons)
        for batch in _batches(reason_rows, batch_size):
            driver.execute_query(WRITE_REASONS, rows=batch, database_=database)
        cleared = sum(row["reasons"] is None for row in reason_rows)
        counts["reasons_written"] = len(reason_rows) - cleared
        counts["reasons_cleared"] = cleared
    return counts


def _changed_risk(driver, database: str, accounts: pd.DataFrame) -> list[dict]:
    from ingest.snapshot_io import read_columns

    stored = read_columns(driver, database, *READ_RISK)
    current = pd.Series(stored["risk_score"], index=stored["account_id"], dtype=float)
    new = accounts.set_index("account_id")["risk_score"].astype(float).round(4)
    old = current.reindex(new.index)
    changed = new[old.isna() | (old.sub(new).abs() > 1e-9)]
    return [
        {"account_id": account_id, "risk_score": float(risk)}
        for account_id, risk in changed.items()
    ]


def _changed_reasons(driver, database: str, reasons: Mapping[str, Sequence[str]]) -> list[dict]:
    """Rows for WRITE_REASONS: new or changed reasons, and None for accounts whose
    stored reasons are no longer given (no longer flagged)."""
    records, _, _ = driver.execute_query(READ_REASONS, database_=database, routing_="r")
    current = {r["account_id"]: list(r["reasons"]) for r in records}
    rows = [
        {"account_id": account_id, "reasons": list(lines)}
        for account_id, lines in reasons.items()
        if current.get(account_id) != list(lines)
    ]
    rows += [
        {"account_id": account_id, "reasons": None}
        for account_id in current
        if account_id not in reasons
    ]
    return rows


def start_detect_run(driver, database: str, run_id: str, dataset: str) -> None:
    """Create the ``(:DetectRun)`` record as ``running``."""
    driver.execute_query(START_RUN, run_id=run_id, dataset=dataset, database_=database)


def finish_detect_run(
    driver, database: str, run_id: str, *, status: str, duration_s: float, report: dict
) -> None:
    """Close the run record with its status (completed / failed) and report JSON."""
    driver.execute_query(
        FINISH_RUN,
        run_id=run_id,
        status=status,
        duration_s=float(duration_s),
        report=json.dumps(report, default=str),
        database_=database,
    )
