#!/usr/bin/env bash
# Creates a project-local Python virtualenv from a pinned requirements file.
# Usage: scripts/python-env.sh [REQUIREMENTS [VENV_DIR]]
#   default: scripts/requirements-test.txt into .venv
# Idempotent: a second run with unchanged requirements does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
req=${1:-scripts/requirements-test.txt}
venv=${2:-.venv}
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | awk '{print $1}')
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
