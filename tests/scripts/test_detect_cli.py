"""`ringwatch detect --dataset` and `ringwatch evaluate`: the files of output-format.md."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from scripts.cli import app

pytestmark = pytest.mark.slow
FIELDS = {"ring_id", "kind", "score", "accounts", "ips", "shared", "reasons", "first_seen",
          "last_seen"}  # fmt: skip


@pytest.fixture(scope="module")
def detected(tmp_path_factory):
    from ingest.synthetic import write_world

    root = tmp_path_factory.mktemp("cli")
    write_world(root / "w", n_accounts=1500, seed=9, progress=False)
    result = CliRunner().invoke(app, ["detect", "--dataset", str(root / "w"), "--out",
                                      str(root / "det")])  # fmt: skip
    assert result.exit_code == 0, result.output
    return root


def test_rings_jsonl_follows_the_output_format(detected):
    lines = (detected / "det" / "rings.jsonl").read_text().splitlines()
    rings = [json.loads(line) for line in lines]
    assert rings, "the seeded world has rings"
    scores = [r["score"] for r in rings]
    assert scores == sorted(scores, reverse=True)  # highest score first
    for ring in rings:
        assert set(ring) == FIELDS
        assert ring["kind"] in ("fake_account", "scraping")
        assert 0.5 <= ring["score"] <= 1  # only rings at the operating threshold and above
        assert ring["accounts"] or ring["ips"]
        assert set(ring["shared"]) == {"device", "payment_method", "ip", "email", "phone"}
        assert ring["reasons"] and all(any(ch.isdigit() for ch in r) for r in ring["reasons"])
        assert ring["first_seen"].endswith("Z") and ring["last_seen"].endswith("Z")


def test_accounts_csv_lists_every_account_with_its_best_ring(detected):
    with (detected / "det" / "accounts.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["account_id", "risk_score", "ring_id", "flagged"]
    assert len(rows) == 1500
    rings = {json.loads(line)["ring_id"] for line in
             (detected / "det" / "rings.jsonl").read_text().splitlines()}  # fmt: skip
    for row in rows:
        assert row["flagged"] in ("true", "false")
        assert 0 <= float(row["risk_score"]) <= 1
        assert (row["ring_id"] in rings) == (row["flagged"] == "true")
    summary = json.loads((detected / "det" / "summary.json").read_text())
    assert {"detectors", "model_version", "thresholds", "counts", "timings_s"} <= set(summary)


def test_evaluate_prints_tables_and_writes_json(detected):
    result = CliRunner().invoke(app, ["evaluate", "--truth", str(detected / "w" / "truth.csv"),
                                      "--detections", str(detected / "det")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fake_account" in result.output and "household" in result.output
    report = json.loads((detected / "det" / "evaluation.json").read_text())
    assert report["universe_accounts"] == 1500
    assert {"overall", "per_kind", "per_scenario", "pr_curve"} <= set(report)


def test_a_missing_detections_directory_is_one_clear_error(detected, tmp_path):
    from graphs.errors import DatasetError

    result = CliRunner().invoke(app, ["evaluate", "--truth", str(detected / "w" / "truth.csv"),
                                      "--detections", str(tmp_path)])  # fmt: skip
    assert isinstance(result.exception, DatasetError)
    assert "rings.jsonl" in str(result.exception)
