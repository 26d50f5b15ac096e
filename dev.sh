#!/usr/bin/env bash
# One entry point for a fresh machine: creates .venv with the pinned environment, then
#   ./dev.sh run     -> python -m t2i_train.showcase: a photo's condition map steering a tiny UNet through an adapter
#                       fitted on the spot, with and without it; a labelled PNG and a report (no download, CPU)
#   ./dev.sh test    -> the test suite (in .venv, the A1111 v1.10.1 pins), then the Forge tests in .venv-forge
#                       (Forge's pins: gradio 4, pydantic 2)
#   ./dev.sh bench   -> benchmarks (not part of the tests)
#   ./dev.sh setup   -> only builds both environments (.ci/run times the tests without the build)
#   ./dev.sh python … -> anything else inside the environment, in the folder you call it from (this repository is on
#                       the import path, so a script of yours can `import t2i_ext`); dev.sh may be a link
set -euo pipefail
caller=$PWD
root=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
cd "$root"
# make_venv DIR LABEL REQUIREMENTS NODEPS_REQUIREMENTS: (re)create DIR when a requirements file is newer than its
# stamp. One line per step with its time; pip's own output goes to DIR/install.log, shown when a step fails.
make_venv() {
  local dir=$1 label=$2 stamp=$1/.installed
  if [ ! -f "$stamp" ] || [ -n "$(find "$3" "$4" -newer "$stamp" 2>/dev/null)" ]; then
    local log
    log=$(mktemp)
    step "creating $dir ($label)" "$log" python3 -m venv "$dir"
    mv "$log" "$dir/install.log"
    log=$dir/install.log
    step "installing $3 into $dir" "$log" "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$3"
    step "installing $4 into $dir (without their dependencies)" "$log" \
      "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$4"
    touch "$stamp"
  fi
}
# step LABEL LOG COMMAND...: prints "LABEL… N s"; the command's output is appended to LOG, whose end is shown on failure
step() {
  local label=$1 log=$2 start=$SECONDS rc=0
  shift 2
  printf '%s… ' "$label"
  "$@" >>"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    printf 'failed after %d s (exit %d); the end of %s:\n' $((SECONDS - start)) "$rc" "$log"
    tail -n 20 "$log" | grep -v "^WARNING: Location 'file:" >&2
    exit 1
  fi
  printf '%d s\n' $((SECONDS - start))
}
make_venv .venv "A1111 v1.10.1 pins" requirements-test.txt requirements-test-nodeps.txt
py=.venv/bin/python
# what runs again under Forge's pins: the Forge stand-in (its panel is built with gradio 4), the HTTP routes (pydantic 2)
# the CLIP vision loader and the trainer behind the Train tab (transformers 4.46)
forge_tests=(tests/forge tests/host/test_api.py tests/host/test_api_guard.py tests/annotators_models/test_clip_vision.py
  tests/webui/test_train_tab.py)

cmd=${1:-run}; shift || true
case "$cmd" in
  run)   exec "$py" -m t2i_train.showcase "$@" ;;
  setup) make_venv .venv-forge "Forge's pins" requirements-forge.txt requirements-forge-nodeps.txt ;;
  test)
    # pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
    # the whole suite in two processes (one per core; tests/conftest.py keeps the stand-ins' tests together); a
    # chosen subset in one
    if [ "$#" -eq 0 ]; then set -- -n 2 --dist loadgroup; whole=1; else whole=0; fi
    set +e; "$py" -m pytest -q "$@"; rc=$?; set -e
    if [ "$rc" -eq 5 ]; then echo "no tests were collected: failing on purpose" >&2; exit 1; fi
    if [ "$rc" -ne 0 ] || [ "$whole" -eq 0 ]; then exit "$rc"; fi  # a chosen subset runs in .venv only
    make_venv .venv-forge "Forge's pins" requirements-forge.txt requirements-forge-nodeps.txt
    echo "Forge's pins (gradio 4.40, pydantic 2.8, fastapi 0.104):"
    set +e; .venv-forge/bin/python -m pytest -q "${forge_tests[@]}"; rc=$?; set -e
    if [ "$rc" -eq 5 ]; then echo "no Forge tests were collected: failing on purpose" >&2; exit 1; fi
    exit "$rc" ;;
  bench) exec "$py" -m bench "$@" ;;
  python) cd "$caller"; PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$root/$py" "$@" ;;
  *) echo "usage: ./dev.sh [run|test|bench|setup|python ARGS...]" >&2; exit 2 ;;
esac
