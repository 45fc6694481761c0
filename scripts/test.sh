#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: unit, component and e2e in a release
# build, then unit and component again under ASan+UBSan. Needs root (netns, taps, DPDK).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=build bash scripts/build.sh
meson test -C build --print-errorlogs --suite unit --suite component --suite e2e

BUILD_DIR=build-asan bash scripts/build.sh -Db_sanitize=address,undefined -Dbuildtype=debugoptimized
# DPDK maps its memory itself; ASan must not treat those mappings' reuse as leaks or
# abort on DPDK's own (uninstrumented) allocations.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --suite unit --suite component
