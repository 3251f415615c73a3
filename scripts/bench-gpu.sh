#!/usr/bin/env bash
# `make bench-gpu`: the GPU check of the libtorch backend, packed to run as is
# on a GPU host that has its own PyTorch and no Go toolchain or registry access.
#
#   scripts/bench-gpu.sh pack   builds the bundle .cache/bench-gpu.tar.gz (at most
#                               64 MiB): the trainer/torch benchmark binary built here
#                               against libtorch $TORCH_VERSION (default 2.11, the host's
#                               PyTorch) for $DEVICE (cuda by default), the PyTorch peer
#                               script, HTRU2 and run.sh.
#   scripts/bench-gpu.sh cpu    packs a CPU bundle against libtorch $TORCH_VERSION (default
#                               2.1, the version of .cache/venv-torch's PyTorch) and runs it
#                               here against the local libtorch and that venv (the CPU half
#                               of the check).
#
# On the GPU host: tar xzf bench-gpu.tar.gz && bench-gpu/run.sh (PYTHON= the host's
# Python with torch; DEVICE=cuda; EPOCHS=, BATCH=). run.sh points the binary at the
# host's torch/lib, samples `nvidia-smi` once a second while each side trains, and
# prints samples/s of the Go/libtorch trainer and PyTorch eager on the same MLP and
# device, their ratio (goal >= 0.9) and the mean GPU utilisation of each. It takes
# well under 5 minutes at the default 20 epochs.
#
# The binary links the libtorch major.minor it was built against (the C++ ABI and
# symbols differ between versions); run.sh refuses a host torch of another minor
# version with a message naming both, rather than failing on missing symbols.
# For 2.11 the CUDA build links libtorch_cuda without the NVIDIA wheels
# (scripts/setup-libtorch.sh): the host's torch/lib brings them.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-pack}
case "$mode" in
  pack) device=${DEVICE:-cuda}; version=${TORCH_VERSION:-2.11} ;;
  cpu) device=cpu; version=${TORCH_VERSION:-2.1} ;;
  *) echo "bench-gpu: mode '$mode' is not pack or cpu" >&2; exit 2 ;;
esac
case "$mode:$version" in
  cpu:2.1|cpu:2.1.0) ;;
  cpu:*) echo "bench-gpu: MODE=cpu runs against .cache/venv-torch's PyTorch 2.1, not libtorch $version (TORCH_VERSION=2.1)" >&2; exit 2 ;;
esac
bundle=.cache/bench-gpu
gowork=$(scripts/setup-libtorch.sh "$device" "$version")
rm -rf "$bundle" && mkdir -p "$bundle/trainer/torch" "$bundle/events/data"
env "$gowork" CGO_ENABLED=1 go test -c -tags torch -o "$bundle/trainer/torch/torchbench.test" ./trainer/torch/
cp scripts/bench_torch.py "$bundle/"
cp events/data/htru2.csv "$bundle/events/data/"
echo "$version" | cut -d. -f1,2 > "$bundle/libtorch-version"
cat > "$bundle/run.sh" <<'RUN'
#!/usr/bin/env bash
# The bench-gpu bundle's entry point; see scripts/bench-gpu.sh in the Orrery repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
device=${DEVICE:-cuda}
epochs=${EPOCHS:-20}
batch=${BATCH:-128}
threads=${THREADS:-$(nproc)}
want=$(cat "$here/libtorch-version")
read -r have torch_lib < <("$python" -c 'import os, torch; print(".".join(torch.__version__.split(".")[:2]), os.path.join(os.path.dirname(torch.__file__), "lib"))')
if [ "$have" != "$want" ]; then
  echo "bench-gpu: the host's PyTorch is $have; this bundle's binary was built against libtorch $want." >&2
  echo "bench-gpu: pack a bundle for it where Go is: TORCH_VERSION=$have make bench-gpu (scripts/setup-libtorch.sh knows 2.1 and 2.11)." >&2
  exit 3
fi
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# util FILE CMD...: runs CMD while sampling the GPU's utilisation into FILE.
util() {
  local file=$1; shift
  : > "$file"
  local pid=""
  if [ "$device" = cuda ] && command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 1000 > "$file" 2>/dev/null &
    pid=$!
  fi
  local rc=0
  "$@" || rc=$?
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi
  return $rc
}
mean() { awk '{s += $1; n++} END {if (n) printf "%.0f%%", s / n; else print "n/a"}' "$1"; }
echo "== bench-gpu: $device, batch $batch, $epochs epochs of HTRU2 (8-64-32-1), torch $have from $torch_lib"
go_out=$(cd "$here/trainer/torch" && util "$here/util-go.txt" env ORRERY_DEVICE="$device" OMP_NUM_THREADS="$threads" \
  ORRERY_BENCH_EPOCHS="$epochs" ORRERY_BENCH_BATCH="$batch" \
  ./torchbench.test -test.run '^$' -test.bench '^BenchmarkTrainTorch$' -test.benchtime 1x -test.count 1)
echo "$go_out" | grep -E '^Benchmark'
go_rate=$(echo "$go_out" | awk '/^BenchmarkTrainTorch/ {for (i = 1; i < NF; i++) if ($(i+1) == "samples/s") print $i}')
py_out=$(cd "$here" && util "$here/util-py.txt" env OMP_NUM_THREADS="$threads" "$python" bench_torch.py \
  --data events/data/htru2.csv --threads "$threads" --epochs "$epochs" --batch "$batch" --device "$device")
echo "PyTorch: $py_out"
py_rate=$(echo "$py_out" | sed -n 's/.*"samples_per_s": \([0-9.e+-]*\).*/\1/p')
awk -v g="$go_rate" -v p="$py_rate" -v ug="$(mean "$here/util-go.txt")" -v up="$(mean "$here/util-py.txt")" 'BEGIN {
  printf "samples/s  go-libtorch %.0f (GPU busy %s)  pytorch %.0f (GPU busy %s)\n", g, ug, p, up
  printf "ratio go-libtorch / pytorch = %.2f   (goal >= 0.90)\n", g / p
}'
RUN
chmod +x "$bundle/run.sh"
tar -C .cache -czf .cache/bench-gpu.tar.gz bench-gpu
size=$(stat -c %s .cache/bench-gpu.tar.gz)
echo "bench-gpu: bundle .cache/bench-gpu.tar.gz, $((size / 1048576)) MiB ($device, libtorch $(cat "$bundle/libtorch-version"))"
if [ "$size" -gt $((64 * 1048576)) ]; then
  echo "bench-gpu: the bundle is over the 64 MiB a GPU host accepts" >&2
  exit 1
fi
if [ "$mode" = cpu ]; then
  PIP_CACHE_DIR=$PWD/.cache/pip PIP_FIND_LINKS=$PWD/.cache/libtorch/wheel \
    scripts/python-env.sh scripts/requirements-bench-torch.txt .cache/venv-torch >&2
  # The local libtorch stands in for the host's torch/lib: the venv's torch is the same 2.1.0.
  PYTHON=$PWD/.cache/venv-torch/bin/python DEVICE=cpu EPOCHS=${EPOCHS:-3} "$bundle/run.sh"
fi
