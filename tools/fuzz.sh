#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each on its seed corpus.
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60 s, every target)
# Findings are written to build/fuzz/findings/<target>/; each one must become a regression test.
# MNEME_FUZZ_BUILD_DIR builds elsewhere than build/fuzz (same preset).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz-safetensors fuzz-config fuzz-tokenizer fuzz-gitignore fuzz-session-state fuzz-engram-store fuzz-ngram-sidecar)
build=${MNEME_FUZZ_BUILD_DIR:-build/fuzz}

cmake --preset fuzz -B "$build" >/dev/null
# The chat database target exists where Qt 6 is installed (the app's store code needs QtCore).
if [ $# -eq 0 ] && grep -q '^fuzz-chat-db:' <(cmake --build "$build" --target help 2>/dev/null | sed 's/ .*//'); then
  targets+=(fuzz-chat-db)
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

# One target per core at a time: the same fuzzing time per target in a fraction of the wall time.
run_one() {
  local t=$1
  local work="$build/corpus/$t" findings="$build/findings/$t" log="$build/$t.log"
  mkdir -p "$work" "$findings"
  if "$build"/bin/"$t" "$work" "tests/fuzz/corpus/${t#fuzz-}" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=1024 \
       -max_len=65536 -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1; then
    echo ok >"$build/$t.result"
  else
    echo FOUND >"$build/$t.result"
  fi
}
running=0
for t in "${targets[@]}"; do
  rm -f "$build/$t.result"
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$(nproc)" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

status=0
for t in "${targets[@]}"; do
  log="$build/$t.log"
  result=$(cat "$build/$t.result" 2>/dev/null || echo FOUND)
  [ "$result" = ok ] || status=1
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  echo "$t: ${runs:-?} executions in ${seconds}s: $result"
  [ "$result" = ok ] || tail -n 30 "$log"
done
exit $status
