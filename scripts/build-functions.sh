#!/usr/bin/env bash
# Builds every Lambda function (each functions/<name>/ with a main package, except local/, which is the
# `orrery` binary) as a static `bootstrap` for the provided.al2023 runtime and zips it:
#   dist/functions/<name>.zip  (holding one executable file, bootstrap)
# Usage: scripts/build-functions.sh [NAME ...]     default: every function
# Environment: GOARCH (default arm64; the smoke test builds amd64), OUT (default dist/functions).
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${GOARCH:-arm64}
out=${OUT:-dist/functions}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for dir in functions/*/; do
    name=$(basename "$dir")
    [ "$name" = local ] && continue
    [ -f "$dir/main.go" ] || continue
    names+=("$name")
  done
fi
mkdir -p "$out"
for name in "${names[@]}"; do
  work="$out/$name"
  rm -rf "$work" "$out/$name.zip"
  mkdir -p "$work"
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -tags lambda.norpc -trimpath -ldflags='-s -w' \
    -o "$work/bootstrap" "./functions/$name"
  if command -v zip >/dev/null; then
    (cd "$work" && zip -q -X "../$name.zip" bootstrap)
  else
    # zipfile keeps the file mode, so bootstrap stays executable.
    (cd "$work" && python3 -m zipfile -c "../$name.zip" bootstrap)
  fi
  rm -rf "$work"
  echo "$out/$name.zip ($arch, $(du -h "$out/$name.zip" | cut -f1))"
done
