#!/usr/bin/env bash
# Set up everything ringwatch needs on a fresh machine; safe to run again (idempotent).
#   - Java 17 and Maven (Neo4j is fetched from Maven Central), Chromium for browser tests
#   - uv, a project virtualenv in .venv with ringwatch installed in editable mode
#     (uv's cache keeps the multi-GB torch wheel, so later venvs link it in seconds)
#   - the managed Neo4j server's jars (downloaded once into ~/.cache/ringwatch)
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  if [ -z "${_apt_updated:-}" ]; then as_root apt-get update -qq; _apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

java_major=$( (java -version 2>&1 || true) | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
if [ -z "$java_major" ] || [ "$java_major" -lt 17 ]; then apt_install openjdk-17-jre-headless; fi
need mvn || apt_install maven
if [ "${RINGWATCH_SKIP_BROWSER:-0}" != 1 ] && { ! need chromium || ! need chromedriver; }; then
  apt_install chromium chromium-driver
fi

need uv || python3 -m pip install --quiet --root-user-action=ignore uv
[ -x .venv/bin/python ] || uv venv --quiet --python python3 .venv
# Byte-compiled once here: with PYTHONDONTWRITEBYTECODE set (as on some CI machines) every
# process would otherwise recompile torch, scipy and pandas on each import.
VIRTUAL_ENV="$PWD/.venv" uv pip install --quiet --compile-bytecode -e ".[dev]"

.venv/bin/ringwatch neo4j install >/dev/null
echo "bootstrap: ready ($(.venv/bin/python --version), Neo4j jars in ~/.cache/ringwatch)"
