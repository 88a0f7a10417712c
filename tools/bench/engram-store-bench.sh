#!/usr/bin/env bash
# The Engram store benchmark on a model shaped like V4.1-Flash's layout (Engram at the second layer and
# deeper, 256-wide rows, ~200 MiB of tables; random weights, the demo model's tokenizer), decoding real
# source code: the store with a cache 10x smaller than the tables versus the tables in RAM, in one run.
#
#   tools/bench/engram-store-bench.sh BUILD_DIR [WORK_DIR]
#
# WORK_DIR (default build/bench-models) receives the generated model and its store; they are data,
# never committed. The cache is warmed by profiling one part of the repository (sdk/src/graph) and
# decoding another (sdk/src/session), so no measured text was profiled.
set -euo pipefail
build=${1:?usage: engram-store-bench.sh BUILD_DIR [WORK_DIR]}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${2:-$root/build/bench-models}
cli=$build/bin/mneme-cli
model=$work/v4e-engram-bench
store=$work/v4e-engram-bench.store
python=${PYTHON:-/usr/bin/python3}

if [[ ! -f $model/model.safetensors ]]; then
    "$python" "$root/tools/reference/gen_checkpoint.py" --family v4e --shapes e-bench --seed 1 --out "$model"
    cp "$root/assets/models/mneme-demo-v4e/tokenizer.json" "$root/assets/models/mneme-demo-v4e/tokenizer_config.json" "$model/"
fi
rm -rf "$store"
"$cli" engram import --model "$model" --store "$store" --quiet
table_mb=$("$cli" info --model "$model" | sed -n 's/^Engram tables: \([0-9.]*\) MiB/\1/p')
cache_mb=$(awk -v t="$table_mb" 'BEGIN { printf "%.2f", t / 10 }')
echo "tables ${table_mb} MiB, cache ${cache_mb} MiB" >&2
"$cli" bench engram --model "$model" --store "$store" --cache-mb "$cache_mb" --steps 256 --rounds 4 \
    --text "$root/sdk/src/session" --profile-text "$root/sdk/src/graph" "${@:3}"
