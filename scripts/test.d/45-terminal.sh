# shellcheck shell=bash
# Sourced by scripts/test.sh: makes sure tmux (Debian's package) is there for functions/local's
# TestTerminalSession, which runs train -> tune -> train-best -> evaluate -> compare -> deploy in a
# 100-column tmux pane and checks each command's progress and final screen. The install is guarded: only
# when tmux is missing, and only as root with apt-get; otherwise the test says tmux is missing and skips.
if ! command -v tmux >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing tmux"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tmux >/dev/null ||
      { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tmux >/dev/null; } ||
      echo "tmux could not be installed; TestTerminalSession will skip"
  else
    echo "tmux is missing and cannot be installed here; TestTerminalSession will skip"
  fi
fi
if command -v tmux >/dev/null 2>&1; then
  ORRERY_TEST_TMUX="$(command -v tmux)"
  export ORRERY_TEST_TMUX
  echo "tmux: $("$ORRERY_TEST_TMUX" -V)"
fi
