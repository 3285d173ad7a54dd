#!/usr/bin/env bash
# Set everything up and run ringwatch end to end on the managed local Neo4j:
# install and start Neo4j, generate a synthetic world, and run the night's work on it.
# DEMO_ACCOUNTS (default 100000), DEMO_SEED (default 7) and DEMO_DIR (default ./worlds/demo)
# change the world.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
rw=.venv/bin/ringwatch
accounts=${DEMO_ACCOUNTS:-100000}
seed=${DEMO_SEED:-7}
dir=${DEMO_DIR:-worlds/demo}

$rw neo4j start
$rw generate --accounts "$accounts" --seed "$seed" --out "$dir"
