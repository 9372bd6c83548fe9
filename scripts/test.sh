#!/usr/bin/env bash
# The test command (README, docs/testing.md; CI runs exactly this):
#   1. normal     build ./build and run the whole ctest suite
#   2. asan       build ./build-asan with clang, AddressSanitizer + UBSan and
#                 the fuzz targets; run the whole ctest suite on it
#   3. tsan       build ./build-tsan with clang and ThreadSanitizer (the test
#                 programs with threads and actors); run their tests
#   4. fuzz       run each libFuzzer target from build-asan for a bounded time
#                 on its seed corpus (fuzz/corpus/<target>); a crash fails
# Quick (stage 1 only): `scripts/test.sh --quick` or ANNALS_TEST_QUICK=1.
# ANNALS_TEST_STAGES picks the stages after 1 (default: "asan fuzz tsan";
# see below).
# Other arguments go to every ctest (e.g. -R G3). ANNALS_FUZZ_SECONDS sets
# the time per fuzz target (default 45). BUILD_DIR moves ./build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
asan_build="$root/build-asan"
tsan_build="$root/build-tsan"
fuzz_seconds="${ANNALS_FUZZ_SECONDS:-45}"
quick="${ANNALS_TEST_QUICK:-0}"
ctest_args=()
for a in "$@"; do
  if [ "$a" = "--quick" ]; then quick=1; else ctest_args+=("$a"); fi
done
jobs="$(nproc)"

# Each stage prints its time; a summary of all of them closes the run.
summary=()
stage() {
  local name="$1"; shift
  local start=$SECONDS
  echo "=== annals test stage: $name"
  "$@"
  local took=$((SECONDS - start))
  summary+=("$(printf '%-8s %3dm%02ds' "$name" $((took / 60)) $((took % 60)))")
  echo "=== annals test stage: $name done in $((took / 60))m$((took % 60))s"
}

normal_stage() {
  bash "$root/scripts/build.sh"
  ctest --test-dir "$build" -j2 --output-on-failure "${ctest_args[@]}"
}

# Sanitizer trees: clang (libFuzzer needs it; one compiler for both trees),
# -O1 with line tables (readable reports, faster builds than RelWithDebInfo),
# no benchmarks.
configure_sanitized() {
  local dir="$1"; shift
  if ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
       clang++ -x c++ -fsanitize=fuzzer,address,undefined -o /dev/null - 2>/dev/null; then
    echo "annals: clang++ cannot build with -fsanitize=fuzzer,address,undefined:" \
         "install clang, libclang-rt-14-dev and llvm (scripts/install-deps.sh does)" >&2
    return 1
  fi
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    local generator=()
    if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
    CC=clang CXX=clang++ cmake -S "$root" -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
      -DANNALS_BUILD_BENCH=OFF "$@"
  fi
}

export ASAN_OPTIONS="detect_leaks=1:strict_init_order=1:detect_stack_use_after_return=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="suppressions=$root/tests/sanitizers/tsan.supp:halt_on_error=1:second_deadlock_stack=1:print_suppressions=0"

asan_stage() {
  configure_sanitized "$asan_build" -DANNALS_SANITIZE=address,undefined -DANNALS_FUZZ=ON
  cmake --build "$asan_build" -j "$jobs"
  ctest --test-dir "$asan_build" -j2 --output-on-failure "${ctest_args[@]}"
}

# The test programs with threads, actors or processes; ctest labels each
# test with its program (tests/CMakeLists.txt).
tsan_programs=(test_runtime test_actors test_service test_scenarios)
tsan_stage() {
  # CAF built from Debian's source with TSan (scripts/caf-tsan.sh): with
  # Debian's uninstrumented libcaf every message between actors would be
  # reported as a race.
  local caf="$tsan_build/caf"
  bash "$root/scripts/caf-tsan.sh" "$caf"
  configure_sanitized "$tsan_build" -DANNALS_SANITIZE=thread -DCAF_INCLUDE_DIR="$caf/include" \
    -DCAF_CORE_LIBRARY="$caf/lib/libcaf_core.so" -DCAF_IO_LIBRARY="$caf/lib/libcaf_io.so"
  # annals_test_postgres: the fixture that starts the tests' PostgreSQL server.
  cmake --build "$tsan_build" -j "$jobs" --target "${tsan_programs[@]}" annals_test_postgres
  local labels
  labels="^($(IFS='|'; echo "${tsan_programs[*]}"))\$"
  ctest --test-dir "$tsan_build" -j2 --output-on-failure -L "$labels" "${ctest_args[@]}"
}

fuzz_stage() {
  local failed=0 out="$asan_build/fuzz-runs"
  mkdir -p "$out"
  for seeds in "$root"/fuzz/corpus/*/; do
    local target work log
    target="$(basename "$seeds")"
    work="$out/$target-corpus"
    log="$out/$target.log"
    mkdir -p "$work"
    # New inputs go to the first folder (under the build), never into the
    # committed seeds; a crash leaves its input as $out/<target>-crash-*.
    if "$asan_build/fuzz/fuzz_$target" "$work" "$seeds" -max_total_time="$fuzz_seconds" -timeout=10 \
         -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/$target-" >"$log" 2>&1; then
      echo "fuzz_$target: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$') executions" \
           "in ${fuzz_seconds}s, no crash; corpus $(ls "$work" | wc -l) inputs"
    else
      failed=1
      echo "fuzz_$target FAILED (log $log); the input is in $out/$target-*:"
      grep -v '^#' "$log" | tail -40
    fi
  done
  return "$failed"
}

# The stages after "normal": all three by default (timed on a clean clone;
# docs/testing.md). tsan builds CAF from Debian's source with TSan first
# (scripts/caf-tsan.sh, about 183 compile steps, once).
# ANNALS_TEST_STAGES="" runs the normal stage only.
stages="${ANNALS_TEST_STAGES-asan fuzz tsan}"
stage normal normal_stage
if [ "$quick" = "1" ]; then
  echo "annals: quick run (normal build and tests only; without --quick the stages '$stages' run too)"
else
  for s in $stages; do
    case "$s" in
      asan) stage asan asan_stage ;;
      tsan) stage tsan tsan_stage ;;
      fuzz) stage fuzz fuzz_stage ;;
      *) echo "annals: unknown stage '$s' in ANNALS_TEST_STAGES (asan, tsan, fuzz)" >&2; exit 2 ;;
    esac
  done
fi
echo "=== annals test stages (minutes):"
printf '  %s\n' "${summary[@]}"
