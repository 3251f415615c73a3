#!/usr/bin/env bash
# Smoke test of a deployed Orrery API: a few read-only requests, each of which must answer with its status and
# a JSON body. Exits non-zero, naming the request, when one does not (unreachable, wrong status, not JSON).
# Usage: scripts/smoke.sh BASE_URL        e.g. https://abc123.execute-api.eu-west-1.amazonaws.com
#   With AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optionally
#   AWS_SESSION_TOKEN) and AWS_REGION, requests are SigV4-signed for execute-api (the API's IAM authorization);
#   ORRERY_SMOKE_UNSIGNED=1 sends them unsigned (`orrery serve`, or a JWT-authorized API with
#   ORRERY_SMOKE_BEARER=<token>).
set -euo pipefail
base=${1:?usage: scripts/smoke.sh BASE_URL}
base=${base%/}

# The checks: method, path, the status it must answer. Each route a deployment serves gets its line here.
checks=(
  "GET /openapi.json 200"                            # the router answers (API Gateway -> Lambda -> handler)
  "GET /ml/models 200"                               # the models table is readable
  "GET /ml/training/smoke-no-such-job/status 404"    # the jobs table is readable; an unknown job is problem+json
)

curl_auth=()
if [ -n "${ORRERY_SMOKE_BEARER:-}" ]; then
  curl_auth=(-H "Authorization: Bearer $ORRERY_SMOKE_BEARER")
elif [ "${ORRERY_SMOKE_UNSIGNED:-}" != 1 ]; then
  : "${AWS_ACCESS_KEY_ID:?set AWS credentials, or ORRERY_SMOKE_UNSIGNED=1}" "${AWS_SECRET_ACCESS_KEY:?}" "${AWS_REGION:?}"
  curl_auth=(--aws-sigv4 "aws:amz:${AWS_REGION}:execute-api" --user "${AWS_ACCESS_KEY_ID}:${AWS_SECRET_ACCESS_KEY}")
  if [ -n "${AWS_SESSION_TOKEN:-}" ]; then curl_auth+=(-H "x-amz-security-token: ${AWS_SESSION_TOKEN}"); fi
fi

body=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$body" "$errors"' EXIT
failed=0
for check in "${checks[@]}"; do
  read -r method path want <<< "$check"
  # Retries cover a Lambda cold start right after the deploy; a dead endpoint fails after them.
  got=$(curl -sS -o "$body" -w '%{http_code}' --max-time 30 --retry 3 --retry-all-errors --retry-delay 2 \
    -X "$method" "${curl_auth[@]}" "$base$path" 2>"$errors") || got="no answer ($(tail -n 1 "$errors"))"
  if [ "$got" != "$want" ]; then
    echo "smoke: $method $path answered $got, want $want: $(head -c 300 "$body")"; failed=1; continue
  fi
  if ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$body" 2>/dev/null; then
    echo "smoke: $method $path answered $got with a body that is not JSON: $(head -c 300 "$body")"; failed=1; continue
  fi
  echo "smoke: $method $path $got"
done
exit "$failed"
