#!/usr/bin/env bash
# One entry point for a fresh machine: creates .venv with the pinned environment, then
#   ./dev.sh run     -> python -m t2i_ext selftest (tiny random UNet + adapter; no download)
#   ./dev.sh test    -> the test suite
#   ./dev.sh bench   -> benchmarks (not part of the tests)
#   ./dev.sh python … -> anything else inside the environment
set -euo pipefail
cd "$(dirname "$0")"
venv=.venv
stamp=$venv/.installed
reqs=(requirements-test.txt requirements-test-nodeps.txt)

if [ ! -f "$stamp" ] || [ -n "$(find "${reqs[@]}" -newer "$stamp" 2>/dev/null)" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements-test.txt
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements-test-nodeps.txt
  touch "$stamp"
fi
py="$venv/bin/python"

cmd=${1:-run}; shift || true
case "$cmd" in
  run)   exec "$py" -m t2i_ext selftest "$@" ;;
  test)
    # pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
    set +e; "$py" -m pytest -q "$@"; rc=$?; set -e
    if [ "$rc" -eq 5 ]; then echo "no tests were collected: failing on purpose" >&2; exit 1; fi
    exit "$rc" ;;
  bench) exec "$py" -m bench "$@" ;;
  python) exec "$py" "$@" ;;
  *) echo "usage: ./dev.sh [run|test|bench|python ARGS...]" >&2; exit 2 ;;
esac
