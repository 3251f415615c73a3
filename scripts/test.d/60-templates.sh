# shellcheck shell=bash
# Sourced by scripts/test.sh: synthesizes the CDK app once per environment (dev, staging, prod, each with the CI
# stack) and runs both template checkers over the same output:
#   cfn-lint (pinned in scripts/requirements-templates.txt): any error fails; warnings are counted. The one
#     suppression is on the state machines (E3601, see infra/stacks/pipeline.go).
#   checkov: any failed check not accepted in infra/checkov-accepted.md fails.
# The app's own cdk-nag run is part of the synth: an unsuppressed finding fails it.
# Both checkers install into .cache/venv-templates on the first run.
templates_start=$(date +%s)
templates_dir=.cache/infra/templates
scripts/python-env.sh scripts/requirements-templates.txt .cache/venv-templates
go build -o .cache/infra/cdk-app ./infra
rm -rf "$templates_dir"
templates_ok=1
# The three synths run at once (each is one node process, mostly waiting on jsii), and so do the two checkers.
declare -A synth_pids=()
for env in dev staging prod; do
  mkdir -p "$templates_dir/$env"
  # The app run as the CDK CLI runs it (cdk.json's `go run ./infra`): output directory and context from the
  # environment. GitHub repository: any owner/name adds the CI stack to what is checked; dev also gets the MLflow
  # mirror (its tracking function and schedule), so both checkers see it.
  extra_context=""
  [ "$env" = dev ] && extra_context=',"mlflowTrackingUri":"https://mlflow.example.org","mlflowTokenSecret":"orrery/mlflow-token"'
  JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_OUTDIR="$templates_dir/$env" \
    CDK_CONTEXT_JSON="{\"env\":\"$env\",\"githubRepo\":\"orrery-ml/orrery\"$extra_context}" \
    .cache/infra/cdk-app > "$templates_dir/$env.log" 2>&1 &
  synth_pids[$env]=$!
done
for env in dev staging prod; do
  if ! wait "${synth_pids[$env]}"; then
    echo "synth $env failed:"; grep -v '^\[WARNING\]\|^  Use `' "$templates_dir/$env.log" | tail -40
    templates_ok=0
  fi
done
templates_synth=$(date +%s)
if [ "$templates_ok" = 1 ]; then
  .cache/venv-templates/bin/cfn-lint --format parseable -- "$templates_dir"/*/*.template.json > "$templates_dir/cfn-lint.txt" &
  cfnlint_pid=$!
  set +e
  .cache/venv-templates/bin/checkov -d "$templates_dir" --framework cloudformation --output json --quiet --compact \
    --skip-download > "$templates_dir/checkov.json" 2> "$templates_dir/checkov.err"
  wait "$cfnlint_pid"
  cfnlint_rc=$?
  set -e
  cfnlint_errors=$(grep -c ':E[0-9]' "$templates_dir/cfn-lint.txt" || true)
  cfnlint_warnings=$(grep -c ':W[0-9]' "$templates_dir/cfn-lint.txt" || true)
  echo "cfn-lint: $(ls "$templates_dir"/*/*.template.json | wc -l) templates, ${cfnlint_errors} errors, ${cfnlint_warnings} warnings"
  if [ "$cfnlint_errors" != 0 ] || [ $((cfnlint_rc & 1)) != 0 ]; then
    grep ':E[0-9]' "$templates_dir/cfn-lint.txt" || cat "$templates_dir/cfn-lint.txt"
    templates_ok=0
  fi
  if ! .cache/venv-templates/bin/python - "$templates_dir/checkov.json" infra/checkov-accepted.md <<'PY'
import fnmatch, json, sys

report, accepted_file = sys.argv[1], sys.argv[2]
accepted = []
for line in open(accepted_file):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 3 and cells[0].startswith("CKV"):
        if len(cells[2]) < 40:
            sys.exit(f"{accepted_file}: the reason for {cells[0]} {cells[1]} is too short to say why")
        accepted.append((cells[0], cells[1]))
data = json.load(open(report))
runs = data if isinstance(data, list) else [data]
if not runs or any("results" not in r for r in runs):
    sys.exit(f"checkov wrote no results to {report}")
passed = failed = 0
unlisted = []
covered = {}
for run in runs:
    passed += run["summary"]["passed"]
    for f in run["results"]["failed_checks"]:
        failed += 1
        rule = next(((c, p) for c, p in accepted if c == f["check_id"] and fnmatch.fnmatchcase(f["resource"], p)), None)
        if rule is None:
            unlisted.append(f"{f['check_id']} {f['resource']} ({f['file_path']}): {f['check_name']}")
        else:
            covered[rule] = covered.get(rule, 0) + 1
unused = [f"{c} {p}" for c, p in accepted if (c, p) not in covered]
print(f"checkov: {passed} passed, {failed} failed, {failed - len(unlisted)} of them accepted "
      f"({len(accepted)} rows of {accepted_file}), {len(unlisted)} not accepted")
for u in unlisted:
    print("  not accepted:", u)
for u in unused:
    print("  accepted but no longer failing (remove the row):", u)
sys.exit(1 if unlisted or unused else 0)
PY
  then
    templates_ok=0
  fi
fi
templates_end=$(date +%s)
echo "templates: synth $((templates_synth - templates_start)) s, checks $((templates_end - templates_synth)) s"
if [ "$templates_ok" != 1 ]; then test_failed=1; fi
