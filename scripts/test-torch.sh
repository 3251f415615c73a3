#!/usr/bin/env bash
# Sets libtorch up (scripts/setup-libtorch.sh) and builds, vets and tests the
# libtorch backend and the trainer with the `torch` build tag on the CPU.
#
# Usage: scripts/test-torch.sh [2.1.0|2.11.0]   (default 2.1.0, or $TORCH_VERSION)
# `make test-torch` runs it for 2.1.0 and `make test-torch-2.11` for 2.11.0;
# scripts/test.d/50-torch.sh runs the 2.1.0 half in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-${TORCH_VERSION:-2.1.0}}
gowork=$(scripts/setup-libtorch.sh cpu "$version")
major_minor=$(echo "$version" | cut -d. -f1,2)
# One libtorch thread: OpenMP threads spinning on a shared 2-core machine cost
# more than they bring on networks this small. TestLibtorchVersion checks the
# build links the version asked for.
export "$gowork" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} ORRERY_TEST_TORCH_VERSION=$major_minor
go vet -tags torch ./trainer/...
go test -tags torch -count=1 -timeout 10m ./trainer/...
