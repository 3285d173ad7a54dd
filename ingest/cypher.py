"""The Cypher that ingest runs, as module constants built from :mod:`graphs.model` names.

Names are formatted in once, at import; data only ever travels in ``$parameters``
(``$rows`` for batched ``UNWIND`` writes, ``$run`` for the content hash of the file being
written). Times travel as epoch milliseconds and become UTC ``DateTime`` values here.
"""

from __future__ import annotations

from graphs.model import IDENTIFIER_KEYS, USAGE_RELS, Label, Prop, Rel
from ingest.prepare import EDGE_COUNTERS

__all__ = [
    "ACCOUNT_NODES",
    "EDGE_CREATES",
    "EDGE_WRITES",
    "EXISTING_ACCOUNTS",
    "INDEXES",
    "IP_NODES",
    "IP_WINDOWS",
    "KEY_NODES",
    "LABELS",
    "NEW_ACCOUNT_NODES",
    "PAYMENT_METHOD_NODES",
    "SCHEMA",
    "USED_IP_WINDOWS",
    "edge_create",
    "edge_write",
]

P = Prop
A, IP = Label.ACCOUNT, Label.IP

#: One uniqueness constraint per keyed label (also the index every MERGE uses).
CONSTRAINTS = [
    f"CREATE CONSTRAINT {label.lower()}_key IF NOT EXISTS FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"
    for label, key in IDENTIFIER_KEYS.items()
]
#: Indexes that detection, the analyst queries and the dashboard read through.
INDEXES = [
    f"CREATE INDEX account_created_at IF NOT EXISTS FOR (n:{A}) ON (n.{P.CREATED_AT})",
    f"CREATE INDEX account_status IF NOT EXISTS FOR (n:{A}) ON (n.{P.STATUS})",
    f"CREATE INDEX account_label IF NOT EXISTS FOR (n:{A}) ON (n.{P.LABEL})",
    f"CREATE INDEX account_risk IF NOT EXISTS FOR (n:{A}) ON (n.{P.RISK_SCORE})",
    f"CREATE INDEX account_email IF NOT EXISTS FOR (n:{A}) ON (n.{P.ACCOUNT_EMAIL})",
    f"CREATE INDEX ring_status IF NOT EXISTS FOR (n:{Label.RING}) ON (n.{P.STATUS})",
    f"CREATE INDEX ingest_run_started IF NOT EXISTS FOR (n:{Label.INGEST_RUN}) "
    f"ON (n.{P.STARTED_AT})",
    f"CREATE INDEX card_bin IF NOT EXISTS FOR (n:{Label.PAYMENT_METHOD}) ON (n.{P.CARD_BIN})",
] + [
    f"CREATE INDEX {rel.lower()}_last_seen IF NOT EXISTS FOR ()-[r:{rel}]-() ON (r.{P.LAST_SEEN})"
    for rel in (Rel.USED_DEVICE, Rel.USED_IP, Rel.PAID_WITH)
]
SCHEMA = CONSTRAINTS + INDEXES
AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"

EXISTING_ACCOUNTS = (
    f"UNWIND $ids AS id MATCH (a:{A} {{{P.ACCOUNT_ID}: id}}) RETURN a.{P.ACCOUNT_ID} AS id"
)


def _earliest(target: str, value: str) -> str:
    return f"CASE WHEN {target} IS NULL OR {value} < {target} THEN {value} ELSE {target} END"


def _latest(target: str, value: str) -> str:
    return f"CASE WHEN {target} IS NULL OR {value} > {target} THEN {value} ELSE {target} END"


ACCOUNT_NODES = f"""
UNWIND $rows AS row
MERGE (a:{A} {{{P.ACCOUNT_ID}: row.account_id}})
WITH a, row, datetime({{epochMillis: row.created_at}}) AS created
SET a.{P.CREATED_AT} = {_earliest(f"a.{P.CREATED_AT}", "created")},
    a.{P.COUNTRY} = row.country,
    a.{P.STATUS} = row.status,
    a.{P.ACCOUNT_EMAIL} = row.email,
    a.{P.DOMAIN} = row.domain,
    a.{P.ACCOUNT_PHONE} = row.phone
"""

#: Accounts that did not exist when the run began (see ``writer.FreshAccounts``).
NEW_ACCOUNT_NODES = f"""
UNWIND $rows AS row
CREATE (a:{A} {{{P.ACCOUNT_ID}: row.account_id,
        {P.CREATED_AT}: datetime({{epochMillis: row.created_at}}),
        {P.COUNTRY}: row.country, {P.STATUS}: row.status, {P.ACCOUNT_EMAIL}: row.email,
        {P.DOMAIN}: row.domain, {P.ACCOUNT_PHONE}: row.phone}})
"""

IP_NODES = f"""
UNWIND $rows AS row
MERGE (i:{IP} {{{P.IP}: row.ip}})
ON CREATE SET i.{P.IS_V6} = row.is_v6
MERGE (s:{Label.SUBNET} {{{P.SUBNET}: row.subnet}})
MERGE (i)-[:{Rel.IN_SUBNET}]->(s)
"""

#: MERGE of identifier nodes that carry only their key, by label.
KEY_NODES = {
    label: f"UNWIND $rows AS row MERGE (:{label} {{{IDENTIFIER_KEYS[label]}: row.key}})"
    for label in (Label.DEVICE, Label.PHONE, Label.CREATOR, Label.USER_AGENT)
}
KEY_NODES[Label.EMAIL] = (
    f"UNWIND $rows AS row MERGE (e:{Label.EMAIL} {{{P.EMAIL}: row.key}}) "
    f"SET e.{P.DOMAIN} = row.domain"
)
PAYMENT_METHOD_NODES = f"""
UNWIND $rows AS row
MERGE (m:{Label.PAYMENT_METHOD} {{{P.PAYMENT_METHOD_ID}: row.payment_method_id}})
SET m.{P.CARD_BIN} = coalesce(row.card_bin, m.{P.CARD_BIN}),
    m.{P.CARD_COUNTRY} = coalesce(row.card_country, m.{P.CARD_COUNTRY})
"""

_MAX_COUNTERS = {"max_paths", "max_creators"}


def edge_write(rel: Rel, counters: tuple[str, ...]) -> str:
    """The batched upsert of one relationship type.

    An edge whose ``last_run`` is already ``$run`` got this file's contribution in an
    earlier, interrupted run and is left alone; otherwise the contribution is added
    (counts summed, first_seen the minimum, last_seen the maximum) and ``last_run`` set,
    in the same transaction.
    """
    if rel == Rel.SENT_UA:
        source = f"(a:{IP} {{{P.IP}: row.ip}})"
        label, key = Label.USER_AGENT, P.USER_AGENT
    else:
        source = f"(a:{A} {{{P.ACCOUNT_ID}: row.account_id}})"
        label, key = USAGE_RELS[rel]
    sets = [
        f"r.{P.FIRST_SEEN} = {_earliest(f'r.{P.FIRST_SEEN}', 'fs')}",
        f"r.{P.LAST_SEEN} = {_latest(f'r.{P.LAST_SEEN}', 'ls')}",
    ]
    for counter in counters:
        if counter in _MAX_COUNTERS:
            sets.append(f"r.{counter} = {_latest(f'r.{counter}', f'row.{counter}')}")
        else:
            sets.append(f"r.{counter} = coalesce(r.{counter}, 0) + row.{counter}")
    if rel == Rel.HAS_EMAIL:
        sets.append(f"r.{P.RAW} = row.raw")
    sets.append(f"r.{P.LAST_RUN} = $run")
    return f"""
UNWIND $rows AS row
MATCH {source}
MATCH (x:{label} {{{key}: row.key}})
MERGE (a)-[r:{rel}]->(x)
WITH r, row WHERE r.{P.LAST_RUN} IS NULL OR r.{P.LAST_RUN} <> $run
WITH r, row, datetime({{epochMillis: row.first_seen}}) AS fs,
     datetime({{epochMillis: row.last_seen}}) AS ls
SET {", ".join(sets)}
"""


def edge_create(rel: Rel, counters: tuple[str, ...]) -> str:
    """The batched insert of edges known not to exist (from an account created in this
    run, of a type no earlier file of the run wrote for it): what :func:`edge_write`
    leaves on a new edge, without MERGE's check and locks."""
    label, key = USAGE_RELS[rel]
    props = [
        f"{P.FIRST_SEEN}: datetime({{epochMillis: row.first_seen}})",
        f"{P.LAST_SEEN}: datetime({{epochMillis: row.last_seen}})",
        *(f"{counter}: row.{counter}" for counter in counters),
    ]
    if rel == Rel.HAS_EMAIL:
        props.append(f"{P.RAW}: row.raw")
    props.append(f"{P.LAST_RUN}: $run")
    return f"""
UNWIND $rows AS row
MATCH (a:{A} {{{P.ACCOUNT_ID}: row.account_id}})
MATCH (x:{label} {{{key}: row.key}})
CREATE (a)-[:{rel} {{{", ".join(props)}}}]->(x)
"""


def _window_merge(target: str) -> str:
    """Replace ``target``'s windows that share a (start, user agent) key with the new
    ones and append the rest: re-writing the same windows changes nothing."""
    w = {
        "start": P.WIN_START,
        "s": P.WIN_S,
        "req": P.WIN_REQUESTS,
        "paths": P.WIN_PATHS,
        "cre": P.WIN_CREATORS,
        "ua": P.WIN_UA,
    }
    keep = (
        f"[i IN range(0, size(os) - 1) WHERE os[i] < row.min_start "
        f"OR NOT (toString(os[i]) + '|' + {target}.{w['ua']}[i]) IN row.wkeys]"
    )
    sets = ", ".join(
        f"{target}.{prop} = [i IN keep | {target}.{prop}[i]] + row.{name}"
        for name, prop in w.items()
    )
    return f"""
WITH {target}, row, coalesce({target}.{w["start"]}, []) AS os
WITH {target}, row, {keep} AS keep
SET {sets}
"""


USED_IP_WINDOWS = f"""
UNWIND $rows AS row
MATCH (:{A} {{{P.ACCOUNT_ID}: row.account_id}})-[r:{Rel.USED_IP}]->(:{IP} {{{P.IP}: row.ip}})
""" + _window_merge("r")
IP_WINDOWS = f"""
UNWIND $rows AS row
MATCH (n:{IP} {{{P.IP}: row.ip}})
""" + _window_merge("n")

_OLDEST = "-9223372036854775807"
LABELS = f"""
UNWIND $rows AS row
MATCH (a:{A} {{{P.ACCOUNT_ID}: row.account_id}})
WITH a, row, coalesce(row.label_ts, {_OLDEST}) AS new_ts,
     coalesce(a.{P.LABEL_TS}.epochMillis, {_OLDEST}) AS old_ts
WHERE a.{P.LABEL} IS NULL OR new_ts > old_ts
   OR (new_ts = old_ts AND (row.label = 'fraud' OR a.{P.LABEL} <> 'fraud'))
SET a.{P.LABEL} = row.label,
    a.{P.LABEL_SOURCE} = row.label_source,
    a.{P.LABEL_TS} = CASE WHEN row.label_ts IS NULL THEN null
                     ELSE datetime({{epochMillis: row.label_ts}}) END
"""

# ------------------------------------------------------------------ run records
RUN_START = f"""
CREATE (r:{Label.INGEST_RUN} {{{P.RUN_ID}: $run_id, {P.STARTED_AT}: datetime(),
        {P.DATASET}: $dataset, {P.STATUS}: 'running', {P.COMPLETED}: []}})
"""
RUN_FILE_DONE = f"""
MATCH (r:{Label.INGEST_RUN} {{{P.RUN_ID}: $run_id}})
SET r.{P.COMPLETED} = r.{P.COMPLETED} + $key
"""
RUN_FINISH = f"""
MATCH (r:{Label.INGEST_RUN} {{{P.RUN_ID}: $run_id}})
SET r.{P.FINISHED_AT} = datetime(), r.{P.STATUS} = $status, r.{P.DURATION_S} = $duration_s,
    r.{P.FILES} = $files, r.{P.TABLES} = $tables, r.{P.HASHES} = $hashes,
    r.{P.FILE_STATUS} = $file_status, r.{P.ROWS_READ} = $rows_read,
    r.{P.ROWS_LOADED} = $rows_loaded, r.{P.ROWS_QUARANTINED} = $rows_quarantined,
    r.{P.REPORT} = $report
"""
COMPLETED_FILES = f"""
MATCH (r:{Label.INGEST_RUN}) UNWIND r.{P.COMPLETED} AS key RETURN DISTINCT key
"""
NODE_COUNT = "MATCH (n) RETURN count(n) AS n"

#: The upsert of every relationship type that prepare produces.
EDGE_WRITES: dict[Rel, str] = {rel: edge_write(rel, c) for rel, c in EDGE_COUNTERS.items()}
#: The insert of new account edges, per relationship type (SENT_UA starts at an IP).
EDGE_CREATES: dict[Rel, str] = {
    rel: edge_create(rel, c) for rel, c in EDGE_COUNTERS.items() if rel != Rel.SENT_UA
}
