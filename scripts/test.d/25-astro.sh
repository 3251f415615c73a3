# shellcheck shell=bash
# Sourced by scripts/test.sh: builds the test virtualenv (.venv from scripts/requirements-test.txt, with astropy)
# and writes FITS and VOTable files of HTRU2 rows with astropy (scripts/gen_astro_fixtures.py) into
# .cache/astro-fixtures, then exports ORRERY_TEST_ASTRO_FIXTURES for the Go tests that read them. Those tests skip
# with a message naming the variable when it is unset, so a plain `go test ./...` still works.
scripts/python-env.sh
astro_fixtures=.cache/astro-fixtures
.venv/bin/python scripts/gen_astro_fixtures.py "$astro_fixtures" --rows 3000
export ORRERY_TEST_ASTRO_FIXTURES="$PWD/$astro_fixtures"
echo "astropy fixtures in $ORRERY_TEST_ASTRO_FIXTURES"
