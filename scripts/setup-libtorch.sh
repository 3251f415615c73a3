#!/usr/bin/env bash
# Sets up libtorch 2.1.0 and gotch v0.9.1 for building trainer/torch (build
# tag `torch`), from the package registries only:
#
#   1. downloads PyPI's torch==2.1.0 wheel with `pip download --no-deps` (the
#      wheel carries libtorch's headers and shared libraries; nothing is
#      imported from Python) and checks its SHA-256;
#   2. unpacks the headers and the libraries the build needs into
#      $LIBTORCH_HOME/libtorch (CPU: libtorch_cpu, libc10, their bundled
#      OpenMP, and libcudart and libcupti from the NVIDIA runtime wheels
#      torch 2.1.0 pins, which libtorch_cpu loads even without a GPU; CUDA:
#      every library of the wheel plus all the NVIDIA runtime wheels);
#   3. copies the gotch module out of the read-only module cache into
#      $LIBTORCH_HOME/gotch and writes our own libtch/lib.go there: the cgo
#      flags for this libtorch, the C++ ABI the wheel was built with
#      (_GLIBCXX_USE_CXX11_ABI=0, passed to the C++ compile), and for CPU
#      builds only torch_cpu and c10 on the link line;
#   4. writes $LIBTORCH_HOME/go.work using the repository and that copy, so
#      `GOWORK=$LIBTORCH_HOME/go.work go build -tags torch ./trainer/...`
#      builds against it. The repository's go.mod is never changed.
#
# Usage: scripts/setup-libtorch.sh [cpu|cuda]     (default cpu, or $ORRERY_DEVICE)
# Environment: LIBTORCH_HOME (default .cache/libtorch), PIP (default pip3).
# It prints the GOWORK line to use. Idempotent: a second run checks stamps and
# does nothing else (about a second).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

device=${1:-${ORRERY_DEVICE:-cpu}}
case "$device" in
  cpu|cuda) ;;
  *) echo "setup-libtorch: device '$device' is not cpu or cuda" >&2; exit 2 ;;
esac

torch_version=2.1.0
gotch_version=v0.9.1
# The wheel for CPython 3.11 on manylinux x86_64; any CPython tag carries the
# same libtorch, so the pin does not depend on the host's Python.
wheel=torch-2.1.0-cp311-cp311-manylinux1_x86_64.whl
wheel_sha256=2224622407ca52611cbc5b628106fde22ed8e679031f5a99ce286629fc696128
# The NVIDIA runtime wheels torch 2.1.0 declares (CUDA 12.1), for cuda builds.
nvidia_wheels=(
  nvidia-cuda-nvrtc-cu12==12.1.105 nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105
  nvidia-cudnn-cu12==8.9.2.26 nvidia-cublas-cu12==12.1.3.1 nvidia-cufft-cu12==11.0.2.54
  nvidia-curand-cu12==10.3.2.106 nvidia-cusolver-cu12==11.4.5.107 nvidia-cusparse-cu12==12.1.0.106
  nvidia-nccl-cu12==2.18.1 nvidia-nvtx-cu12==12.1.105 nvidia-nvjitlink-cu12==12.1.105
)

# The two of them libtorch_cpu itself needs.
cpu_nvidia_wheels=(nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105)

home=${LIBTORCH_HOME:-$repo/.cache/libtorch}
mkdir -p "$home"
home=$(cd "$home" && pwd)
pip=${PIP:-pip3}
say() { echo "setup-libtorch: $*" >&2; }

# 1. The wheel.
mkdir -p "$home/wheel"
if [ ! -f "$home/wheel/$wheel" ]; then
  say "downloading torch==$torch_version (about 640 MiB, once)"
  "$pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp --platform manylinux1_x86_64 \
    -d "$home/wheel.part" "torch==$torch_version"
  mv "$home/wheel.part/$wheel" "$home/wheel/$wheel"
  rm -rf "$home/wheel.part"
fi
if [ ! -f "$home/wheel/$wheel.ok" ]; then
  got=$(sha256sum "$home/wheel/$wheel" | awk '{print $1}')
  if [ "$got" != "$wheel_sha256" ]; then
    say "$wheel has SHA-256 $got, want $wheel_sha256; removing it"
    rm -f "$home/wheel/$wheel"
    exit 1
  fi
  touch "$home/wheel/$wheel.ok"
fi

# 2. Headers and libraries.
lt=$home/libtorch
stamp="$lt/.unpacked-$device"
if [ ! -f "$stamp" ]; then
  say "unpacking libtorch $torch_version ($device) into $lt"
  rm -rf "$lt" "$lt.part"
  mkdir -p "$lt.part"
  members=('torch/include/*' 'torch/lib/libtorch_cpu.so' 'torch/lib/libc10.so' 'torch/lib/libgomp-*.so.1')
  if [ "$device" = cuda ]; then members=('torch/include/*' 'torch/lib/*'); fi
  unzip -q -o "$home/wheel/$wheel" "${members[@]}" -d "$lt.part"
  mv "$lt.part/torch/include" "$lt.part/include"
  mv "$lt.part/torch/lib" "$lt.part/lib"
  rmdir "$lt.part/torch"
  # The wheel's libraries find the NVIDIA runtime through rpaths into
  # site-packages; here they all live in one lib directory instead. Even
  # libtorch_cpu needs libcudart and libcupti to load (for its profiler); they
  # load without a GPU.
  wanted=("${cpu_nvidia_wheels[@]}")
  if [ "$device" = cuda ]; then wanted=("${nvidia_wheels[@]}"); fi
  "$pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp --platform manylinux1_x86_64 --platform manylinux2014_x86_64 \
    -d "$home/wheel" "${wanted[@]}"
  for spec in "${wanted[@]}"; do
    name=${spec%%==*}; version=${spec#*==}
    for w in "$home"/wheel/"${name//-/_}-$version"-*.whl; do
      unzip -q -o "$w" 'nvidia/*/lib/*' -d "$lt.part/nvidia"
    done
  done
  find "$lt.part/nvidia" -name '*.so*' -exec mv -f {} "$lt.part/lib/" \;
  rm -rf "$lt.part/nvidia"
  mv "$lt.part" "$lt"
  touch "$stamp"
fi

# 3. gotch, copied out of the module cache with our own libtch/lib.go.
src=$(cd "$repo" && go mod download -json "github.com/sugarme/gotch@$gotch_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
if [ -z "$src" ] || [ ! -d "$src" ]; then
  say "go mod download github.com/sugarme/gotch@$gotch_version gave no module directory"
  exit 1
fi
gotch=$home/gotch
if [ ! -f "$gotch/.copied-$gotch_version" ]; then
  rm -rf "$gotch"
  cp -R "$src" "$gotch"
  chmod -R u+w "$gotch"
  touch "$gotch/.copied-$gotch_version"
fi
ldflags="-L$lt/lib -Wl,-rpath,$lt/lib -ltorch_cpu -lc10 -lstdc++"
if [ "$device" = cuda ]; then
  # --no-as-needed: nothing references libtorch_cuda directly, but its static
  # initialisers register the CUDA backend with libtorch_cpu.
  ldflags="-L$lt/lib -Wl,-rpath,$lt/lib -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed -ltorch_cpu -lc10 -lstdc++"
fi
# The C++ wrapper is thin glue around libtorch calls: -O0 compiles it in about
# a fifth of the CPU time of -O2 (43 s against several minutes here) and costs
# no measurable training throughput (make bench-torch).
libgo=$(mktemp)
cat > "$libgo" <<EOF
// Code generated by scripts/setup-libtorch.sh ($device) for libtorch $torch_version in $lt; DO NOT EDIT.

package libtch

// #cgo CFLAGS: -I\${SRCDIR} -O3 -Wall -Wno-unused-variable -Wno-deprecated-declarations -Wno-sign-compare -Wno-unused-function
// #cgo CPPFLAGS: -D_GLIBCXX_USE_CXX11_ABI=0
// #cgo CXXFLAGS: -std=c++17 -O0 -D_GLIBCXX_USE_CXX11_ABI=0 -Wno-deprecated-declarations -Wno-c++11-narrowing
// #cgo CXXFLAGS: -I\${SRCDIR} -I$lt/include -I$lt/include/torch/csrc/api/include
// #cgo LDFLAGS: $ldflags
import "C"
EOF
if ! cmp -s "$libgo" "$gotch/libtch/lib.go"; then
  mv "$libgo" "$gotch/libtch/lib.go"
else
  rm -f "$libgo"
fi

# 4. The workspace that swaps our copy in.
gover=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$repo/go.mod")
work=$(mktemp)
printf 'go %s\n\nuse (\n\t%s\n\t%s\n)\n' "$gover" "$repo" "$gotch" > "$work"
if ! cmp -s "$work" "$home/go.work"; then mv "$work" "$home/go.work"; else rm -f "$work"; fi

echo "GOWORK=$home/go.work"
