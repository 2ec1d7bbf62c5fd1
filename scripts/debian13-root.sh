#!/usr/bin/env bash
# Builds a Debian 13 (trixie) root for the Botan 3 configuration of
# scripts/test.sh, or reuses the one already there. Needs root (debootstrap
# and chroot) and debootstrap on the host.
#   scripts/debian13-root.sh [DIR]      (default: build/debian13-root)
# Prints DIR on its last line. The mirror is the first non-security Debian
# URI of this machine's apt sources (deb822 *.sources or a one-line
# sources.list), read at run time; TLSW_DEBIAN_MIRROR overrides it.
# This script mounts nothing. scripts/test.sh mounts /proc in the root while
# the tests run (the interop tests read /proc/net/tcp; valgrind would need
# it too) and unmounts it on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-build/debian13-root}
# What the suite needs inside: compiler, build tools, Botan 3, Catch2 3, the
# interop peers (openssl, gnutls-cli/serv, curl), python3 for the README
# test, cmake for the packaging test, standalone Asio for tlsw/asio.hpp's
# tests and examples and the README's Asio snippet, Boost's headers
# (libboost-dev: Boost.Asio and Beast, header-only; about 11 MB to fetch)
# for the Boost.Asio flavour and the Beast examples and tests.
packages=(g++ meson ninja-build pkg-config libbotan-3-dev catch2 openssl gnutls-bin curl python3 cmake ca-certificates
  libasio-dev libboost-dev)
# The stamp records the package list: a root built for another list, or
# one whose build stopped half-way, is completed rather than trusted.
stamp=$dir/.tlsw-root-complete
want="${packages[*]}"
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "$dir"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || { echo "$0: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "$0: install debootstrap" >&2; exit 1; }

mirror_from_sources() {
  local f
  # deb822: "URIs: <uri>" lines; skip security archives (no trixie main there).
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
  done
  # One-line format: "deb [opts] <uri> <suite> <components>".
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { if ($i !~ /security/) print $i; break } }' "$f"
  done
}
mirror=${TLSW_DEBIAN_MIRROR:-$(mirror_from_sources | head -n1)}
[[ -n $mirror ]] || { echo "$0: no Debian mirror found in the apt sources; set TLSW_DEBIAN_MIRROR" >&2; exit 1; }

mkdir -p "$(dirname "$dir")"
if [[ ! -x $dir/usr/bin/apt-get || ! -f $dir/.tlsw-debootstrap-done ]]; then
  rm -rf "$dir"
  echo "debootstrap trixie from $mirror into $dir" >&2
  start=$SECONDS
  debootstrap --variant=minbase trixie "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 ||
    { tail -20 "$dir.debootstrap.log" >&2; exit 1; }
  touch "$dir/.tlsw-debootstrap-done"
  echo "debootstrap: $((SECONDS - start)) s" >&2
fi

# Name resolution inside the root for apt.
cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
start=$SECONDS
chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" && apt-get clean' sh "${packages[@]}" \
  >"$dir.apt.log" 2>&1 || { tail -20 "$dir.apt.log" >&2; exit 1; }
echo "apt inside the root: $((SECONDS - start)) s" >&2
# Through a temporary file: a hardlinked copy of a root keeps its own stamp.
echo "$want" >"$stamp.new" && mv "$stamp.new" "$stamp"
echo "$dir"
