#!/usr/bin/env bash
# The main job: builds Mneme and runs it. Installs what is missing on a fresh Debian 12 machine.
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/deps-debian.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" --target mneme-cli mneme-backend-cpu

cli=build/release/bin/mneme-cli
"$cli" --version
"$cli" backends
