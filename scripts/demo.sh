#!/usr/bin/env bash
# Set everything up and run ringwatch end to end on the managed local Neo4j:
# install and start Neo4j, generate a synthetic world as two nightly exports, run the
# nightly job (ingest, detect, report) on each night, train the GNN on the labels in the
# graph and detect again with it, evaluate against the truth, and serve the dashboard.
# DEMO_ACCOUNTS (default 100000), DEMO_SEED (default 7), DEMO_DIR (default ./worlds/demo),
# DEMO_RUNS (default ./runs) and DASHBOARD_PORT (default 8050) change the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
rw=.venv/bin/ringwatch
accounts=${DEMO_ACCOUNTS:-100000}
seed=${DEMO_SEED:-7}
dir=${DEMO_DIR:-worlds/demo}
runs=${DEMO_RUNS:-runs}
port=${DASHBOARD_PORT:-8050}

$rw neo4j start
[ -f "$dir/night-02/truth.csv" ] || $rw generate --accounts "$accounts" --seed "$seed" --out "$dir" --nights 2
for night in night-01 night-02; do
  $rw nightly "$dir/$night" --out "$runs" --truth "$dir/$night/truth.csv"
done
echo
echo "== evaluation of the last night, connected-component heuristics =="
$rw evaluate --truth "$dir/night-02/truth.csv" --detections "$runs/night-02"

# The GNN: train on the labels in the graph (and investigators' ring decisions), then
# detect again with its calibrated per-account risk in the ring scores.
$rw train --epochs "${DEMO_EPOCHS:-60}"
$rw detect --model newest --out "$runs/night-02-gnn"
echo
echo "== evaluation of the last night, with the GNN =="
$rw evaluate --truth "$dir/night-02/truth.csv" --detections "$runs/night-02-gnn"

if ! curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  nohup $rw dashboard --port "$port" > "$runs/dashboard.log" 2>&1 &
  echo $! > "$runs/dashboard.pid"
  for _ in $(seq 60); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 1; done
fi
echo
echo "Report:    $runs/night-02/report.html"
echo "Dashboard: http://127.0.0.1:$port/   (stop it with: kill \$(cat $runs/dashboard.pid))"
