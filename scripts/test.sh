#!/usr/bin/env bash
# Set everything up and run the whole test suite, including the integration tests that
# start a real Neo4j server (tests/conftest.py starts it and stops it, also on failure)
# and the dashboard tests in headless Chromium. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

# A server that a killed pytest left behind is stopped here, whatever happened.
cleanup() { pkill -f -- "--home-dir=/tmp/pytest-of-$(id -un)/" 2>/dev/null || true; }
trap cleanup EXIT

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/pytest -q "$@"
