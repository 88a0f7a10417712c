#!/usr/bin/env bash
# Mneme next to llama.cpp on the same weights, the same threads and the same prompt, in one run.
#
#   tools/bench/llama-side-by-side.sh --cli build/release/bin/mneme-cli [--model DIR | --preset NAME]
#       [--threads N] [--prompt-tokens P | --context N] [--gen-tokens G] [--reps R | --rounds K] [--work DIR]
#       [--check-tokens C] [--check-mode prefill|decode] [--poll "50 0"] [--timed "q8_0 stored bf16"]
#       [--speed-only]
#
# 1. llama.cpp: the node-llama-cpp npm package (prebuilt CPU libllama, and its own source bundle
#    for the headers and gguf-py) is installed into WORK, and tools/bench/llama-run.c is compiled
#    against it. Nothing fetched is copied into the source tree.
# 2. The model: DIR, or a random checkpoint from make-bench-model.py (--preset, default v3-0.5g;
#    v32-0.5g is the DeepSeek-V3.2 one, with DSA's lightning indexer; a DeepSeek-V4 checkpoint,
#    e.g. build/bench-models/v4-0.5g, is given with --model). It is exported to GGUF
#    four times: F32 and BF16 (exactly the checkpoint's weights), Q8_0 (llama.cpp's usual 8-bit
#    format, about as many bytes as FP8, and half the BF16 LM head's) and "stored" (each matrix at
#    its stored width: FP8 ones as Q8_0, the BF16 embedding and LM head as BF16, so a decode step
#    reads about the bytes Mneme's does); V3 as `deepseek2`, V3.2 as `deepseek32`, V4 as
#    `deepseek4`. V4's routed experts are FP4 (e2m1, one e8m0 scale per 32 weights), which is
#    exactly ggml's MXFP4: the Q8_0 and stored exports carry them bit for bit as MXFP4 (F32 and
#    BF16 decode them, exactly), and the stored export keeps V4's BF16 matrices (embedding, head,
#    compressors) BF16. For V4 `stored` is therefore the fair "same weights" comparison: only the
#    FP8 matrices (attention, shared experts) change format, FP8 -> Q8_0; it is timed first.
# 3. Logits first: Mneme's logits for C random ids (--check-tokens; default 16, for V3.2 twice
#    index_topk, so that sparse selection decides what the later positions see) against
#    llama.cpp's on the F32 export with a float32 KV cache and flash attention off (llama.cpp's
#    CPU flash attention rounds through float16), i.e. the same numbers through two independent
#    implementations; then against the Q8_0 export (V4: the stored one) as timed. The speed
#    figures mean little if the first check disagrees. For V3.2 and V4 Mneme's logits are taken
#    with --act-quant off:
#    llama.cpp rounds no activation through FP8/FP4 (DeepSeek's reference rounds the linears'
#    inputs, the cached latent or KV entries, and the indexer's q/k, FP4 in V4), so only then do
#    both compute the same function. (Mneme is timed with its default, act-quant on.)
#    V4's default check is 4 * index_topk + 2 * sliding_window ids (2304 for the bench model): past
#    the sliding window, past several 128-token compressed blocks, and about 250 positions whose
#    ratio-4 layers see only index_topk of their compressed blocks (the indexer's top-k decides);
#    those positions (t >= 4 * index_topk + 3) are also reported on their own. Fewer ids
#    (--check-tokens 64) check everything but the window and the top-k selection.
#    --check-mode decode takes both engines' logits one token at a time instead (Mneme's
#    `logits --mode decode`, llama-run --batch 1): their single-token decode paths, caches grown a
#    step at a time (V4: the compressors' incremental state), against each other. The F32 export
#    decodes slowly (it reads all its bytes per token), so give it fewer --check-tokens.
# 4. Speed: `mneme-cli bench --json` and llama-run on the Q8_0, stored and BF16 GGUFs (--timed
#    chooses; each with spinning
#    and with sleeping pool workers, the better kept; --poll "50" runs only the first), same
#    prompt ids, threads, prompt length and decode steps; then the ratios Mneme / llama.cpp.
# --context N: the long-context mode. The prompt is N tokens (prefill), then G decode steps at
#    that context; both engines report prefill and decode tok/s there. llama.cpp gets its own
#    default batching (llama_decode calls of 2048 tokens, ubatch 512: a single N-token ubatch would
#    need an N x N x heads score matrix) and a context of N + G tokens; only Q8_0 is timed, one
#    repetition unless --reps says otherwise; Mneme prefills in chunks of 2048; each engine's
#    untimed warm-up prefills 512 tokens.
#    Only Q8_0 (V4: stored) is timed there unless --timed says otherwise.
#    Each engine's wall time is printed, to size longer runs.
# --rounds K: each engine prefills the prompt once, then the two decode G tokens in turn, K rounds
#    (tools/bench/paired-rounds.py; A first in even rounds, llama.cpp first in odd ones), and the
#    ratio of each adjacent pair is reported with their median. Without --context each round also
#    alternates one more prefill of the prompt per engine, reported the same way. On a shared machine the load can
#    change by half between one engine's run and the next, which a ratio of adjacent rounds mostly
#    cancels. llama.cpp keeps the first --poll setting only; one timed type only.
# --speed-only skips step 3 and exports Q8_0 (V4: stored) only (for models too large for an F32
#    copy).
# Load averages are printed with the figures: on a shared machine they explain a lot.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
CLI="" MODEL="" PRESET=v3-0.5g THREADS=2 PROMPT=128 GEN=32 REPS="" WORK="$ROOT/build/llama-side-by-side" CHECK=1
CONTEXT=0 CHECK_TOKENS="" CHECK_MODE=prefill POLLS="50 0" TIMED_ARG="" ROUNDS=0
NLC_VERSION=3.22.1
while [ $# -gt 0 ]; do
    case "$1" in
        --cli) CLI=$2; shift 2 ;;
        --model) MODEL=$2; shift 2 ;;
        --preset) PRESET=$2; shift 2 ;;
        --context) CONTEXT=$2; shift 2 ;;
        --check-tokens) CHECK_TOKENS=$2; shift 2 ;;
        --check-mode) CHECK_MODE=$2; shift 2 ;;
        --poll) POLLS=$2; shift 2 ;;
        --timed) TIMED_ARG=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --prompt-tokens) PROMPT=$2; shift 2 ;;
        --gen-tokens) GEN=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --speed-only) CHECK=0; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$CLI" ] || { echo "give --cli PATH/TO/mneme-cli (a Release build)" >&2; exit 2; }
if [ "$CONTEXT" -gt 0 ]; then PROMPT=$CONTEXT; REPS=${REPS:-1}; else REPS=${REPS:-2}; fi
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
    MODEL=$WORK/models/$PRESET
    [ -f "$MODEL/config.json" ] || $PY "$ROOT/tools/bench/make-bench-model.py" --preset "$PRESET" --out "$MODEL" >&2
fi
NAME=$(basename "$MODEL")
MODEL_TYPE=$($PY -c "import json,sys; print(json.load(open(sys.argv[1])).get('model_type', ''))" "$MODEL/config.json")
# V4: the stored export (MXFP4 experts, BF16 as BF16, FP8 as Q8_0) is the same-weights one.
FAIR=q8_0
[ "$MODEL_TYPE" = deepseek_v4 ] && FAIR=stored
TIMED="q8_0 stored bf16"
[ "$MODEL_TYPE" = deepseek_v4 ] && TIMED="stored q8_0 bf16"
[ "$CONTEXT" -gt 0 ] && TIMED=$FAIR
[ $CHECK = 1 ] || TIMED=$FAIR
[ -n "$TIMED_ARG" ] && TIMED=$TIMED_ARG
# The logits check needs F32 and Q8_0 (V4: stored) whatever is timed.
CHECKED="f32 $FAIR"
EXPORTS=$(echo $([ $CHECK = 1 ] && echo $CHECKED) $TIMED | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' ')
for t in $EXPORTS; do
    g=$WORK/models/$NAME-$t.gguf
    if [ ! -f "$g" ] || [ "$MODEL/config.json" -nt "$g" ]; then
        mkdir -p "$WORK/models"
        $PY "$ROOT/tools/bench/export-gguf.py" --model "$MODEL" --out "$g" --type $t --gguf-py "$SRC/gguf-py" >&2
    fi
done
VOCAB=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$MODEL/config.json")
# V3.2 (DSA): index_topk, else 0. SPARSE: the first position whose attention sees only a top-k
# selection (V3.2: index_topk; V4: 4 * index_topk + 3, when the ratio-4 layers have more complete
# compressed blocks than index_topk).
read -r TOPK SPARSE DEFAULT_CHECK < <($PY -c "import json,sys; c=json.load(open(sys.argv[1])); \
t=c.get('model_type'); k=c.get('index_topk', 0); \
print(*((k, k, 2 * k) if t == 'deepseek_v32' else \
(k, 4 * k + 3, 4 * k + 2 * c['sliding_window']) if t == 'deepseek_v4' else (0, 0, 16)))" "$MODEL/config.json")
case "$CHECK_MODE" in prefill | decode) ;; *) echo "--check-mode must be prefill or decode" >&2; exit 2 ;; esac
MNEME_CHECK_FLAGS=(--mode "$CHECK_MODE")
LLAMA_CHECK_FLAGS=()
[ "$CHECK_MODE" = decode ] && LLAMA_CHECK_FLAGS=(--batch 1)
[ "$TOPK" -gt 0 ] && MNEME_CHECK_FLAGS+=(--act-quant off)
[ -n "$CHECK_TOKENS" ] || CHECK_TOKENS=$DEFAULT_CHECK
ids() { $PY -c "import numpy as np,sys; r=np.random.default_rng(int(sys.argv[3])); \
print(','.join(map(str, r.integers(3, int(sys.argv[1]), int(sys.argv[2])))))" "$VOCAB" "$1" "$2"; }

# -- 3. logits agreement ------------------------------------------------------------------------
CHECK_IDS=$(ids "$CHECK_TOKENS" 7)
[ $CHECK = 1 ] && "$CLI" logits --model "$MODEL" --threads "$THREADS" --tokens "$CHECK_IDS" "${MNEME_CHECK_FLAGS[@]}" \
    --out "$WORK/mneme-logits.npy" >&2
for t in $([ $CHECK = 1 ] && echo $CHECKED); do
    flags=()
    [ $t = f32 ] && flags=(--kv f32 --flash-attn 0)
    "$RUN" --model "$WORK/models/$NAME-$t.gguf" --bins "$BINS" --tokens "$CHECK_IDS" --threads "$THREADS" \
        "${flags[@]}" "${LLAMA_CHECK_FLAGS[@]}" --logits-out "$WORK/llama-logits-$t.f32" >/dev/null
    $PY "$ROOT/tools/bench/compare-logits.py" "$WORK/mneme-logits.npy" "$WORK/llama-logits-$t.f32" --label "$t" \
        --sparse-from "$SPARSE" > "$WORK/logits-$t.json"
    say "logits vs llama.cpp $t: $(cat "$WORK/logits-$t.json")"
done

# -- 4. speed, same prompt ids, threads, lengths --------------------------------------------------
PROMPT_IDS=$(ids "$PROMPT" 11)
echo "$PROMPT_IDS" > "$WORK/prompt-ids.txt"
# Both engines read the ids from the file (one command-line argument holds ~20K ids at most).
MNEME_PROMPT=(--tokens-file "$WORK/prompt-ids.txt")
# Long context: Mneme prefills in chunks of llama.cpp's batch (2048), as an application would, and
# warms up on the first 512 ids, as llama.cpp does.
[ "$CONTEXT" -gt 0 ] && MNEME_PROMPT+=(--prefill-chunk 2048 --warmup-tokens 512)
LLAMA_SPEED=()
[ "$CONTEXT" -gt 0 ] && LLAMA_SPEED=(--batch 2048 --ubatch 512 --warmup-tokens 512)
load() { cut -d' ' -f1-3 /proc/loadavg; }
L0=$(load)
T0=$(date +%s)
if [ "$ROUNDS" -gt 0 ]; then
    t=${TIMED%% *}
    TIMED=$t
    poll=${POLLS%% *}
    A_CMD=$(printf '%q ' "$CLI" bench --model "$MODEL" --threads "$THREADS" "${MNEME_PROMPT[@]}" --gen-tokens "$GEN" \
        --rounds-on-stdin --json)
    B_CMD=$(printf '%q ' "$RUN" --model "$WORK/models/$NAME-$t.gguf" --bins "$BINS" --tokens-file "$WORK/prompt-ids.txt" \
        --threads "$THREADS" --gen-tokens "$GEN" --poll "$poll" "${LLAMA_SPEED[@]}" --rounds-on-stdin)
    # Short prompts: each round also alternates a prefill of each engine (at --context N one
    # prefill takes minutes, so there each engine's single prefill stands).
    PREFILL_ROUNDS=()
    [ "$CONTEXT" -eq 0 ] && PREFILL_ROUNDS=(--prefill-rounds)
    $PY "$ROOT/tools/bench/paired-rounds.py" --rounds "$ROUNDS" --a "$A_CMD" --b "$B_CMD" "${PREFILL_ROUNDS[@]}" \
        --a-out "$WORK/mneme.json" --b-out "$WORK/llama-$t-poll$poll.json" > "$WORK/rounds.json"
    $PY -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(dict(r, poll=sys.argv[2], runs=[r])))" \
        "$WORK/llama-$t-poll$poll.json" "$poll" > "$WORK/llama-$t.json"
    L1=$(load) L2=$(load)
    T1=$(date +%s) T2=$T1
else
    "$CLI" bench --model "$MODEL" --threads "$THREADS" "${MNEME_PROMPT[@]}" --gen-tokens "$GEN" --reps "$REPS" --json \
        > "$WORK/mneme.json"
    L1=$(load)
    T1=$(date +%s)
    # llama.cpp gets its better thread-pool setting per figure: spinning workers (ggml's default) or
    # sleeping ones, which win when the machine is oversubscribed.
    for t in $TIMED; do
        for poll in $POLLS; do
            "$RUN" --model "$WORK/models/$NAME-$t.gguf" --bins "$BINS" --tokens-file "$WORK/prompt-ids.txt" \
                --threads "$THREADS" --gen-tokens "$GEN" --reps "$REPS" --poll $poll "${LLAMA_SPEED[@]}" \
                > "$WORK/llama-$t-poll$poll.json"
        done
        $PY -c "import json,sys; r=[json.load(open(f)) for f in sys.argv[1:]]; \
    print(json.dumps(dict(r[0], prefill_tps=max(x['prefill_tps'] for x in r), decode_tps=max(x['decode_tps'] for x in r), \
    poll='best of ' + ' and '.join(str(x['poll']) for x in r), runs=r)))" \
            $(for poll in $POLLS; do echo "$WORK/llama-$t-poll$poll.json"; done) > "$WORK/llama-$t.json"
    done
    L2=$(load)
    T2=$(date +%s)
fi

$PY - "$WORK" "$L0" "$L1" "$L2" "$TIMED" "$CHECK" "$CONTEXT" "$((T1 - T0))" "$((T2 - T1))" "$CHECK_TOKENS" \
    "$SPARSE" "$MODEL_TYPE" "$CHECKED" "$CHECK_MODE" "$ROUNDS" <<'EOF'
import json, sys
work, l0, l1, l2, timed, check, context, wall_m, wall_l, check_tokens, sparse, model_type, checked, check_mode, \
    rounds = sys.argv[1:16]
m = json.load(open(f"{work}/mneme.json"))
rows = {t: json.load(open(f"{work}/llama-{t}.json")) for t in timed.split()}
logits = {t: json.load(open(f"{work}/logits-{t}.json")) for t in checked.split()} if check == "1" else {}
print(f"model {m['model']} ({m['architecture']}): {m['threads']} threads, prompt {m['prompt_tokens']} tokens, "
      f"{m['gen_tokens']} decode steps")
if context != "0":
    r = next(iter(rows.values()))
    print(f"long context: {context}-token prompt, then decode at that context; llama.cpp batches "
          f"{r['runs'][0]['n_batch']}/{r['runs'][0]['n_ubatch']}, context {r['runs'][0]['n_ctx']} cells; "
          f"{str(rounds) + ' paired rounds' if rounds != '0' else str(m['reps']) + ' timed repetition(s)'}; "
          + (f"wall time of both engines {wall_m} s (prefills, warm-ups and rounds)" if rounds != "0" else
             f"wall time Mneme {wall_m} s, llama.cpp {wall_l} s (all runs, incl. warm-ups)"))
else:
    print(f"wall time of both engines' paired rounds {wall_m} s (prefills and warm-ups included)" if rounds != "0" else
          f"wall time of the timed runs: Mneme {wall_m} s, llama.cpp {wall_l} s (all of them, incl. warm-ups)")
print(f"machine: bandwidth {m['bandwidth_gbs']:.1f} GB/s, GEMM peak {m['gemm_peak_gflops']:.1f} GFLOP/s; "
      f"load average {l0} (start) / {l1} (after Mneme) / {l2} (after llama.cpp)")
for t, c in logits.items():
    print(f"logits vs llama.cpp {t} ({check_mode}): top-1 agreement {100 * c['top1_agreement']:.1f}% over {c['positions']} positions, "
          f"max relative error {c['max_rel_error']:.2e} (mean {c['mean_rel_error']:.2e})")
    if c["first_beyond_1e-4"] > 0:
        print(f"    agreement to {c['max_rel_error_before']:.2e} up to position {c['first_beyond_1e-4']}; "
              f"{c['positions_beyond_1e-4']} positions beyond 1e-4 from there")
    if "sparse" in c:
        sp = c["sparse"]
        print(f"    positions >= {sparse} (sparse selection): top-1 {100 * sp['top1_agreement']:.1f}% over "
              f"{sp['positions']}, max relative error {sp['max_rel_error']:.2e}")
print(f"{'':24s} {'prefill tok/s':>14s} {'decode tok/s':>13s}")
mneme_label = "Mneme (FP8+FP4 weights)" if model_type == "deepseek_v4" else "Mneme (FP8 weights)"
print(f"{mneme_label:24s} {m['prefill_tps']:14.1f} {m['decode_tps']:13.1f}   "
      f"decode {m['decode_roofline_pct']:.1f}% of roofline, prefill {m['prefill_peak_pct']:.1f}% of GEMM peak")
for t, r in rows.items():
    print(f"{'llama.cpp ' + t:24s} {r['prefill_tps']:14.1f} {r['decode_tps']:13.1f}")
for t, r in rows.items():
    print(f"ratio Mneme / llama.cpp {t}: prefill {m['prefill_tps'] / r['prefill_tps']:.2f}x, "
          f"decode {m['decode_tps'] / r['decode_tps']:.2f}x")
paired = json.load(open(f"{work}/rounds.json")) if rounds != "0" else None
if paired:
    print(f"paired decode rounds (each engine prefilled once, rounds alternated): Mneme "
          f"{' '.join(f'{x:.1f}' for x in paired['a'])}, llama.cpp {' '.join(f'{x:.1f}' for x in paired['b'])} tok/s")
    print(f"ratio of adjacent rounds: median {paired['median_ratio']:.2f}x "
          f"(min {paired['min_ratio']:.2f}x, max {paired['max_ratio']:.2f}x over {len(paired['ratios'])} rounds)")
    pp = paired.get("prefill")
    if pp:
        print(f"paired prefill rounds (each round's prefills alternated): Mneme "
              f"{' '.join(f'{x:.1f}' for x in pp['a'])}, llama.cpp {' '.join(f'{x:.1f}' for x in pp['b'])} tok/s")
        print(f"prefill ratio of adjacent rounds: median {pp['median_ratio']:.2f}x "
              f"(min {pp['min_ratio']:.2f}x, max {pp['max_ratio']:.2f}x over {len(pp['ratios'])} rounds)")
json.dump({"mneme": m, "rounds": paired, "llama_cpp": rows, "logits": logits, "load_average": [l0, l1, l2], "context": int(context),
           "check_tokens": int(check_tokens), "check_mode": check_mode, "wall_seconds": {"mneme": int(wall_m), "llama_cpp": int(wall_l)}},
          open(f"{work}/side-by-side.json", "w"), indent=1)
EOF
