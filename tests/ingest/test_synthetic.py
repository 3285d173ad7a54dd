"""Tests of the synthetic world generator (``ringwatch generate``).

Small worlds only (a few thousand accounts); the statistical checks use one in-memory
world of 20,000 accounts shared by the module.
"""

from __future__ import annotations

import filecmp
import ipaddress
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graphs.errors import ConfigError
from graphs.model import ACCOUNT_STATUSES, LABEL_VALUES, PAYMENT_OUTCOMES
from ingest import synthetic
from ingest.synthetic import (
    ABUSE_SCENARIOS,
    LOOKALIKE_SCENARIOS,
    RING_SIZES,
    TABLE_COLUMNS,
    generate_world,
    split_nights,
    write_world,
)

SMALL = 2_500
TABLES = tuple(TABLE_COLUMNS)
TRUTH_COLUMNS = ["group_id", "kind", "entity_type", "entity_id", "scenario"]
END = pd.Timestamp("2026-11-01T00:00:00Z")


def read_dataset(directory: Path) -> dict[str, pd.DataFrame]:
    """Every table as text, empty cells as empty strings (what a CSV export holds)."""
    return {
        name: pd.read_csv(directory / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in (*TABLES, "truth")
    }


def parse_ts(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, format="ISO8601", utc=True)


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(out, n_accounts=SMALL, seed=5, progress=False)
    return out


@pytest.fixture(scope="module")
def small(small_dir: Path) -> dict[str, pd.DataFrame]:
    return read_dataset(small_dir)


@pytest.fixture(scope="module")
def world() -> synthetic.World:
    return generate_world(20_000, np.random.default_rng(3))


# ----------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_files(small_dir: Path, tmp_path: Path) -> None:
    write_world(tmp_path, n_accounts=SMALL, seed=5, progress=False)
    names = [f"{t}.csv" for t in TABLES] + ["truth.csv"]
    _, mismatch, errors = filecmp.cmpfiles(small_dir, tmp_path, names, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_other_seed_gives_another_world(small: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    write_world(tmp_path, n_accounts=SMALL, seed=6, progress=False)
    other = read_dataset(tmp_path)
    assert set(other["accounts"].account_id).isdisjoint(small["accounts"].account_id)
    assert not other["logins"].ts.equals(small["logins"].ts)


# --------------------------------------------------------------------- input format
def test_columns_are_exactly_the_spec(small: dict[str, pd.DataFrame]) -> None:
    for name in TABLES:
        assert tuple(small[name].columns) == TABLE_COLUMNS[name], name
    assert list(small["truth"].columns) == TRUTH_COLUMNS


def test_required_cells_and_unique_ids(small: dict[str, pd.DataFrame]) -> None:
    required = {
        "accounts": ["account_id", "created_at"],
        "logins": ["account_id", "ts"],
        "payments": ["payment_id", "account_id", "ts", "payment_method_id", "amount",
                     "currency", "outcome"],
        "requests": ["window_start", "window_s", "ip", "n_requests"],
        "labels": ["account_id", "label"],
    }  # fmt: skip
    for name, columns in required.items():
        for column in columns:
            assert (small[name][column] != "").all(), f"{name}.{column} has empty cells"
    assert small["accounts"].account_id.is_unique
    assert small["payments"].payment_id.is_unique
    logins = small["logins"]
    assert ((logins.ip != "") | (logins.device_id != "")).all()


def test_foreign_account_ids_exist(small: dict[str, pd.DataFrame]) -> None:
    known = set(small["accounts"].account_id)
    for name in ("logins", "payments", "labels"):
        assert set(small[name].account_id) <= known, name
    logged_in = small["requests"].account_id
    assert set(logged_in[logged_in != ""]) <= known


def test_enums_and_value_rules(small: dict[str, pd.DataFrame]) -> None:
    accounts, payments = small["accounts"], small["payments"]
    assert set(accounts.status) <= set(ACCOUNT_STATUSES)
    assert accounts.country[accounts.country != ""].str.fullmatch("[A-Z]{2}").all()
    assert set(payments.outcome) <= set(PAYMENT_OUTCOMES)
    assert payments.currency.str.fullmatch("[A-Z]{3}").all()
    assert (payments.amount.astype(float) >= 0).all()
    bins = payments.card_bin[payments.card_bin != ""]
    assert bins.str.fullmatch(r"\d{6,8}").all()
    assert set(small["labels"].label) <= set(LABEL_VALUES)
    assert set(small["labels"].source) <= {"chargeback", "investigator", "policy"}
    assert set(small["logins"].success) <= {"true", "false"}
    requests = small["requests"]
    counts = requests[["window_s", "n_requests", "n_paths", "n_creators"]].astype(int)
    assert (counts.window_s > 0).all() and set(counts.window_s) <= {300, 3600}
    assert (counts.n_requests >= 1).all() and (counts.n_paths >= 1).all()
    assert (counts.n_creators >= 0).all()
    assert (counts.n_paths <= counts.n_requests).all()


def test_ips_parse(small: dict[str, pd.DataFrame]) -> None:
    ips = pd.concat(
        [small["accounts"].signup_ip, small["logins"].ip, small["requests"].ip]
    ).unique()
    parsed = [ipaddress.ip_address(ip) for ip in ips if ip]
    assert any(ip.version == 6 for ip in parsed) and any(ip.version == 4 for ip in parsed)
    assert not any(ip.is_private or ip.is_reserved or ip.is_loopback for ip in parsed)


def test_timestamps_parse_and_follow_account_creation(small: dict[str, pd.DataFrame]) -> None:
    created = parse_ts(small["accounts"].set_index("account_id").created_at)
    assert created.min() >= END - pd.Timedelta(days=120) and created.max() < END
    for name, column in (("logins", "ts"), ("payments", "ts"), ("labels", "ts")):
        table = small[name]
        ts = parse_ts(table[column])
        assert (ts < END).all(), name
        assert (ts.to_numpy() >= created.loc[table.account_id].to_numpy()).all(), name
    requests = small["requests"]
    logged_in = requests[requests.account_id != ""]
    window = parse_ts(logged_in.window_start)
    assert (window.to_numpy() >= created.loc[logged_in.account_id].to_numpy()).all()


def test_one_request_row_per_window_and_client(small: dict[str, pd.DataFrame]) -> None:
    key = ["window_start", "window_s", "ip", "user_agent", "device_id", "account_id"]
    assert not small["requests"].duplicated(key).any()


def test_realistic_mess_stays_valid(small: dict[str, pd.DataFrame]) -> None:
    accounts = small["accounts"]
    stamps = pd.concat([accounts.created_at, small["logins"].ts])
    no_zone = ~stamps.str.endswith("Z")
    assert 0.02 < no_zone.mean() < 0.15
    phones = accounts.phone[accounts.phone != ""]
    assert phones.str.startswith("+").any() and (~phones.str.startswith("+")).any()
    emails = accounts.email[accounts.email != ""]
    assert emails.str.contains("[A-Z]").any()
    assert emails.str.lower().str.endswith("@googlemail.com").any()
    assert (accounts.email == "").any() and (accounts.country == "").any()
    truth = small["truth"]
    abuse = set(truth.entity_id[truth.kind != "legit_group"])
    legit = accounts[~accounts.account_id.isin(abuse)]
    disposable = legit.email.str.lower().str.contains("mailinator|yopmail|guerrillamail|temp-mail")
    assert disposable.any()


# ---------------------------------------------------------------------------- truth
def test_every_scenario_is_planted_within_its_size_range(small: dict[str, pd.DataFrame]) -> None:
    truth = small["truth"]
    assert set(truth.scenario) == set(ABUSE_SCENARIOS) | set(LOOKALIKE_SCENARIOS)
    sizes = truth.groupby(["scenario", "group_id"]).size()
    for scenario in ABUSE_SCENARIOS:
        lo, hi = RING_SIZES[scenario]
        assert sizes[scenario].between(lo, hi).all(), scenario
    kinds = truth.groupby("scenario").kind.unique().map(tuple).to_dict()
    assert kinds["logged_in_scraper"] == kinds["logged_out_crawler"] == ("scraping",)
    assert kinds["device_farm"] == ("fake_account",) and kinds["household"] == ("legit_group",)
    by_ip = set(truth.scenario[truth.entity_type == "ip"])
    assert by_ip == {"logged_out_crawler", "search_crawler"}


def test_truth_names_existing_entities(small: dict[str, pd.DataFrame]) -> None:
    truth = small["truth"]
    accounts = truth.entity_id[truth.entity_type == "account"]
    assert set(accounts) <= set(small["accounts"].account_id)
    ips = truth.entity_id[truth.entity_type == "ip"]
    assert set(ips) <= set(small["requests"].ip)
    assert not truth.duplicated(["group_id", "entity_id"]).any()


def test_abuse_is_a_few_percent_of_accounts(world: synthetic.World) -> None:
    truth = world.truth
    abuse = truth[(truth.kind != "legit_group") & (truth.entity_type == "account")]
    share = abuse.entity_id.nunique() / len(world.accounts)
    assert 0.02 <= share <= 0.04  # last measured 0.031 (seed 3)


def test_labels_cover_part_of_the_abuse_with_some_noise(world: synthetic.World) -> None:
    truth, labels = world.truth, world.labels
    final = labels.sort_values("ts").groupby("account_id").label.last()
    rings = truth[truth.kind != "legit_group"].query("entity_type == 'account'")
    labeled = rings.assign(fraud=final.reindex(rings.entity_id).to_numpy() == "fraud")
    share = labeled.groupby("group_id").fraud.mean()
    assert (share == 0).any() and (share >= 0.3).any()
    assert 0.1 < labeled.fraud.mean() < 0.6  # last measured 0.28
    legit = world.accounts.account_id[~world.accounts.account_id.isin(rings.entity_id)]
    legit_final = final.reindex(legit)
    assert 0.02 < legit_final.notna().mean() < 0.05  # last measured 0.029
    assert (legit_final == "fraud").any()  # label noise
    assert labels.account_id.duplicated().any()  # several labels, latest wins


def test_ids_are_opaque_and_rows_are_shuffled(world: synthetic.World) -> None:
    patterns = {
        ("accounts", "account_id"): "a[0-9a-f]{12}",
        ("accounts", "signup_device_id"): "d[0-9a-f]{12}",
        ("payments", "payment_method_id"): "pm[0-9a-f]{12}",
        ("payments", "creator_id"): "c[0-9a-f]{12}",
        ("payments", "payment_id"): "p[0-9a-f]{14}",
    }
    for (table, column), pattern in patterns.items():
        values = world.tables[table][column].dropna()
        assert values.str.fullmatch(pattern).all(), column
    accounts = world.accounts.reset_index(drop=True)
    truth = world.truth
    abuse = set(truth.entity_id[(truth.kind != "legit_group") & (truth.entity_type == "account")])
    row = np.flatnonzero(accounts.account_id.isin(abuse))
    assert 0.4 < row.mean() / len(accounts) < 0.6
    rank = accounts.account_id.rank().to_numpy()[row] / len(accounts)
    assert 0.4 < rank.mean() < 0.6
    created = accounts.created_at.astype("int64")
    assert abs(np.corrcoef(np.arange(len(accounts)), created)[0, 1]) < 0.05


def test_scrapers_run_in_lockstep_windows(world: synthetic.World) -> None:
    truth, requests = world.truth, world.requests
    scrapers = truth[truth.scenario == "logged_in_scraper"]
    for _, group in scrapers.groupby("group_id"):
        rows = requests[requests.account_id.isin(group.entity_id)]
        heavy = rows[rows.n_requests >= 100]
        members_per_window = heavy.groupby("window_start").account_id.nunique()
        shared = members_per_window >= 0.7 * len(group)  # members skip <= 10% of windows
        assert shared.mean() > 0.75


def test_subnet_lockstep_signs_up_at_a_fixed_cadence(world: synthetic.World) -> None:
    truth, accounts = world.truth, world.accounts.set_index("account_id")
    for _, group in truth[truth.scenario == "subnet_lockstep"].groupby("group_id"):
        created = accounts.loc[group.entity_id].created_at.sort_values()
        gaps = created.diff().dropna().dt.total_seconds()
        assert gaps.max() - gaps.min() <= 12
        subnets = accounts.loc[group.entity_id].signup_ip.dropna().str.rsplit(".", n=1).str[0]
        assert subnets.nunique() == 1


def test_look_alikes_share_identifiers(world: synthetic.World) -> None:
    truth, logins = world.truth, world.logins
    offices = truth[truth.scenario == "office_nat"]
    biggest = offices.group_id.value_counts().index[0]
    members = offices.entity_id[offices.group_id == biggest]
    per_ip = logins[logins.account_id.isin(members)].groupby("ip").account_id.nunique()
    assert per_ip.max() >= 15
    kiosk = truth[truth.scenario == "shared_device"].groupby("group_id").entity_id.apply(set)
    per_device = (
        logins[logins.account_id.isin(kiosk.iloc[0])].groupby("device_id").account_id.nunique()
    )
    assert per_device.max() >= 5


# --------------------------------------------------------------------------- nights
def test_nights_add_up_to_the_whole(small: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    write_world(tmp_path, n_accounts=SMALL, seed=5, nights=3, progress=False)
    parts = [read_dataset(tmp_path / f"night-{i:02d}") for i in (1, 2, 3)]
    for name in TABLES:
        joined = pd.concat([p[name] for p in parts], ignore_index=True)
        whole = small[name]
        key = list(whole.columns)
        pd.testing.assert_frame_equal(
            joined.sort_values(key, ignore_index=True), whole.sort_values(key, ignore_index=True)
        )
    assert len(parts[0]["accounts"]) > len(parts[1]["accounts"]) > 0
    known: set[str] = set()
    previous: set[tuple[str, str]] = set()
    for i, part in enumerate(parts):
        known |= set(part["accounts"].account_id)
        for name in ("logins", "payments", "labels"):
            assert set(part[name].account_id) <= known, (i, name)
        truth = set(zip(part["truth"].group_id, part["truth"].entity_id, strict=True))
        assert previous <= truth
        previous = truth
        if i:
            cut = END - pd.Timedelta(days=3 - i)
            assert parse_ts(part["logins"].ts).min() >= cut
    assert previous == set(zip(small["truth"].group_id, small["truth"].entity_id, strict=True))


def test_split_keeps_late_accounts_in_late_nights(world: synthetic.World) -> None:
    parts = split_nights(world, 4)
    assert sum(len(p.accounts) for p in parts) == len(world.accounts)
    late = parts[-1].accounts
    assert (late.created_at >= END - pd.Timedelta(days=1)).all()
    assert len(parts[-1].truth) > len(parts[0].truth) * 0.9


# ---------------------------------------------------------------------- file formats
@pytest.mark.parametrize("file_format", ["csv.gz", "parquet"])
def test_other_formats_hold_the_same_world(
    small: dict[str, pd.DataFrame], tmp_path: Path, file_format: str
) -> None:
    write_world(tmp_path, n_accounts=SMALL, seed=5, file_format=file_format, progress=False)
    for name in TABLES:
        path = tmp_path / f"{name}.{file_format}"
        table = pd.read_parquet(path) if file_format == "parquet" else pd.read_csv(path, dtype=str)
        assert tuple(table.columns) == TABLE_COLUMNS[name]
        assert len(table) == len(small[name])
    accounts = pd.read_parquet(tmp_path / "accounts.parquet") if file_format == "parquet" else None
    if accounts is not None:
        assert isinstance(accounts.created_at.dtype, pd.DatetimeTZDtype)


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format"):
        write_world(tmp_path, n_accounts=200, seed=1, file_format="xlsx", progress=False)
    with pytest.raises(ConfigError, match="nights"):
        write_world(tmp_path, n_accounts=200, seed=1, nights=500, progress=False)
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "accounts.parquet").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"accounts\.parquet"):
        write_world(tmp_path / "mixed", n_accounts=200, seed=1, progress=False)


def test_cli_generate_prints_a_summary(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scripts.cli import app

    result = CliRunner().invoke(
        app, ["generate", "--accounts", "300", "--seed", "2", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"wrote 300 accounts", result.output)
    assert (tmp_path / "truth.csv").exists()
