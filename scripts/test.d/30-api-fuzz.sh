# shellcheck shell=bash
# Sourced by scripts/test.sh: fuzz the HTTP API's request decoders and the
# whole handler for a bounded time each (go test runs one fuzz target per
# invocation). The property each target checks: no panic, and every refusal
# is a 4xx problem naming a field. A failing input is written under
# shared/api/testdata/fuzz/<target>/; commit it as a regression seed.
api_fuzztime=${ORRERY_API_FUZZTIME:-10s}
api_fuzzlog=$(mktemp)
for target in FuzzDecoders FuzzHandler; do
  echo "-- $target for $api_fuzztime"
  if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$api_fuzztime" ./shared/api/ >"$api_fuzzlog" 2>&1; then
    cat "$api_fuzzlog"
    echo "FAIL: $target"
    test_failed=1
  fi
done
rm -f "$api_fuzzlog"
