#!/usr/bin/env bash
# Set-up + build + the main job: `annals run examples/scenarios/bank-demo.json`
# on an embedded SQLite store (./annals-bank-demo.db, recreated each run).
#   bash scripts/demo.sh                                  # the bank demo
#   bash scripts/demo.sh examples/scenarios/stale-read.json --json   # another scenario, other options
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
bash "$root/scripts/build.sh" --target annals
scenario="${1:-$root/examples/scenarios/bank-demo.json}"
[ $# -gt 0 ] && shift
exec "$build/cli/annals" run "$scenario" "$@"
