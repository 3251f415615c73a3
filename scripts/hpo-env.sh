#!/usr/bin/env bash
# Creates .cache/venv-hpo, the Python side of `make bench-hpo`: Optuna and
# scipy from scripts/requirements-bench-hpo.txt, and torch (for Optuna's
# GPSampler) shared with the torch 2.1.0 venv of `make bench-torch`
# (.cache/venv-torch, made by the same pinned command as scripts/bench-torch.sh)
# through a .pth file, so the machine holds one torch install, not two.
#
# Why not a CPU-only torch: the Linux x86_64 torch wheels of the package
# registry link libtorch_cuda.so, which needs cuBLAS, cuFFT, cuDNN, NCCL, ...
# at import time even without a GPU (checked for 2.1.0: `import torch` fails
# with only the wheel and its two CPU-side NVIDIA wheels installed).
#
# Idempotent: a second run with unchanged pins does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.cache/venv-hpo}
req=scripts/requirements-bench-hpo.txt

PIP_CACHE_DIR=$PWD/.cache/pip PIP_FIND_LINKS=$PWD/.cache/libtorch/wheel \
  scripts/python-env.sh scripts/requirements-bench-torch.txt .cache/venv-torch

stamp="$venv/.requirements.sha256"
want=$(cat "$req" scripts/requirements-bench-torch.txt | sha256sum | awk '{print $1}')
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
# A venv from other pins may hold its own torch, which would shadow the
# shared one: start from scratch.
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
purelib() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
purelib "$PWD/.cache/venv-torch" >"$(purelib "$venv")/orrery-venv-torch.pth"
"$venv/bin/python" -c 'import optuna, torch; optuna.samplers.GPSampler(seed=0)'
echo "$want" > "$stamp"
