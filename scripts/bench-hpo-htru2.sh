#!/usr/bin/env bash
# The HTRU2 pruning bar of `make bench-hpo`, measured through the product's
# own flow: `orrery tune` runs the optimization state machine on the local
# executor, once without a pruner and once with ASHA, the same seed, sampler
# and trials (early stopping off in the trials' base config, so pruning is
# what cuts epochs). Prints both rows, the epochs ASHA saved and the gap in
# best validation AUC-PR.
# Usage: scripts/bench-hpo-htru2.sh BIN TRIALS EPOCHS
set -euo pipefail
bin=$1 trials=$2 epochs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo '{"early_stopping": {"enabled": false}}' > "$work/base.json"
echo
echo "HTRU2 MLP tuning through orrery tune: $trials trials of up to $epochs epochs, Bayesian sampler, seed 5"
printf '%-8s %15s %16s %14s %8s\n' pruner "epochs trained" "best val AUC-PR" "pruned trials" seconds
for pruner in none asha; do
  start=$(date +%s.%N)
  "$bin" tune --home "$work/home-$pruner" --data sample --trials "$trials" --epochs "$epochs" --pruner "$pruner" \
    --strategy bayesian --seed 5 --config "$work/base.json" --json > "$work/$pruner.json"
  end=$(date +%s.%N)
  python3 - "$work/$pruner.json" "$pruner" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
pruned = sum(1 for t in r["trials"] if t["state"] == "PRUNED")
print("%-8s %15.0f %16.4f %14d %8.0f" % (sys.argv[2], r["epochs_trained"], r["best_trial"]["value"], pruned,
                                       float(sys.argv[4]) - float(sys.argv[3])))
PY
done
python3 - "$work/none.json" "$work/asha.json" <<'PY'
import json, sys
none, asha = (json.load(open(p)) for p in sys.argv[1:3])
cut = 1 - asha["epochs_trained"] / none["epochs_trained"]
gap = none["best_trial"]["value"] - asha["best_trial"]["value"]
print("pruning cut epochs by %.0f%% (bar >= 50%%); best AUC-PR gap %.4f (bar <= 0.005)" % (100 * cut, gap))
PY
