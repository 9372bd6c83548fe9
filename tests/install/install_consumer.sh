#!/usr/bin/env bash
# install: `cmake --install` of the built tree into a scratch prefix (no
# rebuild), then a project of its own (tests/install/consumer) finds it with
# find_package(annals CONFIG REQUIRED), builds, runs one command on a SQLite
# store and prints the result, which is checked here.
# Usage: install_consumer.sh <cmake> <build dir> <scratch dir> <generator> <c++ compiler>
set -u
cmake=$1 build=$2 scratch=$3 generator=$4 cxx=$5
here=$(cd "$(dirname "$0")" && pwd)

fail() { echo "install test FAILED: $*" >&2; exit 1; }
show_log() { echo "---- $1" >&2; tail -n 40 "$1" >&2; }

rm -rf "$scratch" && mkdir -p "$scratch" || fail "cannot create the scratch directory $scratch"
prefix=$scratch/prefix

if ! "$cmake" --install "$build" --prefix "$prefix" > "$scratch/install.log" 2>&1; then
  show_log "$scratch/install.log"
  fail "cmake --install $build --prefix $prefix failed: build the whole tree first (ninja -C $build)"
fi
for f in bin/annals include/annals/runtime.hpp include/annals/testkit.hpp \
         include/annals/persistence/sqlite_event_store.hpp lib/libannals_runtime.a \
         lib/cmake/annals/annalsConfig.cmake lib/cmake/annals/annalsConfigVersion.cmake; do
  [ -e "$prefix/$f" ] || fail "cmake --install did not put $f under the prefix"
done
# annals::actors is linked privately: its headers (CAF) stay out of the prefix.
[ ! -e "$prefix/include/annals/actors" ] || fail "the actor headers (CAF) were installed; they are private"

if ! "$cmake" -S "$here/consumer" -B "$scratch/consumer" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
     -DCMAKE_PREFIX_PATH="$prefix" > "$scratch/consumer-configure.log" 2>&1; then
  show_log "$scratch/consumer-configure.log"
  fail "configuring the consumer project with find_package(annals) against $prefix failed"
fi
found=$(sed -n 's/^annals_DIR:PATH=//p' "$scratch/consumer/CMakeCache.txt")
[ "$found" = "$prefix/lib/cmake/annals" ] || fail "find_package(annals) found '$found', not the installed $prefix/lib/cmake/annals"

if ! "$cmake" --build "$scratch/consumer" > "$scratch/consumer-build.log" 2>&1; then
  show_log "$scratch/consumer-build.log"
  fail "building the consumer project against the installed annals::runtime and annals::testkit failed"
fi

out=$("$scratch/consumer/counter_service" "$scratch/counters.db" 2> "$scratch/consumer-run.log")
rc=$?
echo "$out"
[ $rc -eq 0 ] || { show_log "$scratch/consumer-run.log"; fail "the consumer exited with $rc"; }
expected='{"status":"accepted","aggregate":"counter","id":"c-1","version":1,"position":1,"events":[{"type":"incremented","version":1,"position":1,"data":{"by":5}}],"replayed":false}'
[ "$out" = "testkit: ok
$expected" ] || fail "the consumer printed something else than 'testkit: ok' and $expected"
echo "install test passed"
