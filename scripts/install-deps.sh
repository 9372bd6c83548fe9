#!/usr/bin/env bash
# Installs the Debian 12 packages annals builds with, when any is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  dpkg-dev                        # dpkg-shlibdeps: the .deb's Depends (cpack -G DEB, the package test)
  libcaf-dev                      # CAF 0.17.6: actors
  libboost1.81-dev libboost-json1.81-dev   # Boost.JSON, Boost.Describe (and Beast later)
  libsqlitecpp-dev libsqlite3-dev # SQLiteCpp 3.2.1 over SQLite 3.40
  libpq-dev                       # libpq 15: the PostgreSQL store
  libssl-dev openssl              # TLS between clustered nodes: the file checks, scripts/make-cluster-certs.sh
  postgresql-15                   # PostgreSQL 15: the server the PostgreSQL store tests start
  catch2                          # Catch2 v2 tests
  libcli11-dev                    # CLI11
  prometheus-cpp-dev              # metrics
  prometheus                      # promtool, to check the /metrics text in the tests
  clang libclang-rt-14-dev        # the sanitizer trees and libFuzzer (scripts/test.sh)
  llvm                            # llvm-symbolizer: sanitizer reports with file:line
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "annals: installing missing packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
