#!/usr/bin/env bash
# The main job: builds Mneme and chats about a codebase with the bundled demo model.
# Installs what is missing on a fresh Debian 12 machine. Interactive on a terminal; otherwise (CI,
# a pipe) it asks one question and exits.
#   CODEBASE=path/to/code bash tools/demo.sh      (default: this repository's sdk/src/core)
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/deps-debian.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" --target mneme-cli mneme-backend-cpu

cli=build/release/bin/mneme-cli
model=assets/models/mneme-demo-v4e
codebase=${CODEBASE:-sdk/src/core}
"$cli" --version
"$cli" backends
"$cli" info --model "$model" --context 8192

args=(chat --model "$model" --codebase "$codebase" --snapshots build/snapshots --max-tokens 96)
if [ -t 0 ]; then
  exec "$cli" "${args[@]}"
fi
"$cli" "${args[@]}" --ask "Which file defines the thread pool, and what does parallel_for do?" </dev/null
