#!/usr/bin/env bash
# Builds annals and runs the whole test suite (ctest, two at a time).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
bash "$root/scripts/build.sh"
ctest --test-dir "$build" -j2 --output-on-failure "$@"
