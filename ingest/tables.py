"""The input tables of ``docs/input-format`` and their row rules, as pandera schemas.

Every table is read as text (ids stay exactly as exported); one pandera schema per table
checks each row against the rules of the input format, and each check is named after the
rule it enforces, so that a quarantined row carries a readable reason. Rules that need
state beyond one chunk (unique ids across a whole file, accounts known from this or an
earlier dataset) are applied in :mod:`ingest.prepare`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from graphs.model import ACCOUNT_STATUSES, LABEL_VALUES, PAYMENT_OUTCOMES
from ingest.normalise import is_bool_text, normalise_ips, parse_timestamps

__all__ = ["MAX_ID_CHARS", "TABLES", "TableSpec", "validate_rows"]

#: Longest id or user agent ringwatch stores: Neo4j index keys are limited to ~8 kB.
MAX_ID_CHARS = 2000

# Patterns for str.fullmatch, in the RE2 subset that pyarrow runs natively ([0-9] and
# [ \t], not \d and \s, which would send pandas back to Python's re)
_COUNTRY = r"[A-Z]{2}"
_CURRENCY = r"[A-Z]{3}"
_CARD_BIN = r"[0-9]{6,8}"
_UINT = r"[ \t]*[0-9]+[ \t]*"
_DECIMAL = r"[ \t]*\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t]*"


@dataclass(frozen=True)
class TableSpec:
    """One input table: its columns, which of them the header must have, and rules."""

    name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    schema: pa.DataFrameSchema
    unique: str | None = None  # column whose values must be unique in the file
    account_ref: bool = True  # account_id must name a known account (when not empty)


# ----------------------------------------------------------------- check builders
def _present(column: str) -> pa.Check:
    return pa.Check(lambda s: s.str.strip() != "", name=f"{column} is required")


def _short(column: str) -> pa.Check:
    return pa.Check(
        lambda s: s.str.len() <= MAX_ID_CHARS, name=f"{column} is longer than {MAX_ID_CHARS}"
    )


def _timestamp(column: str, optional: bool = False) -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        valid = parse_timestamps(s).notna()
        return valid | (s.str.strip() == "") if optional else valid

    return pa.Check(ok, name=f"{column} is not an ISO-8601 timestamp")


def _ip(column: str, optional: bool = False) -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        valid = normalise_ips(s).notna()
        return valid | (s.str.strip() == "") if optional else valid

    return pa.Check(ok, name=f"{column} is not an IPv4 or IPv6 address")


def _pattern(column: str, pattern: str, what: str, optional: bool = True) -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        valid = s.str.fullmatch(pattern).fillna(False).astype(bool)
        return valid | (s == "") if optional else valid

    return pa.Check(ok, name=f"{column} is not {what}")


def _one_of(column: str, values: tuple[str, ...], optional: bool) -> pa.Check:
    allowed = set(values) | ({""} if optional else set())
    return pa.Check(lambda s: s.isin(allowed), name=f"{column} is not one of {', '.join(values)}")


def _int_at_least(column: str, low: int, optional: bool = False) -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        digits = s.str.fullmatch(_UINT).fillna(False).astype(bool)
        value = pd.to_numeric(s.where(digits, "0"), errors="coerce").fillna(-1)
        valid = digits & (value >= low)
        return valid | (s.str.strip() == "") if optional else valid

    return pa.Check(ok, name=f"{column} is not an integer >= {low}")


def _schema(columns: dict[str, list[pa.Check]], *frame_checks: pa.Check) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {name: pa.Column(str, checks=checks, nullable=False) for name, checks in columns.items()},
        checks=list(frame_checks),
        strict=False,
    )


def _id(column: str) -> list[pa.Check]:
    return [_present(column), _short(column)]


def _optional_id(column: str) -> list[pa.Check]:
    return [_short(column)]


# --------------------------------------------------------------------- the tables
ACCOUNTS = TableSpec(
    name="accounts",
    columns=(
        "account_id",
        "created_at",
        "email",
        "phone",
        "country",
        "signup_ip",
        "signup_device_id",
        "status",
    ),
    required=("account_id", "created_at"),
    schema=_schema(
        {
            "account_id": _id("account_id"),
            "created_at": [_timestamp("created_at")],
            "email": [_short("email")],
            "phone": [_short("phone")],
            "country": [_pattern("country", _COUNTRY, "an ISO 3166-1 alpha-2 code")],
            "signup_ip": [_ip("signup_ip", optional=True)],
            "signup_device_id": _optional_id("signup_device_id"),
            "status": [_one_of("status", ACCOUNT_STATUSES, optional=True)],
        }
    ),
    unique="account_id",
    account_ref=False,
)

LOGINS = TableSpec(
    name="logins",
    columns=("account_id", "ts", "ip", "device_id", "user_agent", "success"),
    required=("account_id", "ts"),
    schema=_schema(
        {
            "account_id": _id("account_id"),
            "ts": [_timestamp("ts")],
            "ip": [_ip("ip", optional=True)],
            "device_id": _optional_id("device_id"),
            "user_agent": _optional_id("user_agent"),
            "success": [
                pa.Check(is_bool_text, name="success is not true/false/1/0"),
            ],
        },
        pa.Check(
            lambda df: (df["ip"].str.strip() != "") | (df["device_id"] != ""),
            name="neither ip nor device_id is given",
        ),
    ),
)

PAYMENTS = TableSpec(
    name="payments",
    columns=(
        "payment_id",
        "account_id",
        "ts",
        "payment_method_id",
        "amount",
        "currency",
        "outcome",
        "creator_id",
        "card_bin",
        "card_country",
    ),
    required=(
        "payment_id",
        "account_id",
        "ts",
        "payment_method_id",
        "amount",
        "currency",
        "outcome",
    ),
    schema=_schema(
        {
            "payment_id": _id("payment_id"),
            "account_id": _id("account_id"),
            "ts": [_timestamp("ts")],
            "payment_method_id": _id("payment_method_id"),
            "amount": [_pattern("amount", _DECIMAL, "a decimal >= 0", optional=False)],
            "currency": [_pattern("currency", _CURRENCY, "an ISO 4217 code", optional=False)],
            "outcome": [_one_of("outcome", PAYMENT_OUTCOMES, optional=False)],
            "creator_id": _optional_id("creator_id"),
            "card_bin": [_pattern("card_bin", _CARD_BIN, "6 to 8 digits")],
            "card_country": [_pattern("card_country", _COUNTRY, "an ISO 3166-1 alpha-2 code")],
        }
    ),
    unique="payment_id",
)

REQUESTS = TableSpec(
    name="requests",
    columns=(
        "window_start",
        "window_s",
        "ip",
        "user_agent",
        "device_id",
        "account_id",
        "n_requests",
        "n_paths",
        "n_creators",
    ),
    required=("window_start", "window_s", "ip", "n_requests"),
    schema=_schema(
        {
            "window_start": [_timestamp("window_start")],
            "window_s": [_int_at_least("window_s", 1)],
            "ip": [_ip("ip")],
            "user_agent": _optional_id("user_agent"),
            "device_id": _optional_id("device_id"),
            "account_id": _optional_id("account_id"),
            "n_requests": [_int_at_least("n_requests", 1)],
            "n_paths": [_int_at_least("n_paths", 1, optional=True)],
            "n_creators": [_int_at_least("n_creators", 0, optional=True)],
        }
    ),
)

LABELS = TableSpec(
    name="labels",
    columns=("account_id", "label", "source", "ts"),
    required=("account_id", "label"),
    schema=_schema(
        {
            "account_id": _id("account_id"),
            "label": [_one_of("label", LABEL_VALUES, optional=False)],
            "source": [_short("source")],
            "ts": [_timestamp("ts", optional=True)],
        }
    ),
)

#: The tables in the order they are loaded (accounts first: the others refer to them).
TABLES: dict[str, TableSpec] = {
    spec.name: spec for spec in (ACCOUNTS, LOGINS, PAYMENTS, REQUESTS, LABELS)
}


def validate_rows(spec: TableSpec, chunk: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Split a chunk of text rows into the rows that keep every rule and the broken rules.

    ``chunk`` has every column of ``spec`` (absent optional columns as ``""``). Returns
    the valid rows and, indexed like ``chunk``, the first broken rule of each invalid
    row (rules joined with ``"; "`` when a row breaks several).

    >>> rows = pd.DataFrame({"account_id": ["a", "b"], "label": ["fraud", "maybe"],
    ...                      "source": ["", ""], "ts": ["", "2026-01-01"]}, dtype=str)
    >>> valid, broken = validate_rows(TABLES["labels"], rows)
    >>> list(valid["account_id"]), broken.to_dict()
    (['a'], {1: 'label is not one of fraud, legit'})
    """
    try:
        spec.schema.validate(chunk, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        cases = cases[cases["index"].notna()]
        broken = (
            cases.drop_duplicates(["index", "check"])
            .groupby("index", sort=False)["check"]
            .agg(lambda checks: "; ".join(map(str, checks)))
        )
        broken.index = broken.index.astype(chunk.index.dtype)
        return chunk[~chunk.index.isin(broken.index)], broken
    return chunk, pd.Series(dtype=str)
