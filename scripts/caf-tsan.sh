#!/usr/bin/env bash
# Builds CAF 0.17.6 (libcaf_core, libcaf_io) with ThreadSanitizer for the
# tsan stage of scripts/test.sh, from Debian's source package of libcaf-dev
# (actor-framework). Debian's libcaf is not instrumented: TSan would not see
# the atomics in CAF's mailboxes and scheduler that order what one actor
# hands to another, and would report every such hand-over as a race in our
# code. Built once into $1 (default build-tsan/caf); later runs reuse it.
#   usage: scripts/caf-tsan.sh [PREFIX]   -> PREFIX/include, PREFIX/lib
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$(realpath -m "${1:-$root/build-tsan/caf}")"  # absolute: the script changes directory
version="0.17.6"
if [ -f "$prefix/lib/libcaf_core.so" ] && [ -f "$prefix/lib/libcaf_io.so" ]; then exit 0; fi
work="$prefix.src"
mkdir -p "$work"
cd "$work"

if ! ls actor-framework_${version}.orig.tar.gz >/dev/null 2>&1; then
  # The source package from the same Debian archive as the binary packages,
  # through a private apt configuration (the machine's own stays untouched).
  apt_dir="$work/apt"
  mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  cat >"$apt_dir/sources.list.d/debian-src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_opts=(-o "Dir::Etc::SourceParts=$apt_dir/sources.list.d" -o "Dir::Etc::SourceList=/dev/null"
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Debug::NoLocking=1")
  echo "annals: fetching Debian's source of CAF $version (actor-framework) for the ThreadSanitizer build"
  apt-get "${apt_opts[@]}" update -qq
  # Only the upstream tarball is needed (Debian's packaging patches change
  # its build files, not the library); `source` fails when the mirror lacks
  # the debian.tar.xz, so take the tarball if it arrived.
  apt-get "${apt_opts[@]}" source --download-only "actor-framework=${version}-2.1" >apt-source.log 2>&1 || true
  if ! ls actor-framework_${version}.orig.tar.gz >/dev/null 2>&1; then
    echo "annals: could not fetch actor-framework_${version}.orig.tar.gz from Debian's archive:" >&2
    tail -5 apt-source.log >&2
    exit 1
  fi
fi
rm -rf "actor-framework-${version}"
tar xzf "actor-framework_${version}.orig.tar.gz"

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# `-include limits`: receive_buffer.hpp uses std::numeric_limits without
# including <limits> (one of the fixes in Debian's packaging patches, which
# the mirror does not serve). Debian's build configuration (log level QUIET, memory management on, no
# runtime checks: /usr/include/caf/detail/build_config.hpp), libstdc++ as
# everywhere else here, only the two libraries annals links.
CC=clang CXX=clang++ cmake -S "actor-framework-${version}" -B build "${generator[@]}" "${launcher[@]}" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -include limits" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCAF_NO_AUTO_LIBCPP=yes -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes \
  -DCAF_NO_OPENSSL=yes -DCAF_NO_OPENCL=yes -DCAF_NO_PYTHON=yes -DCAF_NO_TOOLS=yes -DCAF_NO_COMPILER_CHECK=yes \
  -DCAF_LOG_LEVEL=QUIET >cmake.log 2>&1 || { tail -30 cmake.log >&2; exit 1; }
cmake --build build -j "$(nproc)" >build.log 2>&1 || { tail -40 build.log >&2; exit 1; }
cmake --install build >install.log 2>&1 || { tail -20 install.log >&2; exit 1; }
echo "annals: CAF $version with ThreadSanitizer in $prefix"
