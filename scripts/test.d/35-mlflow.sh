# shellcheck shell=bash
# Sourced by scripts/test.sh: starts a real MLflow tracking server (pinned in scripts/requirements-mlflow.txt,
# venv in .cache/venv-mlflow) on 127.0.0.1 with a SQLite backend store and a local artifact root served through
# its proxied artifact API, and exports ORRERY_TEST_MLFLOW_URI for the tracking client's integration tests.
# Tests skip with a message naming ORRERY_TEST_MLFLOW_URI when it is unset.
scripts/python-env.sh scripts/requirements-mlflow.txt .cache/venv-mlflow
mlflow_dir=$(mktemp -d)
mlflow_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
.cache/venv-mlflow/bin/mlflow server --host 127.0.0.1 --port "$mlflow_port" --workers 1 \
  --backend-store-uri "sqlite:///$mlflow_dir/mlflow.db" --artifacts-destination "$mlflow_dir/artifacts" \
  >"$mlflow_dir/server.log" 2>&1 &
mlflow_pid=$!
on_exit "kill $mlflow_pid 2>/dev/null; wait $mlflow_pid 2>/dev/null; rm -rf '$mlflow_dir'"
mlflow_up=0
for _ in $(seq 1 600); do  # at least 300 s: a loaded machine imports mlflow slowly
  if curl -fsS "http://127.0.0.1:$mlflow_port/health" >/dev/null 2>&1; then mlflow_up=1; break; fi
  kill -0 "$mlflow_pid" 2>/dev/null || break
  sleep 0.5
done
if [ "$mlflow_up" = 1 ]; then
  export ORRERY_TEST_MLFLOW_URI="http://127.0.0.1:$mlflow_port"
  echo "mlflow on $ORRERY_TEST_MLFLOW_URI"
else
  cat "$mlflow_dir/server.log"
  echo "FAIL: the MLflow server did not start"
  test_failed=1
fi
# The same venv's Python has onnx and onnxruntime: the ONNX export's tests run the exported models in it.
export ORRERY_TEST_ONNX_PYTHON="$PWD/.cache/venv-mlflow/bin/python"
# The suite's runtimes mirror into MLflow only where a test turns it on: a tracking server of the user's own
# environment must not receive the test jobs.
unset MLFLOW_TRACKING_URI MLFLOW_EXPERIMENT_NAME MLFLOW_TRACKING_TOKEN MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD
