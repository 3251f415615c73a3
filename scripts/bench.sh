#!/usr/bin/env bash
# Benchmarks of the pure-Go engine (not part of `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchmem -count 1 ./shared/ml/nn/... ./shared/ml/training/... ./shared/ml/evaluation/... ./shared/dataset/...
scripts/bench-tracking.sh
scripts/bench-trees.sh  # tree ensembles vs scikit-learn and LightGBM (peers in the same command)
