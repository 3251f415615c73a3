# shellcheck shell=bash
# Sourced by scripts/test.sh: Schemathesis (pinned in
# scripts/requirements-schemathesis.txt) against a real `orrery serve`,
# driven by the server's own GET /openapi.json: the examples, coverage,
# fuzzing and stateful phases (links inferred from the answers' Location
# headers), ORRERY_SCHEMATHESIS_EXAMPLES (10; 30 is the example, about 3x the time) examples per operation. Fails
# on any 5xx and on any answer that disagrees with the document (status
# code, content type, body schema, headers). The server runs behind a bearer
# token, and its log is grepped for the token afterwards.
st_venv=.cache/venv-schemathesis
scripts/python-env.sh scripts/requirements-schemathesis.txt "$st_venv"
st_dir=$(mktemp -d)
mkdir -p "$st_dir/data"
go build -o "$st_dir/orrery" ./functions/local
st_token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
ORRERY_API_TOKEN=$st_token "$st_dir/orrery" serve --addr 127.0.0.1:0 --home "$st_dir/home" \
  --data-root "$st_dir/data" --parallel 1 >"$st_dir/stdout" 2>"$st_dir/server.log" &
st_pid=$!
on_exit "kill $st_pid 2>/dev/null; wait $st_pid 2>/dev/null; rm -rf '$st_dir'"
st_url=""
for _ in $(seq 1 1800); do  # at least 180 s on a loaded machine
  st_url=$(grep -o 'listening on http://[^ ]*' "$st_dir/stdout" | sed 's/listening on //' || true)
  [ -n "$st_url" ] && break
  kill -0 "$st_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$st_url" ]; then
  cat "$st_dir/stdout" "$st_dir/server.log"
  echo "FAIL: orrery serve did not start for schemathesis"
  test_failed=1
else
  set +e
  # One worker: with two, Hypothesis's example generation raced in its
  # shared caches and ended a CI run in a FlakyFailure ("Runtime Error").
  # schemathesis_hooks.py gives each generated request that sends a
  # well-formed Idempotency-Key a fresh one (a reused key with another body
  # is the API's documented 422, which no schema can state).
  PYTHONPATH=scripts SCHEMATHESIS_HOOKS=schemathesis_hooks timeout 600 "$st_venv/bin/st" run "$st_url/openapi.json" \
    --header "Authorization: Bearer $st_token" \
    --phases examples,coverage,fuzzing,stateful \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --max-examples "${ORRERY_SCHEMATHESIS_EXAMPLES:-10}" --seed 14 --workers 1 --request-timeout 120 \
    --no-color >"$st_dir/st.log" 2>&1
  st_status=$?
  set -e
  if [ "$st_status" -ne 0 ]; then
    cat "$st_dir/st.log"
    echo "FAIL: schemathesis (exit $st_status)"
    test_failed=1
  else
    tail -n 40 "$st_dir/st.log"
  fi
  if grep -qF "$st_token" "$st_dir/server.log" "$st_dir/stdout"; then
    echo "FAIL: the server's log holds its bearer token"
    test_failed=1
  fi
fi
