"""``ringwatch dashboard`` refuses to serve beyond loopback without login, as one clear
line and a non-zero exit (checked before it connects to any database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _dashboard(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RINGWATCH_DASHBOARD_USERS"}
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", "dashboard", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_non_loopback_host_without_login_is_refused():
    result = _dashboard("--host", "0.0.0.0", "--port", "1")
    assert result.returncode == 2
    assert result.stderr.startswith("ringwatch: error: refusing to serve on 0.0.0.0 without login")
    assert "Traceback" not in result.stderr


def test_a_malformed_users_file_names_its_line(tmp_path):
    users = tmp_path / "users"
    users.write_text("ann:secret\nbo\n")
    result = _dashboard("--host", "0.0.0.0", "--users-file", str(users))
    assert result.returncode == 2
    assert f"{users}:2: expected user:password" in result.stderr
