#!/usr/bin/env bash
# CPU (or GPU) throughput of the Go/libtorch trainer against PyTorch 2.1.0 in
# Python on the same MLP, threads and batch size, in one run; prints both and
# their ratio. Not part of `make test`.
#
# Environment: THREADS (default: the number of cores), EPOCHS (5), BATCH (128),
# ORRERY_DEVICE (cpu or cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-$(nproc)}
epochs=${EPOCHS:-5}
batch=${BATCH:-128}
device=${ORRERY_DEVICE:-cpu}

gowork=$(scripts/setup-libtorch.sh "$device")
PIP_CACHE_DIR=$PWD/.cache/pip PIP_FIND_LINKS=$PWD/.cache/libtorch/wheel \
  scripts/python-env.sh scripts/requirements-bench-torch.txt .cache/venv-torch

echo "== Go/libtorch (gotch) and PyTorch 2.1.0: $device, $threads threads, batch $batch, $epochs epochs of HTRU2"
go_out=$(env "$gowork" OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" ORRERY_DEVICE="$device" \
  ORRERY_BENCH_EPOCHS="$epochs" ORRERY_BENCH_BATCH="$batch" \
  go test -tags torch -run '^$' -bench 'BenchmarkTrain(Torch|Gonum)$' -benchtime 1x -count 1 ./trainer/torch/)
echo "$go_out" | grep -E '^Benchmark'
go_torch=$(echo "$go_out" | awk '/^BenchmarkTrainTorch/ {for (i = 1; i < NF; i++) if ($(i+1) == "samples/s") print $i}')
go_gonum=$(echo "$go_out" | awk '/^BenchmarkTrainGonum/ {for (i = 1; i < NF; i++) if ($(i+1) == "samples/s") print $i}')
py_out=$(OMP_NUM_THREADS="$threads" .cache/venv-torch/bin/python scripts/bench_torch.py \
  --threads "$threads" --epochs "$epochs" --batch "$batch" --device "$device")
echo "PyTorch: $py_out"
py=$(echo "$py_out" | sed -n 's/.*"samples_per_s": \([0-9.e+-]*\).*/\1/p')
awk -v g="$go_torch" -v p="$py" -v n="$go_gonum" 'BEGIN {
  printf "samples/s  go-libtorch %.0f  pytorch %.0f  go-gonum %.0f\n", g, p, n
  printf "ratio go-libtorch / pytorch = %.2f   (go-gonum / pytorch = %.2f)\n", g / p, n / p
}'
