#!/usr/bin/env bash
# package: `cpack -G DEB` of the built tree (no rebuild) makes annals and
# libannals-dev; their control data and file lists are checked, both are
# extracted into a scratch root, `annals --help` runs from there and the
# consumer project (tests/install/consumer) builds and runs against the
# extracted libannals-dev.
# Usage: package_deb.sh <cmake> <cpack> <build dir> <scratch dir> <version> <generator> <c++ compiler>
set -u
cmake=$1 cpack=$2 build=$3 scratch=$4 version=$5 generator=$6 cxx=$7
here=$(cd "$(dirname "$0")" && pwd)

fail() { echo "package test FAILED: $*" >&2; exit 1; }
show_log() { echo "---- $1" >&2; tail -n 40 "$1" >&2; }
for tool in dpkg-deb dpkg-shlibdeps readelf; do
  command -v $tool > /dev/null || fail "$tool is missing (Debian: apt-get install dpkg-dev binutils)"
done
[ -x "$cpack" ] || fail "cpack is missing ($cpack; it comes with cmake)"

rm -rf "$scratch" && mkdir -p "$scratch" || fail "cannot create the scratch directory $scratch"
if ! "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$scratch" > "$scratch/cpack.log" 2>&1; then
  show_log "$scratch/cpack.log"
  fail "cpack -G DEB failed: build the whole tree first (ninja -C $build)"
fi
arch=$(dpkg --print-architecture)
tools_deb=$scratch/annals_${version}_${arch}.deb
dev_deb=$scratch/libannals-dev_${version}_${arch}.deb
for deb in "$tools_deb" "$dev_deb"; do
  [ -f "$deb" ] || fail "cpack made no $(basename "$deb") (made: $(cd "$scratch" && ls ./*.deb 2>/dev/null | tr '\n' ' '))"
done

field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$tools_deb" Package)" = annals ] || fail "annals .deb: Package is '$(field "$tools_deb" Package)'"
[ "$(field "$dev_deb" Package)" = libannals-dev ] || fail "libannals-dev .deb: Package is '$(field "$dev_deb" Package)'"
for deb in "$tools_deb" "$dev_deb"; do
  [ "$(field "$deb" Version)" = "$version" ] || fail "$(basename "$deb"): Version is '$(field "$deb" Version)', not $version"
done
# The executable's Depends come from the shared libraries it links.
tools_depends=$(field "$tools_deb" Depends)
for pkg in libcaf-core0.17 libcaf-io0.17 libcaf-openssl0.17 libpq5 libprometheus-cpp-core1.0 \
           libboost-json1.81.0 libsqlite3-0 libssl3; do
  [[ ",$tools_depends," =~ [,\ ]$pkg[\ ,] ]] || fail "annals .deb: Depends lacks $pkg: $tools_depends"
done
dev_depends=$(field "$dev_deb" Depends)
for pkg in libcaf-dev libboost-json1.81-dev libsqlitecpp-dev prometheus-cpp-dev libpq-dev; do
  [[ ",$dev_depends," =~ [,\ ]$pkg[\ ,] ]] || fail "libannals-dev .deb: Depends lacks $pkg: $dev_depends"
done

tools_files=$(dpkg-deb -c "$tools_deb" | awk '{print $6}')
[ "$(echo "$tools_files" | grep -v '/$')" = ./usr/bin/annals ] \
  || fail "annals .deb holds other files than ./usr/bin/annals: $(echo "$tools_files" | grep -v '/$' | tr '\n' ' ')"
dev_files=$(dpkg-deb -c "$dev_deb" | awk '{print $6}')
for f in ./usr/include/annals/runtime.hpp ./usr/include/annals/testkit.hpp ./usr/lib/libannals_runtime.a \
         ./usr/lib/libannals_actors.a ./usr/lib/cmake/annals/annalsConfig.cmake ./usr/lib/cmake/annals/annalsTargets.cmake; do
  echo "$dev_files" | grep -qxF "$f" || fail "libannals-dev .deb lacks $f"
done
echo "$dev_files" | grep -q '^./usr/bin/' && fail "libannals-dev .deb holds executables: $(echo "$dev_files" | grep '^./usr/bin/' | tr '\n' ' ')"

root=$scratch/root
dpkg-deb -x "$tools_deb" "$root" && dpkg-deb -x "$dev_deb" "$root" || fail "dpkg-deb -x into $root failed"
readelf -S "$root/usr/bin/annals" | grep -q '\.debug_info' && fail "the packaged annals executable is not stripped"
# The annals libraries are linked in (static): no LD_LIBRARY_PATH needed.
help=$("$root/usr/bin/annals" --help 2>&1) || fail "annals --help from the extracted package failed: $help"
echo "$help" | grep -q '^Usage: annals' || fail "annals --help from the extracted package printed no usage: $help"
[ "$("$root/usr/bin/annals" --version)" = "annals $version" ] || fail "annals --version is not 'annals $version'"

if ! "$cmake" -S "$here/consumer" -B "$scratch/consumer" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
     -DCMAKE_PREFIX_PATH="$root/usr" > "$scratch/consumer-configure.log" 2>&1 \
   || ! "$cmake" --build "$scratch/consumer" > "$scratch/consumer-build.log" 2>&1; then
  show_log "$scratch/consumer-configure.log"; [ -f "$scratch/consumer-build.log" ] && show_log "$scratch/consumer-build.log"
  fail "the consumer project does not build against the extracted libannals-dev ($root/usr)"
fi
found=$(sed -n 's/^annals_DIR:PATH=//p' "$scratch/consumer/CMakeCache.txt")
[ "$found" = "$root/usr/lib/cmake/annals" ] || fail "find_package(annals) found '$found', not the extracted $root/usr/lib/cmake/annals"
out=$("$scratch/consumer/counter_service" "$scratch/counters.db" 2> /dev/null) \
  || fail "the consumer built against libannals-dev failed: $out"
echo "$out" | grep -qF '"status":"accepted","aggregate":"counter"' || fail "the consumer built against libannals-dev printed: $out"
echo "package test passed: $(basename "$tools_deb"), $(basename "$dev_deb")"
