#!/usr/bin/env bash
# What post-quantum key exchange costs a full handshake: instructions
# (callgrind, client and server together) and bytes on the wire each way,
# X25519MLKEM768 (Botan 3's default under TLS 1.3) against x25519 under
# TLS 1.3 and under TLS 1.2, with Botan 2's classical TLS 1.2 beside them.
# Builds benchmarks/tlsw_handshake_cost (release) here against Botan 2 and
# in the Debian 13 root against Botan 3 (the build directories of
# engines.sh), runs each kind with 1 and with 11 handshakes under callgrind
# and takes the difference over 10 (setup, the test PKI included, cancels
# out). Instruction counts do not depend on the machine's load. Needs root
# (chroot, and a /proc mount in the root, which it unmounts on exit).
#
# Usage: benchmarks/handshake_cost.sh [--root DIR] [OUT_DIR]
#   --root DIR  the Debian 13 root (default: $TLSW_DEBIAN13_ROOT, else
#               build/debian13-root); valgrind is installed in it if missing
#   OUT_DIR     where results go (default build/handshake_cost): the
#               program's output and callgrind's logs, and table.md
set -euo pipefail
cd "$(dirname "$0")/.."

root=${TLSW_DEBIAN13_ROOT:-build/debian13-root}
out=
while (($#)); do
  case $1 in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    -*) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
out=${out:-build/handshake_cost}
[[ $(id -u) -eq 0 ]] || { echo "$0: needs root (chroot, mount)" >&2; exit 1; }
command -v valgrind >/dev/null || scripts/install-deps.sh bench
mkdir -p "$out"
out=$(cd "$out" && pwd)

# ---- build: Botan 2 here, Botan 3 in the root ------------------------------------
source benchmarks/both_engines.sh
build_on_both_engines tlsw_handshake_cost "$root" "$out"

# ---- measure -----------------------------------------------------------------------
# Prints "<instructions> <program output>" for `engine kind n`.
run() {
  local engine=$1 kind=$2 n=$3 log="$out/cg.$1.$2.$3.log"
  local cg=(valgrind --tool=callgrind --callgrind-out-file=/dev/null)
  if [[ $engine == botan2 ]]; then
    "${cg[@]}" "$host_build/benchmarks/tlsw_handshake_cost" "$kind" "$n" >"$out/$engine.$kind.$n.txt" 2>"$log"
  else
    in_root "${cg[@]}" "$root_build/benchmarks/tlsw_handshake_cost" "$kind" "$n" >"$out/$engine.$kind.$n.txt" 2>"$log"
  fi
  echo "$(sed -n 's/^==[0-9]*== Collected : //p' "$log") $(cat "$out/$engine.$kind.$n.txt")"
}

{
  echo "$(date -u +%Y-%m-%dT%H:%MZ), tlsw $(git rev-parse --short HEAD), Botan 2 here, Botan 3 in $root."
  echo "Per full handshake, client and server together (callgrind: 11 handshakes minus 1, over 10)."
  echo
  echo "| engine | offered | version | group | instructions | bytes client→server | bytes server→client |"
  echo "|---|---|---|---:|---:|---:|---:|"
  for job in "botan2 default" "botan3 tls12" "botan3 x25519" "botan3 default"; do
    read -r engine kind <<<"$job"
    read -r one _ <<<"$(run "$engine" "$kind" 1)"
    read -r eleven _ version tls group _ up down <<<"$(run "$engine" "$kind" 11)"
    up=${up#client_to_server=} down=${down#server_to_client=} group=${group#group=}
    echo "| ${engine/botan/Botan } | $kind | $version $tls | $group | $(((${eleven//,/} - ${one//,/}) / 10)) | $up | $down |"
  done
} | tee "$out/table.md"
