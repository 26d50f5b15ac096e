#!/usr/bin/env bash
# One entry point for a fresh machine: creates .venv with the pinned environment, then
#   ./dev.sh run     -> python -m t2i_ext selftest (tiny random UNet + adapter; no download)
#   ./dev.sh test    -> the test suite (in .venv, the A1111 v1.10.1 pins), then the Forge tests in .venv-forge
#                       (Forge's pins: gradio 4, pydantic 2)
#   ./dev.sh bench   -> benchmarks (not part of the tests)
#   ./dev.sh python … -> anything else inside the environment
set -euo pipefail
cd "$(dirname "$0")"
# make_venv DIR REQUIREMENTS NODEPS_REQUIREMENTS: (re)create DIR when a requirements file is newer than its stamp
make_venv() {
  local dir=$1 stamp=$1/.installed
  if [ ! -f "$stamp" ] || [ -n "$(find "$2" "$3" -newer "$stamp" 2>/dev/null)" ]; then
    python3 -m venv "$dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$2"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$3"
    touch "$stamp"
  fi
}
make_venv .venv requirements-test.txt requirements-test-nodeps.txt
py=.venv/bin/python
# what runs again under Forge's pins: the Forge stand-in (its panel is built with gradio 4), the HTTP routes (pydantic 2)
# the CLIP vision loader and the trainer behind the Train tab (transformers 4.46)
forge_tests=(tests/forge tests/host/test_api.py tests/host/test_api_guard.py tests/annotators_models/test_clip_vision.py
  tests/webui/test_train_tab.py)

cmd=${1:-run}; shift || true
case "$cmd" in
  run)   exec "$py" -m t2i_ext selftest "$@" ;;
  test)
    # pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
    set +e; "$py" -m pytest -q "$@"; rc=$?; set -e
    if [ "$rc" -eq 5 ]; then echo "no tests were collected: failing on purpose" >&2; exit 1; fi
    if [ "$rc" -ne 0 ] || [ "$#" -gt 0 ]; then exit "$rc"; fi  # a chosen subset runs in .venv only
    make_venv .venv-forge requirements-forge.txt requirements-forge-nodeps.txt
    echo "Forge's pins (gradio 4.40, pydantic 2.8, fastapi 0.104):"
    set +e; .venv-forge/bin/python -m pytest -q "${forge_tests[@]}"; rc=$?; set -e
    if [ "$rc" -eq 5 ]; then echo "no Forge tests were collected: failing on purpose" >&2; exit 1; fi
    exit "$rc" ;;
  bench) exec "$py" -m bench "$@" ;;
  python) exec "$py" "$@" ;;
  *) echo "usage: ./dev.sh [run|test|bench|python ARGS...]" >&2; exit 2 ;;
esac
