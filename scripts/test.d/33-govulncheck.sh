# shellcheck shell=bash
# Sourced by scripts/test.sh: govulncheck (pinned) over every package, failing
# on a reachable vulnerability. The database is a pinned snapshot: built from
# the golang.org/x/vulndb module (its data/osv reports, fetched through the
# module proxy like any module) with that module's own indexdb command, into
# .cache/govulndb — so the check is the same on every machine and a report
# published tomorrow cannot turn a past commit red; move vulndb_version
# forward to take newer reports. ORRERY_GOVULNDB (a URL, or
# file:///path/to/a/mirror) checks against another database instead. A
# database that cannot be had is reported as NOT RUN, loudly — never as a
# pass.
govulncheck_version=v1.1.4
vulndb_version=v0.0.0-20261105234957-e22db6528018
vuln_log=$(mktemp)
vuln_db=${ORRERY_GOVULNDB:-}
if [ -z "$vuln_db" ]; then
  local_db=.cache/govulndb/$vulndb_version
  if [ ! -f "$local_db/index/db.json" ]; then
    vulndb_dir=$(go mod download -json "golang.org/x/vulndb@$vulndb_version" 2>/dev/null | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    if [ -n "$vulndb_dir" ] && [ -d "$vulndb_dir/data/osv" ]; then
      rm -rf "$local_db.tmp"
      go run "golang.org/x/vulndb/cmd/indexdb@$vulndb_version" -vulns "$vulndb_dir/data/osv" -out "$local_db.tmp" >"$vuln_log" 2>&1 \
        && mv "$local_db.tmp" "$local_db" || cat "$vuln_log"
    fi
  fi
  if [ -f "$local_db/index/db.json" ]; then
    vuln_db="file://$PWD/$local_db"
    echo "govulncheck: the database built from golang.org/x/vulndb@$vulndb_version ($(ls "$local_db"/ID/*.json | wc -l) reports)"
  fi
fi
vuln_args=()
[ -n "$vuln_db" ] && vuln_args+=(-db "$vuln_db")
echo "govulncheck: $(go version | awk '{print $3}'), database ${vuln_db:-default}"
if go run "golang.org/x/vuln/cmd/govulncheck@${govulncheck_version}" "${vuln_args[@]}" ./... >"$vuln_log" 2>&1; then
  tail -n 3 "$vuln_log"
elif grep -q "fetching vulnerabilities" "$vuln_log"; then
  echo "govulncheck NOT RUN: the vulnerability database cannot be reached from this machine:"
  grep "fetching vulnerabilities" "$vuln_log" | head -1
else
  grep -E "^Vulnerability|Found in|Fixed in|^Your code" "$vuln_log" || cat "$vuln_log"
  echo "FAIL: govulncheck found reachable vulnerabilities"
  test_failed=1
fi
rm -f "$vuln_log"
