#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it on a fresh machine.
#
# Every scripts/test.d/*.sh is sourced first, in name order: each may install
# what its tests need, start a service (registering its shutdown with
# on_exit), export the environment variables the Go tests read, or run a
# suite of its own that needs special flags (setting test_failed=1 on failure).
set -euo pipefail
cd "$(dirname "$0")/.."

cleanup_cmds=()
on_exit() { cleanup_cmds+=("$1"); }
cleanup() {
  local i
  for ((i=${#cleanup_cmds[@]}-1; i>=0; i--)); do eval "${cleanup_cmds[$i]}" || true; done
}
trap cleanup EXIT
test_failed=0

echo "== go $(go version | awk '{print $3}') on $(nproc) cores"
go mod download

echo "== gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.venv/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

suite_start=$SECONDS
for f in scripts/test.d/*.sh; do
  [ -e "$f" ] || continue
  echo "== $(basename "$f")"
  part_start=$SECONDS
  # shellcheck disable=SC1090
  source "$f"
  echo "-- $(basename "$f"): $((SECONDS - part_start)) s"
done

echo "== go test ./..."
go_start=$SECONDS
log=$(mktemp)
set +e
go test -count=1 -timeout 15m ./... 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -c -E '^FAIL[[:space:]]+github' "$log" || true)
rm -f "$log"
echo "go packages: ${passed} passed, ${failed} failed"
echo "suite: $((SECONDS - suite_start)) s after setup, go test $((SECONDS - go_start)) s"
if [ "$status" -ne 0 ] || [ "$test_failed" -ne 0 ]; then exit 1; fi
