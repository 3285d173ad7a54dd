"""Feature values on the tiny snapshot of conftest.py, computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from gnn import features as F


def test_account_features_have_the_documented_columns(tiny_snapshot):
    feats = F.account_features(tiny_snapshot)
    assert list(feats.columns) == [f.name for f in F.ACCOUNT_FEATURES]
    assert list(feats.index) == ["a1", "a2", "a3"]
    assert feats.notna().all().all()


def test_as_of_is_the_latest_time_in_the_snapshot(tiny_snapshot):
    # the last request window (12:00) is later than every sign-up and link
    assert F.as_of(tiny_snapshot) == pd.Timestamp("2026-03-01T12:00:00Z")


def test_account_feature_values_by_hand(tiny_snapshot):
    feats = F.account_features(tiny_snapshot)
    a1 = feats.loc["a1"]
    assert a1["account_age_days"] == pytest.approx(11 / 24)
    assert a1["signup_hour"] == 1
    assert (a1["email_disposable"], a1["email_freemail"], a1["email_missing"]) == (1, 0, 0)
    assert a1["phone_missing"] == 1
    assert a1["n_payments"] == 4
    assert a1["decline_rate"] == pytest.approx(0.75)
    assert a1["amount_total"] == 8.0
    assert a1["n_payment_methods"] == 1
    assert a1["n_logins"] == 5
    assert a1["n_devices"] == 1  # d1 as sign-up and login device is one device
    assert (a1["n_ips"], a1["n_subnets"]) == (1, 1)
    a2 = feats.loc["a2"]
    assert (a2["email_freemail"], a2["phone_missing"], a2["decline_rate"]) == (1, 0, 0)
    a3 = feats.loc["a3"]
    assert a3["email_missing"] == 1
    assert a3["n_user_agents"] == 1
    assert (a3["n_requests"], a3["n_request_windows"]) == (150, 2)
    assert (a3["max_paths_per_window"], a3["max_creators_per_window"]) == (7, 2)
    assert a3["n_subnets"] == 1  # the IPv6 /48


def test_identifier_feature_values_by_hand(tiny_snapshot):
    feats = F.identifier_features(tiny_snapshot)
    assert set(feats) == {"device", "ip", "payment_method", "user_agent", "subnet"}
    for frame in feats.values():
        assert list(frame.columns) == [f.name for f in F.IDENTIFIER_FEATURES]
    d1 = feats["device"].loc["d1"]
    assert d1["n_accounts"] == 2
    assert d1["n_uses"] == 8  # 5 + 1 (sign-up) + 2
    assert d1["age_days"] == pytest.approx(11 / 24)
    assert d1["span_days"] == pytest.approx(2 / 24)
    assert d1["signup_spread_hours"] == pytest.approx(1.0)  # sign-ups at 01:00 and 03:00
    assert feats["device"].loc["d3", "signup_spread_hours"] == 0
    assert feats["payment_method"].loc["pm1", "decline_rate"] == pytest.approx(3 / 5)
    assert feats["ip"].loc["10.0.0.2", "logged_out_requests"] == 40
    assert feats["ip"].loc["10.0.0.1", "logged_out_requests"] == 0
    assert feats["subnet"].loc["10.0.0.0/24", "n_accounts"] == 2


@pytest.mark.parametrize(
    ("domain", "klass"),
    [
        ("gmail.com", "freemail"),
        ("GoogleMail.com", "freemail"),
        ("yopmail.com", "disposable"),
        ("my-trashmail.xyz", "disposable"),
        ("acme-corp.de", "other"),
        (None, "missing"),
        ("", "missing"),
    ],
)
def test_email_domain_class(domain, klass):
    assert F.email_domain_class(pd.Series([domain])).iloc[0] == klass


def test_feature_names_are_unique_and_described():
    for group in (F.ACCOUNT_FEATURES, F.IDENTIFIER_FEATURES):
        names = [f.name for f in group]
        assert len(names) == len(set(names))
        assert all(f.description for f in group)
