#!/usr/bin/env bash
# Installs what is missing, configures and builds annals into ./build.
# BUILD_DIR and BUILD_TYPE may be set in the environment.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
type="${BUILD_TYPE:-RelWithDebInfo}"

bash "$root/scripts/install-deps.sh"

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE="$type"
fi
cmake --build "$build" -j "$(nproc)" "$@"
