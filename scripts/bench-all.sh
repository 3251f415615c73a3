#!/usr/bin/env bash
# `make bench`: every benchmark beside its peer in one command (shared/perfbench),
# printing one table of ratios ours/peer (higher is better for us) and writing
# bench/results.json. Not part of `make test`.
#
# Environment: BENCH_QUICK=1 runs each case at a small size (a check of the
# harness, under 3 minutes); BENCH_ONLY=metrics,mlp,load,hpo,coldstart picks
# groups (coldstart builds the api and predict bootstraps and a hello-world).
# The peers' Python environments are made on first use: .cache/venv-bench
# (scikit-learn, pandas, pyarrow) and .cache/venv-torch (PyTorch 2.1.0, shared
# with `make bench-torch`) and .cache/venv-hpo (Optuna, shared with
# `make bench-hpo`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/python-env.sh scripts/requirements-bench.txt .cache/venv-bench
scripts/python-env.sh scripts/requirements-bench-torch.txt .cache/venv-torch
scripts/hpo-env.sh .cache/venv-hpo
args=(-out bench/results.json -dir bench/data)
if [ "${BENCH_QUICK:-0}" = 1 ]; then args+=(-quick); fi
if [ -n "${BENCH_ONLY:-}" ]; then args+=(-only "$BENCH_ONLY"); fi
mkdir -p .cache
go build -o .cache/perfbench ./shared/perfbench
.cache/perfbench "${args[@]}"
