#!/usr/bin/env bash
# Builds the CPack packages of a build tree and verifies them by installing: dpkg -i the .debs,
# run mneme-cli and the app from the installed paths, build the SDK examples against the installed
# SDK only and run one on the installed demo model, then purge everything again.
#   tools/package-test.sh [BUILD_DIR]      (default build/ci; needs root for dpkg)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/ci}
dist="$build/dist"
rm -rf "$dist"
cpack --config "$build/CPackConfig.cmake" -B "$dist" >/dev/null
echo "packages:"
find "$dist" -maxdepth 1 \( -name '*.deb' -o -name '*.tar.gz' \) -printf '  %f  %s bytes\n' | sort

debs=$(find "$dist" -maxdepth 1 -name '*.deb' | sort)
names=$(for d in $debs; do dpkg-deb -f "$d" Package; done)
cleanup() { dpkg -P $names >/dev/null 2>&1 || true; rm -rf "$work"; }
work=$(mktemp -d)
trap cleanup EXIT
dpkg -i $debs >/dev/null

echo "installed: $(echo $names)"
/usr/bin/mneme-cli --version
/usr/bin/mneme-cli backends | tee "$work/backends.txt"
grep -q '^cpu: loaded' "$work/backends.txt"
# Each GPU plugin package, when built, is found from the installed paths: the Vulkan one runs here (on
# lavapipe), the CUDA one reports that this machine has no device instead of failing to load.
if echo "$names" | grep -q -- '-vulkan$'; then grep -q '^vulkan: loaded' "$work/backends.txt"; fi
if echo "$names" | grep -q -- '-cuda$'; then grep -Eq '^cuda: (loaded|no device)' "$work/backends.txt"; fi
model=/usr/share/mneme/models/mneme-demo-v4e
/usr/bin/mneme-cli generate --model "$model" --prompt 'import os' --max-tokens 8 >/dev/null
if echo "$names" | grep -q -- '-vulkan$'; then
  /usr/bin/mneme-cli generate --model "$model" --prompt 'import os' --max-tokens 8 --backend vulkan >/dev/null
  echo "installed Vulkan plugin: generated on $(grep -o 'llvmpipe[^)]*)' "$work/backends.txt" | head -1)"
fi

if [ -x /usr/bin/mneme-chat ]; then
  QT_QPA_PLATFORM=offscreen /usr/bin/mneme-chat --screenshot "$work/app.png" >/dev/null 2>&1
  test -s "$work/app.png"
  echo "mneme-chat: screenshot from the installed app, $(stat -c %s "$work/app.png") bytes"
fi

cmake -S /usr/share/mneme/examples -B "$work/examples" -G Ninja >/dev/null
cmake --build "$work/examples" >/dev/null
"$work/examples/mneme-example-c-host" "$model" 'int main(' 8 >/dev/null
"$work/examples/mneme-example-game-loop" "$model" 60
echo "package test: ok"
