#!/usr/bin/env bash
# One command on a machine with an NVIDIA GPU: builds the CUDA plugin for that GPU's architecture
# (plus the CPU plugin, mneme-cli and the backend tests), runs the CUDA tests (ops, models, cancel
# inside a prefill pass, asynchronous uploads and the run-ahead limit, with their timings), compares
# `mneme-cli logits --backend cuda` with the float64 CPU path on the tiny golden checkpoints, times
# prefill and decode, and writes a short markdown report.
#
#   tools/gpu-check.sh [OUT_DIR]        (default: $OUT, else ./gpu-check-out)
#
# Environment: BUILD_DIR (default build/gpu-check), JOBS (default: all cores), SKIP_BUILD=1 to reuse
# a build. Designed to finish in a few minutes on a 16-core machine from a clean checkout.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$PWD/gpu-check-out}}
build=${BUILD_DIR:-$root/build/gpu-check}
jobs=${JOBS:-$(nproc)}
mkdir -p "$out"
report=$out/gpu-check.md
log=$out/gpu-check.log
: >"$log"

note() { echo "$*" | tee -a "$report"; }
step() { echo "== $*" | tee -a "$log" >&2; }
# Runs a command with its output in the log and a time limit; returns its status.
run() {
    local limit=$1
    shift
    echo "\$ $*" >>"$log"
    timeout "$limit" "$@" >>"$log" 2>&1
}

: >"$report"
note "# CUDA backend check"
note ""
note "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"

if ! command -v nvidia-smi >/dev/null; then
    note "- **no nvidia-smi: not a GPU machine**"
    exit 1
fi
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
note "- GPU: $gpu (compute capability $cap), CPU cores: $(nproc)"

# --- Build -----------------------------------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    step "configure (architecture $cap)"
    t0=$(date +%s)
    if ! run 300 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMNEME_CUDA=ON \
        -DMNEME_CUDA_ARCHITECTURES="$cap" -DMNEME_VULKAN=OFF -DMNEME_APP=OFF -DMNEME_BUILD_TESTS=ON; then
        note "- **configure failed** (see gpu-check.log)"
        tail -30 "$log"
        exit 1
    fi
    step "build"
    # The plugin's own tests too: catch_discover_tests registers tests only for binaries that were built.
    if ! run 420 cmake --build "$build" -j "$jobs" --target mneme-backend-cuda mneme-backend-cpu mneme-cli \
        mneme-backend-tests mneme-cuda-plugin-tests mneme-cuda-staging-tests; then
        note "- **build failed** (see gpu-check.log)"
        tail -40 "$log"
        exit 1
    fi
    note "- build: $(($(date +%s) - t0)) s (configure + plugin, CLI and tests, -j$jobs)"
fi
cli=$build/bin/mneme-cli

# --- Probe -----------------------------------------------------------------------------------
step "backends"
note ""
note "## Backends"
note '```'
"$cli" backends 2>&1 | tee -a "$report" >>"$log"
note '```'

# --- Tests -----------------------------------------------------------------------------------
step "ctest -L cuda"
note ""
note "## Tests (ctest -L cuda)"
(cd "$build" && timeout 300 ctest -L cuda --no-tests=error -V) >"$out/ctest.log" 2>&1
tests_rc=$?
note '```'
grep -E "tests passed|tests failed|Test +#|No tests were found|op cases ran|max relative error" "$out/ctest.log" |
    tail -40 | tee -a "$report" >/dev/null
note '```'
note "- ctest exit status: $tests_rc (full output: ctest.log)"
# On a GPU machine a skipped CUDA test means the plugin saw no usable device: a failure here.
if grep -q "Skipped" "$out/ctest.log"; then
    note "- **CUDA tests were skipped: the plugin found no usable device** (see the Backends section)"
    tests_rc=1
fi

# What the tests measured about asynchronous uploads (pinned staging), the run-ahead limit and
# cancelling a prefill pass (backend:cuda:cancel): the lines they print.
note ""
note "## Uploads, run-ahead and cancel"
note '```'
grep -E "upload overlap:|run-ahead:|on cuda: cancel " "$out/ctest.log" | sed -E 's/^[0-9]+: //' |
    tee -a "$report" >/dev/null
note '```'

# --- Logits against the CPU ------------------------------------------------------------------
# Max |cuda - cpu_f64| / max |cpu_f64| per golden and mode, with the activation round trips off
# (FORMATS.md §6). The .npy files are float32 [tokens, vocab]; no numpy needed.
compare_npy() {
    python3 - "$1" "$2" <<'EOF'
import struct, sys
def load(p):
    b = open(p, "rb").read()
    hl = struct.unpack("<H", b[8:10])[0]
    data = b[10 + hl:]
    return struct.unpack("<%df" % (len(data) // 4), data)
a, b = load(sys.argv[1]), load(sys.argv[2])
if len(a) != len(b):
    print("shape mismatch"); sys.exit(1)
scale = max(abs(x) for x in b) or 1.0
print("%.3e" % (max(abs(x - y) for x, y in zip(a, b)) / scale))
EOF
}

step "logits"
note ""
note "## Logits, CUDA vs float64 CPU (--act-quant off; limit 5e-4)"
note ""
note "| model | prefill | decode | chunked:3 |"
note "|---|---|---|---|"
logits_dir=$out/logits
mkdir -p "$logits_dir"
for m in v3-tiny v32-tiny v4-tiny v4e-tiny v4e-conv-tiny; do
    dir=$root/tests/golden/$m
    [[ -f $dir/tokens.txt ]] || continue
    tokens=$(tr -d ' \n' <"$dir/tokens.txt")
    run 120 "$cli" logits --model "$dir" --tokens "$tokens" --out "$logits_dir/$m-cpu.npy" --backend cpu \
        --precision f64 --act-quant off
    row="| $m"
    for mode in prefill decode chunked:3; do
        f=$logits_dir/$m-cuda-${mode/:/}.npy
        if run 120 "$cli" logits --model "$dir" --tokens "$tokens" --out "$f" --backend cuda --mode "$mode" \
            --act-quant off; then
            row="$row | $(compare_npy "$f" "$logits_dir/$m-cpu.npy" 2>>"$log" || echo error)"
        else
            row="$row | failed"
        fi
    done
    note "$row |"
done

# --- Timing ----------------------------------------------------------------------------------
# The tiny goldens measure launch overhead more than bandwidth; a larger random checkpoint (the
# "plan" shapes of tools/reference) is generated when python3 has numpy.
step "timing"
note ""
note "## Timing (mneme-cli bench context)"
bench_models=("$root/tests/golden/v32-tiny" "$root/tests/golden/v4-tiny")
if python3 -c "import numpy" 2>/dev/null; then
    if run 120 python3 "$root/tools/reference/gen_checkpoint.py" --family v32 --shapes plan --seed 1 \
        --out "$out/v32-plan"; then
        bench_models+=("$out/v32-plan")
    fi
fi
for dir in "${bench_models[@]}"; do
    for backend in cuda cpu; do
        note ""
        note "### $(basename "$dir") on $backend ($(du -sh --apparent-size "$dir" | cut -f1) checkpoint)"
        note '```'
        timeout 120 "$cli" bench context --model "$dir" --lengths 64,256 --decode-steps 16 --backend "$backend" \
            2>&1 | tail -8 | tee -a "$report" >>"$log"
        note '```'
    done
done

note ""
note "Full log: gpu-check.log; test output: ctest.log."
echo "report: $report" >&2
exit $tests_rc
