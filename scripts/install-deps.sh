#!/usr/bin/env bash
# Installs the Debian 12 packages tlsw builds and tests with, if missing.
# Usage: scripts/install-deps.sh [build|test|docs|bench]
set -euo pipefail

packages=(g++ meson ninja-build pkg-config libbotan-2-dev)
case "${1:-build}" in
  build) ;;
  # clang-16 only recommends libclang-rt-16-dev, which holds libFuzzer and
  # clang's sanitizer runtimes: without it the fuzz configuration cannot link.
  test) packages+=(catch2 clang-16 libclang-rt-16-dev openssl gnutls-bin curl cmake libasio-dev libboost1.81-dev debootstrap doxygen) ;;
  docs) packages+=(doxygen) ;;
  bench) packages+=(libbenchmark-dev libssl-dev libasio-dev valgrind gnuplot-nox) ;;
  *) echo "usage: $0 [build|test|docs|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
echo "installing: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
