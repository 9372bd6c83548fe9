#!/usr/bin/env bash
# Builds annals and runs the demo on an embedded SQLite store (./annals-demo.db).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
bash "$root/scripts/build.sh" --target bank_demo
exec "$build/examples/bank/bank_demo" "${1:-annals-demo.db}"
