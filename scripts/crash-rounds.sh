#!/usr/bin/env bash
# Crash rounds against the bank HTTP service (docs/reliability.md):
#   scripts/crash-rounds.sh [ROUNDS] [more annals_crash_rounds options]
#   scripts/crash-rounds.sh 20                      # 20 rounds, synchronous=NORMAL
#   scripts/crash-rounds.sh 20 --durability full --snapshot-every 5 --projection-snapshot-every 5
# Builds what it needs first. Exit 0 when every round's checks held.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
rounds="${1:-20}"
shift || true
bash "$root/scripts/build.sh" --target annals_crash_rounds
exec "$build/tests/crash/annals_crash_rounds" --rounds "$rounds" "$@"
