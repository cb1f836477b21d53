#!/usr/bin/env bash
# One entry point for people and CI: `bash run.sh demo` runs the main job, `bash run.sh test` runs every test,
# `bash run.sh docs` builds the documentation site into _docs/ (and README.md from nbs/index.ipynb),
# `bash run.sh lab` opens JupyterLab on the notebooks (nbs/), serving the whole repository.
# Each creates (or reuses) the project-local virtual environment .venv and installs what it needs into it.
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
    # DeepSpeed (its version from settings.ini) is an sdist whose setup imports torch: built against the torch above, without
    # build isolation (an isolated build would fetch a CUDA torch of several GB) and without its C++ ops (DS_BUILD_OPS=0).
    DS_BUILD_OPS=0 .venv/bin/python -m pip install -q --no-build-isolation "$(grep -o 'deepspeed==[0-9.]*' settings.ini)"
    .venv/bin/python -m pip install -q -e ".[dev]"
    echo "$want" > "$stamp"
  fi
  # Kernels started from .venv read .venv/etc/ipython/ (tools/ipython_kernel_config.py says what it changes).
  mkdir -p .venv/etc/ipython && cp tools/ipython_kernel_config.py .venv/etc/ipython/ipython_kernel_config.py
  export PATH="$PWD/.venv/bin:$PATH"
  # No MPLBACKEND here: notebook kernels (demo, sweep, lab, nbdev_test) draw inline figures, and the command line
  # chooses Agg itself where it draws (brainvlm prepare/demo).
}

setup_chromium() {
  # tests/test_docs.py drives Debian's Chromium (headless); install it when it is missing and we are root.
  command -v chromium >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run.sh: installing Debian's chromium for the docs browser test" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
      echo "run.sh: could not install chromium" >&2
  fi
  command -v chromium >/dev/null 2>&1 || echo "run.sh: no chromium: tests/test_docs.py skips (and fails in CI)" >&2
}

setup_debian_data() {
  # Real test data from Debian: a head CT series (invesalius-examples: 01_io, 02_cohorts) and MRIcron's
  # templates and atlases (mricron-data). Installed when missing and we are root; without them the CT cells
  # skip (and fail in CI).
  local missing=() pkg
  for pkg in invesalius-examples mricron-data; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run.sh: installing Debian's ${missing[*]} (test data)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
      echo "run.sh: could not install ${missing[*]}" >&2
  else
    echo "run.sh: ${missing[*]} not installed (needs root and apt): the cells that use them skip (and fail in CI)" >&2
  fi
}

check_readme() {
  # README.md is generated from nbs/index.ipynb (tools/build_docs.py): it must be exactly what the notebook gives.
  python tools/build_docs.py --readme-only
  local diff
  diff=$(git status --porcelain -- README.md)
  if [ -n "$diff" ]; then
    echo "run.sh: README.md is not what nbs/index.ipynb gives (edit the notebook, run \`bash run.sh docs\`, commit both):" >&2
    git --no-pager diff -- README.md >&2
    exit 1
  fi
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
    setup_chromium
    setup_debian_data
    check_clean
    check_readme
    nbdev_test --n_workers 2 --timing
    python -m pytest -q -n 2 --dist loadfile --durations=12 tests "$@"
    ;;
  docs)
    setup
    python tools/build_docs.py "$@"
    ;;
  lab)
    # JupyterLab on nbs/ (the file browser opens there; the repository root is served, so configs and outputs are
    # reachable). Extra arguments go to `jupyter lab`, e.g. `bash run.sh lab --no-browser --port 8890`.
    # allow_root: containers often run as root, where Jupyter refuses to start without it (a no-op otherwise).
    setup
    unset MPLBACKEND  # the kernels draw inline figures, whatever the calling shell set (Agg is for the command line's own plots)
    exec jupyter lab --ServerApp.root_dir="$PWD" --LabApp.default_url=/lab/tree/nbs --ServerApp.allow_root=True "$@"
    ;;
  setup)
    setup
    setup_chromium
    setup_debian_data
    ;;
  *)
    echo "usage: bash run.sh demo|test|docs|lab|setup [args]" >&2; exit 2
    ;;
esac
