# shellcheck shell=bash
# Sourced by scripts/test.sh: finds Debian's chromium (installing it with apt-get when it is absent and this user
# may install packages) and exports ORRERY_TEST_CHROMIUM for the Go tests that load the HTML reports in headless
# Chromium (shared/reports, shared/reports/headless), and ORRERY_TEST_ARTIFACTS, where they keep their screenshots
# (.cache/test-artifacts, not committed). Without a browser those tests skip naming the variable.
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium_bin" ] && command -v apt-get >/dev/null 2>&1; then
  apt_run=()
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then apt_run=(sudo -n); else apt_run=(); fi
  fi
  if [ "$(id -u)" -eq 0 ] || [ ${#apt_run[@]} -gt 0 ]; then
    echo "installing chromium with apt-get"
    "${apt_run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null ||
      { "${apt_run[@]}" apt-get update >/dev/null &&
        "${apt_run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; } ||
      echo "could not install chromium; the browser tests will skip"
    chromium_bin=$(command -v chromium || true)
  fi
fi
if [ -n "$chromium_bin" ]; then
  export ORRERY_TEST_CHROMIUM="$chromium_bin"
  export ORRERY_TEST_ARTIFACTS="$PWD/.cache/test-artifacts"
  mkdir -p "$ORRERY_TEST_ARTIFACTS"
  echo "browser tests use $ORRERY_TEST_CHROMIUM; screenshots under $ORRERY_TEST_ARTIFACTS/reports"
else
  echo "no chromium: the browser tests skip (ORRERY_TEST_CHROMIUM unset)"
fi
