"""The ringwatch graph model: the one place where labels, relationship types and
property names are spelled.

Python code and every Cypher query use these names (queries are built from them with
``str.format`` on module constants, never with user data: data goes in only through
``$parameters``).

The graph is an account–identifier graph::

    (:Account)-[:HAS_EMAIL]->(:Email)            canonical address; raw kept on the edge
    (:Account)-[:HAS_PHONE]->(:Phone)            E.164 (or digits when not normalisable)
    (:Account)-[:SIGNED_UP_FROM]->(:IP)          the sign-up IP
    (:Account)-[:SIGNED_UP_ON]->(:Device)        the sign-up device fingerprint
    (:Account)-[:USED_IP]->(:IP)                 logins and logged-in requests (+ windows)
    (:Account)-[:USED_DEVICE]->(:Device)         logins and logged-in requests
    (:Account)-[:USED_UA]->(:UserAgent)          logins and logged-in requests
    (:Account)-[:PAID_WITH]->(:PaymentMethod)    payments, with counts per outcome
    (:Account)-[:SUPPORTS]->(:Creator)           payments that support a creator
    (:IP)-[:IN_SUBNET]->(:Subnet)                IPv4 /24, IPv6 /48
    (:IP)-[:SENT_UA]->(:UserAgent)               logged-out request traffic from an IP
    (:Account)-[:MEMBER_OF]->(:Ring)             detection output
    (:Ring)-[:HAS_DECISION]->(:CaseDecision)     every investigator decision on a ring
    (:IngestRun), (:DetectRun)                   run records

Node properties: ``Account {account_id, created_at, country, status, email, domain,
phone, label, label_source, label_ts}``; ``IP {ip, is_v6}`` (+ logged-out windows);
``Email {address, domain}``; ``PaymentMethod {payment_method_id, card_bin,
card_country}``; ``Subnet {cidr}``; ``UserAgent {ua}``; the others only their key.
``Account.reasons`` holds detection's sentences on why a flagged account is risky
(:mod:`graphs.account_reasons`).

Cases: a ring carries its latest decision (``status``, ``assignee``, ``note``,
``status_by``, ``status_at``: what the queue filters on and training reads as labels);
every decision is also kept, never overwritten, as ``CaseDecision {status, assignee,
note, decided_by, decided_at}`` linked from the ring by ``HAS_DECISION``. Detection never
writes either.

How rare a user agent is, is its degree: ``COUNT { (:UserAgent {ua: $ua})<-[:USED_UA]-() }``
is answered from Neo4j's degree store without touching the relationships.

Every usage relationship (and ``SENT_UA``) carries ``first_seen``, ``last_seen`` (UTC
``DateTime``), ``count`` (source rows) and ``last_run`` (the content hash of the last
input file that contributed, which makes re-running a file a no-op, see
``docs/ingest.md``). ``USED_IP`` / ``USED_DEVICE`` / ``USED_UA`` also carry ``logins``,
``failed_logins``, ``requests``, ``max_paths``, ``max_creators``; ``PAID_WITH`` and
``SUPPORTS`` carry ``amount`` and ``succeeded`` / ``declined`` / ``refunded`` /
``disputed``; ``HAS_EMAIL`` carries ``raw``.

Request windows are parallel list properties (one element per window, keyed by window
start and user agent): on ``USED_IP`` for logged-in traffic and on the ``IP`` node for
logged-out traffic: ``win_start`` (epoch seconds), ``win_s``, ``win_requests``,
``win_paths`` and ``win_creators`` (-1 = unknown), ``win_ua`` ("" = none).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACCOUNT_STATUSES",
    "IDENTIFIER_KEYS",
    "LABEL_VALUES",
    "PAYMENT_OUTCOMES",
    "RING_KINDS",
    "RING_STATUSES",
    "RUN_STATUSES",
    "USAGE_RELS",
    "Label",
    "Prop",
    "Rel",
]


class Label(StrEnum):
    """Node labels."""

    ACCOUNT = "Account"
    DEVICE = "Device"
    IP = "IP"
    SUBNET = "Subnet"
    EMAIL = "Email"
    PHONE = "Phone"
    PAYMENT_METHOD = "PaymentMethod"
    CREATOR = "Creator"
    USER_AGENT = "UserAgent"
    RING = "Ring"
    INGEST_RUN = "IngestRun"
    DETECT_RUN = "DetectRun"
    CASE_DECISION = "CaseDecision"


class Rel(StrEnum):
    """Relationship types."""

    HAS_EMAIL = "HAS_EMAIL"
    HAS_PHONE = "HAS_PHONE"
    SIGNED_UP_FROM = "SIGNED_UP_FROM"
    SIGNED_UP_ON = "SIGNED_UP_ON"
    USED_IP = "USED_IP"
    USED_DEVICE = "USED_DEVICE"
    USED_UA = "USED_UA"
    PAID_WITH = "PAID_WITH"
    SUPPORTS = "SUPPORTS"
    IN_SUBNET = "IN_SUBNET"
    SENT_UA = "SENT_UA"
    MEMBER_OF = "MEMBER_OF"
    HAS_DECISION = "HAS_DECISION"


class Prop(StrEnum):
    """Property names shared by several queries."""

    # keys
    ACCOUNT_ID = "account_id"
    DEVICE_ID = "device_id"
    IP = "ip"
    SUBNET = "cidr"
    EMAIL = "address"  # canonical address on :Email
    PHONE = "number"  # E.164 on :Phone
    PAYMENT_METHOD_ID = "payment_method_id"
    CREATOR_ID = "creator_id"
    USER_AGENT = "ua"  # the user-agent string on :UserAgent
    RING_ID = "ring_id"
    RUN_ID = "run_id"
    # account properties
    CREATED_AT = "created_at"
    COUNTRY = "country"
    STATUS = "status"
    LABEL = "label"
    LABEL_SOURCE = "label_source"
    LABEL_TS = "label_ts"
    RISK_SCORE = "risk_score"
    ACCOUNT_EMAIL = "email"  # canonical email on :Account
    ACCOUNT_PHONE = "phone"  # E.164 (or digits) on :Account
    # usage-edge properties
    FIRST_SEEN = "first_seen"
    LAST_SEEN = "last_seen"
    COUNT = "count"
    RAW = "raw"  # raw email as typed, on HAS_EMAIL
    LAST_RUN = "last_run"  # content hash of the last file that contributed to an edge
    # per-source counts on USED_* edges
    LOGINS = "logins"
    FAILED_LOGINS = "failed_logins"
    REQUESTS = "requests"  # sum of n_requests
    WINDOWS = "windows"  # request windows
    WIN_START = "win_start"  # list: window start, epoch seconds
    WIN_S = "win_s"  # list: window length, seconds
    WIN_REQUESTS = "win_requests"  # list: n_requests
    WIN_PATHS = "win_paths"  # list: n_paths (-1 = unknown)
    WIN_CREATORS = "win_creators"  # list: n_creators (-1 = unknown)
    WIN_UA = "win_ua"  # list: user agent ("" = none)
    MAX_PATHS = "max_paths"
    MAX_CREATORS = "max_creators"
    # payment-edge properties
    AMOUNT = "amount"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    # identifier properties
    IS_V6 = "is_v6"
    CARD_BIN = "card_bin"
    CARD_COUNTRY = "card_country"
    DOMAIN = "domain"
    # run records (:IngestRun)
    STARTED_AT = "started_at"
    FINISHED_AT = "finished_at"
    DURATION_S = "duration_s"
    DATASET = "dataset"
    FILES = "files"  # list: file names, parallel to the lists below
    TABLES = "tables"
    HASHES = "hashes"  # list: sha256 of each file
    FILE_STATUS = "file_status"  # list: loaded, skipped, rejected, ...
    ROWS_READ = "rows_read"
    ROWS_LOADED = "rows_loaded"
    ROWS_QUARANTINED = "rows_quarantined"
    COMPLETED = "completed"  # list: "table:sha256" of every file fully written
    REPORT = "report"  # the whole report as JSON text
    # ring properties
    KIND = "kind"
    SCORE = "score"
    REASONS = "reasons"
    DETECTED_AT = "detected_at"
    LAST_DETECTED_AT = "last_detected_at"
    ASSIGNEE = "assignee"
    NOTE = "note"
    STATUS_BY = "status_by"
    STATUS_AT = "status_at"
    # case decisions (:CaseDecision; status, assignee and note as on the ring)
    DECIDED_BY = "decided_by"
    DECIDED_AT = "decided_at"


#: Account-to-identifier relationships that carry first_seen / last_seen / count,
#: with the label and key property of the identifier they point to.
USAGE_RELS: dict[Rel, tuple[Label, Prop]] = {
    Rel.HAS_EMAIL: (Label.EMAIL, Prop.EMAIL),
    Rel.HAS_PHONE: (Label.PHONE, Prop.PHONE),
    Rel.SIGNED_UP_FROM: (Label.IP, Prop.IP),
    Rel.SIGNED_UP_ON: (Label.DEVICE, Prop.DEVICE_ID),
    Rel.USED_IP: (Label.IP, Prop.IP),
    Rel.USED_DEVICE: (Label.DEVICE, Prop.DEVICE_ID),
    Rel.USED_UA: (Label.USER_AGENT, Prop.USER_AGENT),
    Rel.PAID_WITH: (Label.PAYMENT_METHOD, Prop.PAYMENT_METHOD_ID),
    Rel.SUPPORTS: (Label.CREATOR, Prop.CREATOR_ID),
}

#: Key property of every identifier-like node (one uniqueness constraint each).
IDENTIFIER_KEYS: dict[Label, Prop] = {
    Label.ACCOUNT: Prop.ACCOUNT_ID,
    Label.DEVICE: Prop.DEVICE_ID,
    Label.IP: Prop.IP,
    Label.SUBNET: Prop.SUBNET,
    Label.EMAIL: Prop.EMAIL,
    Label.PHONE: Prop.PHONE,
    Label.PAYMENT_METHOD: Prop.PAYMENT_METHOD_ID,
    Label.CREATOR: Prop.CREATOR_ID,
    Label.USER_AGENT: Prop.USER_AGENT,
    Label.RING: Prop.RING_ID,
    Label.INGEST_RUN: Prop.RUN_ID,
    Label.DETECT_RUN: Prop.RUN_ID,
}

ACCOUNT_STATUSES = ("active", "suspended", "deleted")
PAYMENT_OUTCOMES = ("succeeded", "declined", "refunded", "disputed")
LABEL_VALUES = ("fraud", "legit")
RING_KINDS = ("fake_account", "scraping")
RING_STATUSES = ("open", "in_progress", "confirmed", "dismissed")
RUN_STATUSES = ("running", "completed", "failed")
