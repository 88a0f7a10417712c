#!/usr/bin/env bash
# Mneme next to llama.cpp on the same weights, the same threads and the same prompt, in one run.
#
#   tools/bench/llama-side-by-side.sh --cli build/release/bin/mneme-cli [--model DIR] [--threads N]
#       [--prompt-tokens P] [--gen-tokens G] [--reps R] [--work DIR] [--speed-only]
#
# 1. llama.cpp: the node-llama-cpp npm package (prebuilt CPU libllama, and its own source bundle
#    for the headers and gguf-py) is installed into WORK, and tools/bench/llama-run.c is compiled
#    against it. Nothing fetched is copied into the source tree.
# 2. The model: DIR, or a random ~0.5 GB V3-shaped checkpoint from make-bench-model.py. It is
#    exported to GGUF three times: F32 and BF16 (exactly the checkpoint's weights) and Q8_0
#    (llama.cpp's usual 8-bit format, about as many bytes as FP8).
# 3. Logits first: Mneme's logits for a short prompt against llama.cpp's on the F32 export with a
#    float32 KV cache and flash attention off (llama.cpp's CPU flash attention rounds through
#    float16), i.e. the same numbers through two independent implementations; then against the
#    Q8_0 export as timed. The speed figures mean little if the first check disagrees.
# 4. Speed: `mneme-cli bench --json` and llama-run on the Q8_0 and BF16 GGUFs (each with spinning
#    and with sleeping pool workers, the better kept), same prompt ids, threads,
#    prompt length and decode steps; then the ratios Mneme / llama.cpp.
# --speed-only skips step 3 and exports Q8_0 only (for models too large for an F32 copy).
# Load averages are printed with the figures: on a shared machine they explain a lot.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
CLI="" MODEL="" THREADS=2 PROMPT=128 GEN=32 REPS=2 WORK="$ROOT/build/llama-side-by-side" CHECK=1
NLC_VERSION=3.22.1
while [ $# -gt 0 ]; do
    case "$1" in
        --cli) CLI=$2; shift 2 ;;
        --model) MODEL=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --prompt-tokens) PROMPT=$2; shift 2 ;;
        --gen-tokens) GEN=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --speed-only) CHECK=0; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$CLI" ] || { echo "give --cli PATH/TO/mneme-cli (a Release build)" >&2; exit 2; }
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
say() { echo "[side-by-side] $*" >&2; }

# -- 1. llama.cpp from npm ---------------------------------------------------------------------
NPM_DIR=$WORK/npm
BINS=$NPM_DIR/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
if [ ! -f "$BINS/libllama.v0.5.0.so" ]; then
    say "installing node-llama-cpp@$NLC_VERSION into $NPM_DIR"
    mkdir -p "$NPM_DIR"
    (cd "$NPM_DIR" && npm install --no-audit --no-fund --ignore-scripts \
        "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION" >&2)
fi
SRC=$WORK/llama-src
if [ ! -d "$SRC/include" ]; then
    say "unpacking the package's llama.cpp source bundle (headers, gguf-py)"
    git clone -q "$NPM_DIR/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$SRC" 2>/dev/null
fi
RUN=$WORK/llama-run
if [ ! -x "$RUN" ] || [ "$ROOT/tools/bench/llama-run.c" -nt "$RUN" ]; then
    gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -I"$SRC/include" -I"$SRC/ggml/include" \
        "$ROOT/tools/bench/llama-run.c" -o "$RUN" -L"$BINS" -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so \
        -l:libggml-base.so -Wl,-rpath,"$BINS"
fi

# -- 2. the weights, twice in GGUF ----------------------------------------------------------------
if [ -z "$MODEL" ]; then
    MODEL=$WORK/models/v3-0.5g
    [ -f "$MODEL/config.json" ] || $PY "$ROOT/tools/bench/make-bench-model.py" --out "$MODEL" >&2
fi
NAME=$(basename "$MODEL")
EXPORTS="f32 bf16 q8_0" TIMED="q8_0 bf16"
[ $CHECK = 1 ] || EXPORTS=q8_0 TIMED=q8_0
for t in $EXPORTS; do
    g=$WORK/models/$NAME-$t.gguf
    if [ ! -f "$g" ] || [ "$MODEL/config.json" -nt "$g" ]; then
        mkdir -p "$WORK/models"
        $PY "$ROOT/tools/bench/export-gguf.py" --model "$MODEL" --out "$g" --type $t --gguf-py "$SRC/gguf-py" >&2
    fi
done
VOCAB=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$MODEL/config.json")
ids() { $PY -c "import numpy as np,sys; r=np.random.default_rng(int(sys.argv[3])); \
print(','.join(map(str, r.integers(3, int(sys.argv[1]), int(sys.argv[2])))))" "$VOCAB" "$1" "$2"; }

# -- 3. logits agreement ------------------------------------------------------------------------
CHECK_IDS=$(ids 16 7)
[ $CHECK = 1 ] && "$CLI" logits --model "$MODEL" --threads "$THREADS" --tokens "$CHECK_IDS" --out "$WORK/mneme-logits.npy" >&2
for t in $([ $CHECK = 1 ] && echo f32 q8_0); do
    flags=()
    [ $t = f32 ] && flags=(--kv f32 --flash-attn 0)
    "$RUN" --model "$WORK/models/$NAME-$t.gguf" --bins "$BINS" --tokens "$CHECK_IDS" --threads "$THREADS" \
        "${flags[@]}" --logits-out "$WORK/llama-logits-$t.f32" >/dev/null
    $PY "$ROOT/tools/bench/compare-logits.py" "$WORK/mneme-logits.npy" "$WORK/llama-logits-$t.f32" --label "$t" \
        > "$WORK/logits-$t.json"
    say "logits vs llama.cpp $t: $(cat "$WORK/logits-$t.json")"
done

# -- 4. speed, same prompt ids, threads, lengths --------------------------------------------------
PROMPT_IDS=$(ids "$PROMPT" 11)
load() { cut -d' ' -f1-3 /proc/loadavg; }
L0=$(load)
"$CLI" bench --model "$MODEL" --threads "$THREADS" --tokens "$PROMPT_IDS" --gen-tokens "$GEN" --reps "$REPS" --json \
    > "$WORK/mneme.json"
L1=$(load)
# llama.cpp gets its better thread-pool setting per figure: spinning workers (ggml's default) or
# sleeping ones, which win when the machine is oversubscribed.
for t in $TIMED; do
    for poll in 50 0; do
        "$RUN" --model "$WORK/models/$NAME-$t.gguf" --bins "$BINS" --tokens "$PROMPT_IDS" --threads "$THREADS" \
            --gen-tokens "$GEN" --reps "$REPS" --poll $poll > "$WORK/llama-$t-poll$poll.json"
    done
    $PY -c "import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:3]); \
print(json.dumps(dict(a, prefill_tps=max(a['prefill_tps'], b['prefill_tps']), decode_tps=max(a['decode_tps'], \
b['decode_tps']), poll='best of 50 and 0', runs=[a, b])))" \
        "$WORK/llama-$t-poll50.json" "$WORK/llama-$t-poll0.json" > "$WORK/llama-$t.json"
done
L2=$(load)

$PY - "$WORK" "$L0" "$L1" "$L2" "$TIMED" "$CHECK" <<'EOF'
import json, sys
work, l0, l1, l2, timed, check = sys.argv[1:7]
m = json.load(open(f"{work}/mneme.json"))
rows = {t: json.load(open(f"{work}/llama-{t}.json")) for t in timed.split()}
logits = {t: json.load(open(f"{work}/logits-{t}.json")) for t in ("f32", "q8_0")} if check == "1" else {}
print(f"model {m['model']}: {m['threads']} threads, prompt {m['prompt_tokens']} tokens, {m['gen_tokens']} decode steps")
print(f"machine: bandwidth {m['bandwidth_gbs']:.1f} GB/s, GEMM peak {m['gemm_peak_gflops']:.1f} GFLOP/s; "
      f"load average {l0} (start) / {l1} (after Mneme) / {l2} (after llama.cpp)")
for t, c in logits.items():
    print(f"logits vs llama.cpp {t}: top-1 agreement {100 * c['top1_agreement']:.1f}% over {c['positions']} positions, "
          f"max relative error {c['max_rel_error']:.2e} (mean {c['mean_rel_error']:.2e})")
print(f"{'':24s} {'prefill tok/s':>14s} {'decode tok/s':>13s}")
print(f"{'Mneme (FP8 weights)':24s} {m['prefill_tps']:14.1f} {m['decode_tps']:13.1f}   "
      f"decode {m['decode_roofline_pct']:.1f}% of roofline, prefill {m['prefill_peak_pct']:.1f}% of GEMM peak")
for t, r in rows.items():
    print(f"{'llama.cpp ' + t:24s} {r['prefill_tps']:14.1f} {r['decode_tps']:13.1f}")
for t, r in rows.items():
    print(f"ratio Mneme / llama.cpp {t}: prefill {m['prefill_tps'] / r['prefill_tps']:.2f}x, "
          f"decode {m['decode_tps'] / r['decode_tps']:.2f}x")
json.dump({"mneme": m, "llama_cpp": rows, "logits": logits, "load_average": [l0, l1, l2]},
          open(f"{work}/side-by-side.json", "w"), indent=1)
EOF
