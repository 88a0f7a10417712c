#!/usr/bin/env bash
# usage: run-consumer.sh BUILD_DIR STAGE_DIR CONSUMER_SRC C_COMPILER
set -euo pipefail
build=$1 stage=$2 src=$3 cc=$4
rm -rf "$stage"
cmake --install "$build" --prefix "$stage" --component runtime >/dev/null
cmake --install "$build" --prefix "$stage" --component devel >/dev/null
libdir=$(find "$stage" -name 'libmneme.so' -printf '%h\n' | head -n1)

# 1. CMake package config.
rm -rf "$stage/consumer-build"
cmake -S "$src" -B "$stage/consumer-build" -G Ninja -DCMAKE_PREFIX_PATH="$stage" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$stage/consumer-build" >/dev/null
env -u MNEME_PLUGIN_PATH "$stage/consumer-build/consumer"

# 2. pkg-config.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
"$cc" -std=c99 -Wall -Wextra -pedantic -Werror "$src/main.c" -o "$stage/consumer-pc" \
  $(pkg-config --cflags --libs mneme) -Wl,-rpath,"$libdir"
env -u MNEME_PLUGIN_PATH "$stage/consumer-pc"
echo "consumer: ok (cmake and pkg-config)"
