#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: unit, component and e2e in a release
# build, then unit and component again under ASan+UBSan. Needs root (netns, taps, DPDK).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=build bash scripts/build.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
meson test -C build --print-errorlogs --suite unit --suite component --suite e2e | tee "$log"

BUILD_DIR=build-asan bash scripts/build.sh -Db_sanitize=address,undefined -Dbuildtype=debugoptimized
# DPDK maps its memory itself; ASan must not treat those mappings' reuse as leaks or
# abort on DPDK's own (uninstrumented) allocations.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --suite unit --suite component | tee -a "$log"

# One closing line for both runs (a failure above has already stopped the script).
passed=$(awk '/^Ok:/ {n += $2} END {print n + 0}' "$log")
failed=$(awk '/^Fail:/ {n += $2} /^Timeout:/ {n += $2} END {print n + 0}' "$log")
echo "${passed} passed, ${failed} failed"
