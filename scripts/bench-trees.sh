#!/usr/bin/env bash
# Tree ensembles against scikit-learn and LightGBM, peers in the same
# command (scripts/bench_trees.py): quality on HTRU2 and a synthetic
# 4-class catalog, training time on BENCH_TREES_ROWS x 20 rows (default
# 1M; BENCH_QUICK=1: 50k, a check of the harness) with 2 threads,
# prediction throughput. Needs Python 3.11; makes .cache/venv-trees from
# scripts/requirements-bench-trees.txt. BENCH_TREES_ONLY=quality|speed runs
# one half. ORRERY_BENCH_CATALOGS=DIR adds the public catalogs found there
# (magic04.data, sdss_dr14.csv; see README) to the quality half, each
# checked by SHA-256. Quality is repeated on BENCH_TREES_SPLITS stratified
# splits (default 5; BENCH_QUICK=1: 1); BENCH_TREES_SETS=a,b picks the sets.
# BENCH_TREES_ES=N: the early-stopped boosting comparison's patience (default
# 10; 0: not run). BENCH_TREES_KINDS=gbdt,rf,gbdt-es picks the comparisons;
# BENCH_TREES_FOREST_SEEDS=S (default 3) fits each forest with S seeds a split.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/python-env.sh scripts/requirements-bench-trees.txt .cache/venv-trees
mkdir -p .cache/bin
go build -o .cache/bin/treebench ./shared/ml/trees/treebench
rows=1000000
splits=5
if [ "${BENCH_QUICK:-0}" = 1 ]; then rows=50000 splits=1; fi
.cache/venv-trees/bin/python scripts/bench_trees.py .cache/bin/treebench events/data/htru2.csv \
  --catalogs "${ORRERY_BENCH_CATALOGS:-}" --splits "${BENCH_TREES_SPLITS:-$splits}" ${BENCH_TREES_SETS:+--sets "$BENCH_TREES_SETS"} \
  --speed-rows "${BENCH_TREES_ROWS:-$rows}" --threads "${BENCH_TREES_THREADS:-2}" --early-stopping "${BENCH_TREES_ES:-10}" \
  ${BENCH_TREES_KINDS:+--kinds "$BENCH_TREES_KINDS"} ${BENCH_TREES_FOREST_SEEDS:+--forest-seeds "$BENCH_TREES_FOREST_SEEDS"} ${BENCH_TREES_ONLY:+--only "$BENCH_TREES_ONLY"}
