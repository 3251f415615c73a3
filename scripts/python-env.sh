#!/usr/bin/env bash
# Creates the project-local Python virtualenv (.venv, git-ignored) with the
# pinned test tools from scripts/requirements-test.txt. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements.sha256
want=$(sha256sum scripts/requirements-test.txt | awk '{print $1}')
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
echo "$want" > "$stamp"
