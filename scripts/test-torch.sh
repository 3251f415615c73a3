#!/usr/bin/env bash
# Sets libtorch up (scripts/setup-libtorch.sh) and builds, vets and tests the
# libtorch backend and the trainer with the `torch` build tag on the CPU.
# `make test-torch` runs it; scripts/test.d/50-torch.sh runs it in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
gowork=$(scripts/setup-libtorch.sh cpu)
# One libtorch thread: OpenMP threads spinning on a shared 2-core machine cost
# more than they bring on networks this small.
export "$gowork" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
go vet -tags torch ./trainer/...
go test -tags torch -count=1 -timeout 10m ./trainer/...
