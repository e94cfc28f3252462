#!/usr/bin/env bash
# Issue 14's one device check, prepared here and run once on the GPU machine (its own Python 3.12
# with a CUDA torch, a transformers newer than adapters 1.3 accepts, no network):
#
#   bash bench/gpu_device.sh wheels     # here: the project's pinned libraries as Python 3.12 wheels,
#                                       # into .device-wheels/ (~44 MB; numpy, scipy, pandas, pyarrow,
#                                       # matplotlib are left to the machine's own site packages)
#   bash bench/gpu_device.sh run        # there (the `run` tool, carry .device-wheels): a venv over the
#                                       # machine's site packages (its CUDA torch), the wheels installed
#                                       # without dependencies, then nvidia-smi, the GPU tests,
#                                       # bench/gpu.py and a packed mini-study with --runs-per-gpu auto;
#                                       # everything it writes goes to $OUT
#   bash bench/gpu_device.sh rehearse   # here, on the CPU: the same steps at tiny sizes, fake GPUs
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=.device-wheels
OUT=${OUT:-/tmp/gpu-device-out}
mkdir -p "$OUT"
export XLTUI_DATA=${XLTUI_DATA:-$PWD/shared/data}
[ -d "$XLTUI_DATA" ] || export XLTUI_DATA=$PWD/../shared/data
HEAVY='^(torch|nvidia-|triton|numpy|scipy|pandas|pyarrow|matplotlib|scikit.learn|pillow|sympy|fonttools|networkx|jinja2|kiwisolver|contourpy|mpmath|ruff|xltui|gt-all)'

case "${1:-}" in
wheels)
    rm -rf "$WHEELS" && mkdir -p "$WHEELS"
    .venv/bin/pip freeze --exclude-editable | grep -viE "$HEAVY" > "$WHEELS/requirements.txt"
    while read -r req; do  # wheels for 3.12 where published, else built here (pure-Python sdists: seqeval)
        .venv/bin/pip download -q --python-version 3.12 --only-binary=:all: --no-deps -d "$WHEELS" "$req" \
            >/dev/null 2>&1 || .venv/bin/pip wheel -q --no-deps -w "$WHEELS" "$req" >/dev/null \
            || { echo "no wheel for $req" >&2; exit 1; }
    done < "$WHEELS/requirements.txt"
    du -sh "$WHEELS"
    ;;
run)
    nvidia-smi | tee "$OUT/nvidia-smi.txt"
    python3 -m venv --system-site-packages /tmp/xltui-venv
    /tmp/xltui-venv/bin/pip install -q --no-index --no-deps "$WHEELS"/*.whl 2>&1 | tail -3
    /tmp/xltui-venv/bin/pip install -q --no-index --no-deps --no-build-isolation -e . 2>&1 | tail -3
    . /tmp/xltui-venv/bin/activate
    python -c "import torch, transformers, adapters; print('torch', torch.__version__, 'cuda', torch.version.cuda,
               torch.cuda.get_device_name(0), '| transformers', transformers.__version__, '| adapters',
               adapters.__version__)" | tee "$OUT/versions.txt"
    timeout 200 python -m pytest -q -p no:cacheprovider tests/training/test_gpu.py 2>&1 | tail -15 | tee "$OUT/gpu-tests.txt"
    timeout 420 python bench/gpu.py --steps 20 --pack 1,2,4,8 --train-sentences 1500 --json "$OUT/gpu.json" \
        2>&1 | grep -v "^Some weights\|^You should\|^There are adapters" | tee "$OUT/bench-gpu.txt"
    ;;
rehearse)
    . .venv/bin/activate
    timeout 300 python -m pytest -q -p no:cacheprovider tests/runner/test_admission.py tests/training/test_gpu.py 2>&1 | tail -3 \
        | tee "$OUT/tests.txt"
    timeout 300 python bench/gpu.py --tiny --steps 3 --pack 1,2 --train-sentences 200 --json "$OUT/gpu.json" \
        2>&1 | grep -v "^Some weights\|^You should\|^There are adapters" | tee "$OUT/bench-gpu.txt"
    ;;
*)
    sed -n 2,16p "$0"; exit 2
    ;;
esac
