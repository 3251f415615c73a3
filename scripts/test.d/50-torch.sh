# shellcheck shell=bash
# The libtorch backend (trainer/torch, build tag `torch`): set libtorch up,
# then build and test it on the CPU against libtorch 2.1.0 (make test-torch-2.11
# tests 2.11.0). The pure-Go suite runs regardless.
# Sourced by scripts/test.sh.
if ! scripts/test-torch.sh 2.1.0; then
  echo "torch backend: FAILED"
  test_failed=1
fi
