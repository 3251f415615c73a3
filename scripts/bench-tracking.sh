#!/usr/bin/env bash
# Overhead of MLflow tracking: a 60-epoch HTRU2 training job (early stopping
# off) with MLFLOW_TRACKING_URI set and unset, alternating, in the same
# command; prints the median job and command times of each and their ratio
# (goal: on/off <= 1.05). Uses $ORRERY_TEST_MLFLOW_URI when set, else starts
# a local MLflow server like scripts/test.d/35-mlflow.sh. BENCH_RUNS runs
# of each (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-3}
work=$(mktemp -d)
cleanup() { [ -n "${mlflow_pid:-}" ] && kill "$mlflow_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
uri=${ORRERY_TEST_MLFLOW_URI:-}
if [ -z "$uri" ]; then
  scripts/python-env.sh scripts/requirements-mlflow.txt .cache/venv-mlflow >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  .cache/venv-mlflow/bin/mlflow server --host 127.0.0.1 --port "$port" --workers 1 \
    --backend-store-uri "sqlite:///$work/mlflow.db" --artifacts-destination "$work/artifacts" >"$work/server.log" 2>&1 &
  mlflow_pid=$!
  uri="http://127.0.0.1:$port"
  for _ in $(seq 1 600); do curl -fsS "$uri/health" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "$uri/health" >/dev/null || { cat "$work/server.log"; exit 1; }
fi
go build -o "$work/orrery" ./functions/local
echo '{"epochs": 60, "early_stopping": {"enabled": false}}' >"$work/config.json"
# one_run MODE: prints "<job seconds> <command seconds>".
one_run() {
  local home="$work/home-$1-$RANDOM" start end job
  start=$(date +%s.%N)
  if [ "$1" = on ]; then
    MLFLOW_TRACKING_URI=$uri MLFLOW_EXPERIMENT_NAME=orrery-bench "$work/orrery" train --data events/data/htru2.csv \
      --target class --positive 1 --config "$work/config.json" --json --home "$home" >"$work/out.json"
  else
    env -u MLFLOW_TRACKING_URI "$work/orrery" train --data events/data/htru2.csv \
      --target class --positive 1 --config "$work/config.json" --json --home "$home" >"$work/out.json"
  fi
  end=$(date +%s.%N)
  job=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(r["stage_seconds"].values()))' "$work/out.json")
  echo "$job $(python3 -c "print($end - $start)")"
}
: >"$work/off"; : >"$work/on"
for _ in $(seq 1 "$runs"); do
  one_run off >>"$work/off"
  one_run on >>"$work/on"
done
python3 - "$work/off" "$work/on" <<'PY'
import statistics, sys
def med(path, col):
    return statistics.median(float(l.split()[col]) for l in open(path) if l.strip())
for col, what in ((0, "job (sum of stage seconds)"), (1, "command wall time")):
    off, on = med(sys.argv[1], col), med(sys.argv[2], col)
    print(f"tracking {what}: off {off:.2f} s, on {on:.2f} s, ratio on/off {on/off:.3f} (goal <= 1.05)")
PY
