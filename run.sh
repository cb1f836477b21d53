#!/usr/bin/env bash
# One entry point for people and CI: `bash run.sh demo` runs the main job, `bash run.sh test` runs every test.
# Both create (or reuse) the project-local virtual environment .venv and install what they need into it.
set -euo pipefail
cd "$(dirname "$0")"

setup() {
  local py="${PYTHON:-}"
  if [ -z "$py" ]; then
    for c in python3.11 python3; do command -v "$c" >/dev/null 2>&1 && py="$c" && break; done
  fi
  [ -n "$py" ] || { echo "run.sh: Python 3.11 not found (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  local stamp=.venv/.brainvlm-installed want
  want=$(cat settings.ini setup.py | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    # The CPU build of torch first: an unpinned torch would pull several GB of CUDA libraries.
    .venv/bin/python -m pip install -q torch==2.13.0
    .venv/bin/python -m pip install -q -e ".[dev]"
    echo "$want" > "$stamp"
  fi
  export PATH="$PWD/.venv/bin:$PATH"
  export MPLBACKEND=Agg
}

check_clean() {
  # The package must be exactly what the notebooks export, and the notebooks must be clean.
  nbdev_export
  nbdev_clean
  local diff
  diff=$(git status --porcelain -- brainvlm nbs)
  if [ -n "$diff" ]; then
    echo "run.sh: nbdev_export/nbdev_clean left a diff (run them and commit):" >&2
    echo "$diff" >&2
    git --no-pager diff --stat -- brainvlm nbs >&2
    exit 1
  fi
}

cmd="${1:-}"; shift || true
case "$cmd" in
  demo)
    setup
    brainvlm demo --out outputs/demo "$@"
    ;;
  test)
    setup
    check_clean
    nbdev_test --n_workers 2 --timing
    python -m pytest -q tests "$@"
    ;;
  setup)
    setup
    ;;
  *)
    echo "usage: bash run.sh demo|test|setup [args]" >&2; exit 2
    ;;
esac
