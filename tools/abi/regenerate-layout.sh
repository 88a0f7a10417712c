#!/usr/bin/env bash
# Rewrites tests/abi/struct-layout.cpp from the current public headers (a deliberate ABI change).
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
g++ -std=c++20 -Isdk/include tools/abi/print-layout.cpp -o "$tmp/print-layout"
{
  sed -n '1,/^\[\[maybe_unused\]\] void layout_checks() {$/p' tests/abi/struct-layout.cpp
  "$tmp/print-layout"
  sed -n '/static_assert(sizeof(mneme_status) == 4/,$p' tests/abi/struct-layout.cpp
} > "$tmp/struct-layout.cpp"
mv "$tmp/struct-layout.cpp" tests/abi/struct-layout.cpp
rm -rf "$tmp"
echo "tests/abi/struct-layout.cpp regenerated"
