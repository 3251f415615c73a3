# shellcheck shell=bash
# The libtorch backend (trainer/torch, build tag `torch`): set libtorch up,
# then build and test it on the CPU. The pure-Go suite runs regardless.
# Sourced by scripts/test.sh.
if ! scripts/test-torch.sh; then
  echo "torch backend: FAILED"
  test_failed=1
fi
