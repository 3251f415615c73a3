#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go $(go version | awk '{print $3}') on $(nproc) cores"
go mod download

echo "== gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.venv/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== go test"
go test -count=1 -timeout 15m ./... 2>&1 | tee /tmp/orrery-test.$$.log
status=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' /tmp/orrery-test.$$.log || true)
failed=$(grep -c -E '^(FAIL|--- FAIL)' /tmp/orrery-test.$$.log || true)
rm -f /tmp/orrery-test.$$.log
echo "packages: ${passed} passed, ${failed} failed"
exit "$status"
