"""prepare: each rule of the input format on tiny hand-written tables, normalisation,
formats, and the snapshot built without Neo4j."""

from __future__ import annotations

import gzip
import shutil

import pandas as pd
import pytest

from graphs.errors import DatasetError
from graphs.snapshot import ACCOUNT_COLUMNS, LINK_COLUMNS, WINDOW_COLUMNS
from ingest.prepare import UNKNOWN_ACCOUNT, prepare_dataset, snapshot_from_dataset
from tests.ingest.helpers import (
    ACCOUNT_HEADER,
    ACCOUNTS,
    LOGIN_HEADER,
    LOGINS,
    PAYMENT_HEADER,
    PAYMENTS,
    REQUEST_HEADER,
    REQUESTS,
    write_dataset,
    write_table,
)


def _report(dataset, table):
    return next(f.report for f in prepare_dataset(dataset).files if f.report.table == table)


def _loaded_everything_else(dataset, rejected_table):
    for prepared in prepare_dataset(dataset).files:
        if prepared.report.table != rejected_table:
            assert prepared.report.status == "loaded", prepared.report


# --------------------------------------------------------------- file-level rules
def test_missing_required_column_rejects_the_file(tmp_path):
    header = tuple(c for c in PAYMENT_HEADER if c != "amount")
    rows = [
        tuple(v for c, v in zip(PAYMENT_HEADER, r, strict=True) if c != "amount") for r in PAYMENTS
    ]
    write_dataset(tmp_path, payments=(header, rows))
    report = _report(tmp_path, "payments")
    assert report.status == "rejected"
    assert "missing required column(s) amount" in report.reason
    assert report.rows_loaded == 0
    _loaded_everything_else(tmp_path, "payments")


def test_unreadable_file_is_rejected(tmp_path):
    write_dataset(tmp_path, logins=None)
    (tmp_path / "logins.csv.gz").write_bytes(b"this is not gzip data at all")
    report = _report(tmp_path, "logins")
    assert report.status == "rejected"
    assert "cannot be read" in report.reason
    _loaded_everything_else(tmp_path, "logins")


def test_unreadable_parquet_is_rejected(tmp_path):
    write_dataset(tmp_path, requests=None)
    (tmp_path / "requests.parquet").write_bytes(b"PAR1 garbage")
    assert _report(tmp_path, "requests").status == "rejected"


def test_empty_file_is_rejected(tmp_path):
    write_dataset(tmp_path, labels=None)
    (tmp_path / "labels.csv").write_bytes(b"")
    report = _report(tmp_path, "labels")
    assert report.status == "rejected"
    assert "empty file" in report.reason


def test_header_only_file_loads_nothing_and_is_fine(tmp_path):
    write_dataset(tmp_path, logins=(LOGIN_HEADER, []))
    report = _report(tmp_path, "logins")
    assert (report.status, report.rows_read, report.rows_quarantined) == ("loaded", 0, 0)


def test_wrong_encoding_rejects_the_file(tmp_path):
    write_dataset(tmp_path, accounts=None)
    text = "account_id,created_at,email\nzoë,2026-03-01,zoë@example.org\n"
    (tmp_path / "accounts.csv").write_bytes(text.encode("latin-1"))
    report = _report(tmp_path, "accounts")
    assert report.status == "rejected"
    assert "not UTF-8" in report.reason


def test_no_accounts_table_is_a_dataset_error(tmp_path):
    write_dataset(tmp_path, accounts=None)
    with pytest.raises(DatasetError, match="no accounts table"):
        prepare_dataset(tmp_path)


def test_a_table_in_two_formats_is_a_dataset_error(tmp_path):
    write_dataset(tmp_path)
    shutil.copy(tmp_path / "logins.csv", tmp_path / "logins.parquet")
    with pytest.raises(DatasetError, match="given twice"):
        prepare_dataset(tmp_path)


# ---------------------------------------------------------------- row-level rules
def _with_row(header, rows, row):
    return header, [*rows, row]


@pytest.mark.parametrize(
    ("table", "bad_row", "rule"),
    [
        ("accounts", ("a9", "yesterday", "", "", "", "", "", ""), "created_at is not an ISO-8601"),
        ("accounts", ("a2", "2026-03-05", "", "", "", "", "", ""), "duplicate account_id"),
        ("accounts", ("a9", "2026-03-05", "", "", "", "1.2.3", "", ""), "signup_ip is not an IPv4"),
        ("accounts", ("a9", "2026-03-05", "", "", "", "", "", "zombie"), "status is not one of"),
        ("logins", ("nobody", "2026-03-02T10:00:00Z", "10.0.0.1", "", "", ""), UNKNOWN_ACCOUNT),
        ("logins", ("a2", "2026-03-02T10:00:00Z", "300.0.0.1", "", "", ""), "ip is not an IPv4"),
        ("logins", ("a2", "2026-13-02T10:00:00Z", "10.0.0.1", "", "", ""), "ts is not an ISO"),
        ("logins", ("a2", "2026-03-02T10:00:00Z", "", "", "UA", ""), "neither ip nor device_id"),
        ("logins", ("a2", "2026-03-02T10:00:00Z", "", "d", "", "maybe"), "success is not"),
        (
            "payments",
            ("p9", "a2", "2026-03-02T10:00:00Z", "pm1", "-1.00", "USD", "succeeded", "", "", ""),
            "amount is not a decimal >= 0",
        ),
        (
            "payments",
            ("p9", "a2", "2026-03-02T10:00:00Z", "pm1", "1", "USD", "stolen", "", "", ""),
            "outcome is not one of",
        ),
        (
            "payments",
            ("p1", "a2", "2026-03-02T10:00:00Z", "pm1", "1", "USD", "declined", "", "", ""),
            "duplicate payment_id",
        ),
        (
            "payments",
            ("p9", "a2", "2026-03-02T10:00:00Z", "pm1", "1", "usd", "declined", "", "", ""),
            "currency is not an ISO 4217",
        ),
        (
            "payments",
            ("p9", "ghost", "2026-03-02T10:00:00Z", "pm1", "1", "USD", "declined", "", "", ""),
            UNKNOWN_ACCOUNT,
        ),
        (
            "requests",
            ("2026-03-02T10:00:00Z", "0", "198.51.100.1", "", "", "", "5", "", ""),
            "window_s is not an integer >= 1",
        ),
        (
            "requests",
            ("2026-03-02T10:00:00Z", "60", "not-an-ip", "", "", "", "5", "", ""),
            "ip is not an IPv4",
        ),
        ("labels", ("a2", "spam", "", ""), "label is not one of"),
    ],
)
def test_a_row_that_breaks_a_rule_is_quarantined_with_the_rule(tmp_path, table, bad_row, rule):
    from tests.ingest.helpers import TABLES

    header, rows = TABLES[table]
    write_dataset(tmp_path, **{table: _with_row(header, rows, bad_row)})
    dataset = prepare_dataset(tmp_path, quarantine_dir=tmp_path / "q")
    report = next(f.report for f in dataset.files if f.report.table == table)
    assert report.status == "loaded"
    assert report.rows_read == len(rows) + 1
    assert report.rows_quarantined == 1
    assert report.rows_loaded == len(rows)
    assert any(rule in name for name in report.rules), report.rules
    quarantined = pd.read_csv(report.quarantine_file, dtype=str, keep_default_na=False)
    assert len(quarantined) == 1
    assert rule in quarantined["rule"].iloc[0]
    assert quarantined["row"].iloc[0] == str(len(rows) + 1)


def test_malformed_csv_lines_are_quarantined_and_the_rest_loads(tmp_path):
    write_dataset(tmp_path)
    with (tmp_path / "logins.csv").open("a") as handle:
        handle.write("a2,2026-03-04T00:00:00Z,10.0.0.2,,UA,true,EXTRA,FIELDS\n")
    report = _report(tmp_path, "logins")
    assert report.rows_quarantined == 1
    assert report.rows_loaded == len(LOGINS)
    assert "malformed CSV line" in report.rules


def test_unknown_account_known_from_an_earlier_dataset_is_accepted(tmp_path):
    write_dataset(
        tmp_path, logins=(LOGIN_HEADER, [("old-1", "2026-03-02", "10.0.0.9", "", "", "")])
    )
    dataset = prepare_dataset(tmp_path, known_accounts=lambda ids: {"old-1"} & set(ids))
    report = next(f.report for f in dataset.files if f.report.table == "logins")
    assert report.rows_quarantined == 0


def test_unlisted_columns_are_ignored_and_named(tmp_path):
    header = (*ACCOUNT_HEADER, "favourite_colour")
    write_dataset(tmp_path, accounts=(header, [(*row, "blue") for row in ACCOUNTS]))
    assert _report(tmp_path, "accounts").ignored_columns == ["favourite_colour"]


# ------------------------------------------------------------------ normalisation
def test_ids_stay_exact_strings_and_identifiers_are_normalised(tmp_path):
    snapshot = snapshot_from_dataset(write_dataset(tmp_path))
    accounts = snapshot.accounts.set_index("account_id")
    assert "00123" in accounts.index
    assert accounts.loc["00123", "email"] == "johndoe@gmail.com"
    assert accounts.loc["a2", "email"] == "johndoe@gmail.com"  # googlemail, dots, +tag
    assert accounts.loc["00123", "phone"] == accounts.loc["a2", "phone"] == "+14155550123"
    assert accounts.loc["a2", "created_at"] == pd.Timestamp("2026-03-01T10:00:00Z")
    links = snapshot.links
    signup = dict(links[links.kind == "signup_ip"][["account_id", "key"]].to_numpy())
    assert signup == {"00123": "203.0.113.7", "a2": "203.0.113.8", "a3": "2001:db8::1"}
    subnets = dict(snapshot.ip_subnets.to_numpy())
    assert subnets["2001:db8::1"] == "2001:db8::/48"
    assert subnets["203.0.113.8"] == "203.0.113.0/24"


def test_snapshot_has_the_documented_columns_and_aggregates(tmp_path):
    snapshot = snapshot_from_dataset(write_dataset(tmp_path))
    assert tuple(snapshot.accounts.columns) == ACCOUNT_COLUMNS
    assert tuple(snapshot.links.columns) == LINK_COLUMNS
    assert tuple(snapshot.windows.columns) == WINDOW_COLUMNS
    links = snapshot.links.set_index(["account_id", "kind", "key"])
    ip = links.loc[("00123", "ip", "203.0.113.7")]
    assert (ip["count"], ip["logins"]) == (3, 2)
    pm = links.loc[("a2", "payment_method", "pm1")]
    assert (pm["count"], pm["declined"], pm["amount"]) == (1, 1, 3.0)
    labels = snapshot.accounts.set_index("account_id")["label"]
    assert labels["a2"] == "fraud"  # same ts: fraud wins the tie
    windows = snapshot.windows
    crawler = windows[windows.client_kind == "ip"]
    assert sorted(crawler["n_requests"]) == [100, 120]
    assert crawler["n_paths"].isna().sum() == 1


def test_the_three_formats_give_the_same_snapshot(tmp_path):
    csv_dir = write_dataset(tmp_path / "csv")
    gz_dir, pq_dir = tmp_path / "gz", tmp_path / "pq"
    gz_dir.mkdir()
    pq_dir.mkdir()
    for path in csv_dir.glob("*.csv"):
        with gzip.open(gz_dir / f"{path.name}.gz", "wb") as handle:
            handle.write(path.read_bytes())
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.to_parquet(pq_dir / f"{path.stem}.parquet", index=False)
    expected = snapshot_from_dataset(csv_dir)
    for other in (gz_dir, pq_dir):
        got = snapshot_from_dataset(other)
        pd.testing.assert_frame_equal(got.accounts, expected.accounts)
        pd.testing.assert_frame_equal(got.links, expected.links)
        pd.testing.assert_frame_equal(got.windows, expected.windows)


def test_native_parquet_timestamps_are_utc(tmp_path):
    write_dataset(tmp_path, accounts=None)
    frame = pd.DataFrame({"account_id": ["x"], "created_at": [pd.Timestamp("2026-03-01 10:00")]})
    frame.to_parquet(tmp_path / "accounts.parquet", index=False)
    write_table(tmp_path, "logins", LOGIN_HEADER, [])
    snapshot = snapshot_from_dataset(tmp_path)
    assert snapshot.accounts["created_at"].iloc[0] == pd.Timestamp("2026-03-01T10:00:00Z")


def test_nightly_datasets_add_up(tmp_path):
    write_dataset(tmp_path / "night-01", requests=None, labels=None)
    later = [("a2", "2026-03-09T10:00:00Z", "10.0.0.1", "", "UA-1", "true")]
    write_dataset(
        tmp_path / "night-02",
        accounts=(ACCOUNT_HEADER, []),
        logins=(LOGIN_HEADER, later),
        payments=None,
        requests=(REQUEST_HEADER, REQUESTS[:1]),
        labels=None,
    )
    snapshot = snapshot_from_dataset(tmp_path)
    links = snapshot.links.set_index(["account_id", "kind", "key"])
    edge = links.loc[("a2", "ip", "10.0.0.1")]
    assert edge["count"] == 2
    assert edge["last_seen"] == pd.Timestamp("2026-03-09T10:00:00Z")
    assert edge["first_seen"] == pd.Timestamp("2026-03-03T10:00:00Z")


@pytest.mark.parametrize(
    "accounts",
    [
        [*ACCOUNTS, ("a2", "2026-03-05", "", "", "US", "", "", "")],  # duplicate id
        [*ACCOUNTS, ("a9", "not a time", "", "", "US", "", "", "")],  # broken rule
        None,  # header only
    ],
)
def test_valid_account_ids_are_the_accounts_that_load(tmp_path, accounts):
    from ingest.prepare import valid_account_ids
    from ingest.read import find_tables

    write_dataset(tmp_path, accounts=(ACCOUNT_HEADER, accounts or []))
    (prepared, *_) = prepare_dataset(tmp_path).files
    ids = valid_account_ids(find_tables(tmp_path)[0]["accounts"], chunk_rows=2)
    frame = prepared.frames.get("accounts")
    assert ids.to_pylist() == ([] if frame is None else frame["account_id"].tolist())


def test_valid_account_ids_of_a_rejected_file_are_empty(tmp_path):
    from ingest.prepare import valid_account_ids
    from ingest.read import find_tables

    write_dataset(tmp_path, accounts=(("account_id", "email"), [("a1", "x@example.org")]))
    assert len(valid_account_ids(find_tables(tmp_path)[0]["accounts"])) == 0
