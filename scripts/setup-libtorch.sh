#!/usr/bin/env bash
# Sets up libtorch (2.1.0 by default, or 2.11.0) and gotch v0.9.1 for building
# trainer/torch (build tag `torch`), from the package registries only:
#
#   1. downloads PyPI's torch wheel of that version with `pip download
#      --no-deps` (the wheel carries libtorch's headers and shared libraries;
#      nothing is imported from Python) and checks its SHA-256;
#   2. unpacks the headers and the libraries the build needs into
#      $LIBTORCH_HOME/libtorch (CPU: libtorch_cpu, libc10, their bundled
#      OpenMP, and libcudart and libcupti from the NVIDIA runtime wheels the
#      torch wheel pins, which libtorch_cpu loads even without a GPU; CUDA:
#      see below);
#   3. copies the gotch module out of the read-only module cache into
#      $LIBTORCH_HOME/gotch, applies scripts/libtorch/gotch-v0.9.1.patch (the
#      C++ shim's differences between libtorch versions, behind
#      TORCH_VERSION_MAJOR/MINOR, and the version probe the tests use) and
#      writes our own libtch/lib.go there: the cgo flags for this libtorch,
#      the C++ ABI the wheel was built with (_GLIBCXX_USE_CXX11_ABI=0 for
#      2.1.0, =1 for 2.11.0, passed to the C++ compile), and for CPU builds
#      only torch_cpu and c10 on the link line;
#   4. writes $LIBTORCH_HOME/go.work using the repository and that copy, so
#      `GOWORK=$LIBTORCH_HOME/go.work go build -tags torch ./trainer/...`
#      builds against it. The repository's go.mod is never changed.
#
# CUDA: for 2.1.0 every library of the wheel plus all the NVIDIA runtime
# wheels it pins (CUDA 12.1), so a CUDA build also runs here. For 2.11.0 only
# libtorch_cuda and libc10_cuda, linked with --allow-shlib-undefined and
# without the NVIDIA wheels (CUDA 13, several GiB): such a binary is meant to
# run with a host PyTorch 2.11's torch/lib, whose libraries find their own
# NVIDIA runtime (make bench-gpu).
#
# Usage: scripts/setup-libtorch.sh [cpu|cuda] [2.1.0|2.11.0]
#   device default cpu (or $ORRERY_DEVICE); version default 2.1.0 (or
#   $TORCH_VERSION); 2.1 and 2.11 stand for 2.1.0 and 2.11.0.
# Environment: LIBTORCH_HOME (default .cache/libtorch for 2.1.0,
# .cache/libtorch-2.11.0 for 2.11.0), PIP (default pip3).
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

torch_version=${2:-${TORCH_VERSION:-2.1.0}}
gotch_version=v0.9.1
# Per version: the wheel for CPython 3.11 on manylinux x86_64 (any CPython tag
# carries the same libtorch, so the pin does not depend on the host's Python)
# and its platform tag, the C++ ABI it was built with, its bundled OpenMP, the
# two NVIDIA runtime wheels libtorch_cpu itself needs, and for cuda builds the
# NVIDIA wheels to unpack.
case "$torch_version" in
  2.1|2.1.0)
    torch_version=2.1.0
    wheel=torch-2.1.0-cp311-cp311-manylinux1_x86_64.whl
    wheel_sha256=2224622407ca52611cbc5b628106fde22ed8e679031f5a99ce286629fc696128
    wheel_platform=manylinux1_x86_64
    cxx11_abi=0
    gomp='torch/lib/libgomp-*.so.1'
    cpu_nvidia_wheels=(nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105)
    # The NVIDIA runtime wheels torch 2.1.0 declares (CUDA 12.1).
    nvidia_wheels=(
      nvidia-cuda-nvrtc-cu12==12.1.105 nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105
      nvidia-cudnn-cu12==8.9.2.26 nvidia-cublas-cu12==12.1.3.1 nvidia-cufft-cu12==11.0.2.54
      nvidia-curand-cu12==10.3.2.106 nvidia-cusolver-cu12==11.4.5.107 nvidia-cusparse-cu12==12.1.0.106
      nvidia-nccl-cu12==2.18.1 nvidia-nvtx-cu12==12.1.105 nvidia-nvjitlink-cu12==12.1.105
    )
    cuda_members=('torch/include/*' 'torch/lib/*')
    cuda_link_only=0
    default_home=$repo/.cache/libtorch
    ;;
  2.11|2.11.0)
    # 2.11.0 is the only 2.11 release. Its Linux x86_64 wheel is the CUDA 13
    # build; libtorch_cpu has libcudart.so.13 and libcupti.so.13 as NEEDED
    # entries, so even CPU tests need those two wheels (cuda-toolkit 13.0.2's
    # cudart and cupti pins), about 5 MiB of libraries.
    torch_version=2.11.0
    wheel=torch-2.11.0-cp311-cp311-manylinux_2_28_x86_64.whl
    wheel_sha256=7aa2f9bbc6d4595ba72138026b2074be1233186150e9292865e04b7a63b8c67a
    wheel_platform=manylinux_2_28_x86_64
    cxx11_abi=1
    gomp='torch/lib/libgomp.so.1'
    cpu_nvidia_wheels=(nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85)
    nvidia_wheels=()
    cuda_members=('torch/include/*' 'torch/lib/libtorch_cpu.so' 'torch/lib/libc10.so' 'torch/lib/libgomp.so.1'
      'torch/lib/libtorch_cuda.so' 'torch/lib/libc10_cuda.so')
    cuda_link_only=1
    default_home=$repo/.cache/libtorch-2.11.0
    ;;
  *) echo "setup-libtorch: torch version '$torch_version' is not 2.1.0 or 2.11.0" >&2; exit 2 ;;
esac
patch_file=$repo/scripts/libtorch/gotch-$gotch_version.patch

home=${LIBTORCH_HOME:-$default_home}
mkdir -p "$home"
home=$(cd "$home" && pwd)
pip=${PIP:-pip3}
say() { echo "setup-libtorch: $*" >&2; }

# 1. The wheel.
mkdir -p "$home/wheel"
if [ ! -f "$home/wheel/$wheel" ]; then
  say "downloading torch==$torch_version (530-640 MiB, once)"
  "$pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp --platform "$wheel_platform" \
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
stamp="$lt/.unpacked-$torch_version-$device"
if [ ! -f "$stamp" ]; then
  say "unpacking libtorch $torch_version ($device) into $lt"
  rm -rf "$lt" "$lt.part"
  mkdir -p "$lt.part"
  members=('torch/include/*' 'torch/lib/libtorch_cpu.so' 'torch/lib/libc10.so' "$gomp")
  if [ "$device" = cuda ]; then members=("${cuda_members[@]}"); fi
  unzip -q -o "$home/wheel/$wheel" "${members[@]}" -d "$lt.part"
  mv "$lt.part/torch/include" "$lt.part/include"
  mv "$lt.part/torch/lib" "$lt.part/lib"
  rmdir "$lt.part/torch"
  # The wheel's libraries find the NVIDIA runtime through rpaths into
  # site-packages; here they all live in one lib directory instead. Even
  # libtorch_cpu needs libcudart and libcupti to load (for its profiler); they
  # load without a GPU.
  wanted=("${cpu_nvidia_wheels[@]}")
  if [ "$device" = cuda ] && [ "$cuda_link_only" = 0 ]; then wanted=("${nvidia_wheels[@]}"); fi
  # The NVIDIA wheels carry several manylinux tags (2014, 2_17, 2_25, ...).
  platforms=()
  for tag in manylinux1 manylinux2014 manylinux_2_17 manylinux_2_24 manylinux_2_25 manylinux_2_27 manylinux_2_28; do
    platforms+=(--platform "${tag}_x86_64")
  done
  "$pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp "${platforms[@]}" \
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
# The patch, applied once per content: a changed patch file means a fresh copy.
patch_sum=$(sha256sum "$patch_file" | cut -c1-16)
if [ ! -f "$gotch/.patched-$patch_sum" ]; then
  if ls "$gotch"/.patched-* >/dev/null 2>&1; then
    rm -rf "$gotch"
    cp -R "$src" "$gotch"
    chmod -R u+w "$gotch"
    touch "$gotch/.copied-$gotch_version"
  fi
  # git apply (git is there wherever the repository is), kept from finding a
  # repository above the copy so that the paths are the copy's own.
  if ! (cd "$gotch" && GIT_CEILING_DIRECTORIES=$(dirname "$gotch") git apply -p1 "$patch_file"); then
    say "$patch_file does not apply to gotch $gotch_version in $gotch"
    exit 1
  fi
  touch "$gotch/.patched-$patch_sum"
fi
ldflags="-L$lt/lib -Wl,-rpath,$lt/lib -ltorch_cpu -lc10 -lstdc++"
if [ "$device" = cuda ] && [ "$cuda_link_only" = 1 ]; then
  # The NVIDIA libraries libtorch_cuda needs are not here: let their symbols
  # stay unresolved at link time; the host's torch/lib resolves them at run time.
  ldflags="-L$lt/lib -Wl,-rpath,$lt/lib -Wl,--allow-shlib-undefined -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed -ltorch_cpu -lc10 -lstdc++"
elif [ "$device" = cuda ]; then
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
// #cgo CPPFLAGS: -D_GLIBCXX_USE_CXX11_ABI=$cxx11_abi
// #cgo CXXFLAGS: -std=c++17 -O0 -D_GLIBCXX_USE_CXX11_ABI=$cxx11_abi -Wno-deprecated-declarations -Wno-c++11-narrowing
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
