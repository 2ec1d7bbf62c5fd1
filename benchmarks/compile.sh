#!/usr/bin/env bash
# What including tlsw costs a translation unit at compile time, against a
# file that includes Botan's TLS client and server headers alone, with
# `-fsyntax-only` (parsing and template instantiation, no code generation):
#   tlsw.hpp        a file including <tlsw/tlsw.hpp>
#   what you use    <tlsw/tls_stream.hpp> and <tlsw/blocking_socket.hpp>
#   client          a blocking HTTPS client (benchmarks/compile_client.cpp)
#   client, separate  the same with TLSW_SEPARATE_COMPILATION defined
#                   (where the tree has <tlsw/src.hpp>, else not measured)
# Each run compiles every file once, in an order that rotates from run to
# run; a file's figure is its CPU time (user + system) over the Botan
# file's in the same run, and the table gives the median of those ratios:
# a ratio taken within one run holds on a loaded machine, where seconds do
# not. The seconds are printed as information.
#
# Usage: benchmarks/compile.sh [--runs N] [--cxx COMPILER] [--std c++20|c++23] [OUT_DIR]
#   --runs N   paired runs (default 7)
#   --cxx      the compiler (default g++)
#   --std      the language standard (default c++20)
#   OUT_DIR    where table.md goes (default build/bench/compile)
# Botan is the one pkg-config finds (botan-3 first, as meson's default).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=7 cxx=g++ std=c++20 out=build/bench/compile
while (($#)); do
  case $1 in
    --runs) runs=${2:?}; shift 2 ;;
    --cxx) cxx=${2:?}; shift 2 ;;
    --std) std=${2:?}; shift 2 ;;
    -*) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
command -v /usr/bin/time >/dev/null 2>&1 || { echo "$0: needs GNU time (/usr/bin/time)" >&2; exit 1; }
botan=botan-3
pkg-config --exists botan-3 || botan=botan-2
read -r -a botan_flags <<<"$(pkg-config --cflags "$botan")"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '#include <botan/tls_client.h>\n#include <botan/tls_server.h>\n' >"$work/botan.cpp"
printf '#include <tlsw/tlsw.hpp>\n' >"$work/tlsw.cpp"
printf '#include <tlsw/tls_stream.hpp>\n#include <tlsw/blocking_socket.hpp>\n' >"$work/use.cpp"
cp benchmarks/compile_client.cpp "$work/client.cpp"
names=(botan tlsw use client)
labels=("Botan's TLS client and server headers" "<tlsw/tlsw.hpp>" "<tlsw/tls_stream.hpp> + <tlsw/blocking_socket.hpp>"
  "a blocking HTTPS client (compile_client.cpp)")
targets=("" "≤ 2.0" "< tlsw.hpp" "≤ 2.0")
separate=
if [[ -f include/tlsw/src.hpp ]]; then
  separate=yes
  names+=(separate)
  labels+=("the same client, TLSW_SEPARATE_COMPILATION")
  targets+=("≤ 1.0")
fi

# CPU seconds of one syntax-only compile of $1.
compile() {
  local defines=() file=$1
  [[ $1 == separate ]] && defines=(-DTLSW_SEPARATE_COMPILATION) file=client
  /usr/bin/time -f '%U %S' -o "$work/time" \
    "$cxx" -std="$std" -fsyntax-only -Iinclude "${botan_flags[@]}" "${defines[@]}" "$work/$file.cpp"
  awk '{printf "%.3f\n", $1 + $2}' "$work/time"
}

# Every file once, to catch an error before timing and to warm the caches.
for n in "${names[@]}"; do compile "$n" >/dev/null; done
declare -A seconds ratios
for ((r = 0; r < runs; r++)); do
  declare -A t=()
  count=${#names[@]}
  for ((i = 0; i < count; i++)); do
    n=${names[(i + r) % count]}
    t[$n]=$(compile "$n")
  done
  for n in "${names[@]}"; do
    seconds[$n]+="${t[$n]} "
    ratios[$n]+="$(awk -v a="${t[$n]}" -v b="${t[botan]}" 'BEGIN {printf "%.3f", a / b}') "
  done
  unset t
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
{
  echo "$(date -u +%Y-%m-%dT%H:%MZ), tlsw $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $($cxx --version | head -n1), -std=$std -fsyntax-only, $botan $(pkg-config --modversion "$botan"), $runs paired runs, load $(cut -d' ' -f1 /proc/loadavg) at the end."
  echo
  echo "| file | CPU s (median) | ratio to Botan's headers (median) | target | result |"
  echo "|---|---:|---:|---:|:---:|"
  tlsw_ratio=$(median <<<"${ratios[tlsw]}")
  for ((i = 0; i < ${#names[@]}; i++)); do
    n=${names[i]}
    s=$(median <<<"${seconds[$n]}")
    q=$(median <<<"${ratios[$n]}")
    result=–
    case ${targets[i]} in
      "≤ "*) result=$(awk -v q="$q" -v t="${targets[i]#≤ }" 'BEGIN {print (q <= t) ? "PASS" : "FAIL"}') ;;
      "< tlsw.hpp") result=$(awk -v q="$q" -v t="$tlsw_ratio" 'BEGIN {print (q < t) ? "PASS" : "FAIL"}') ;;
    esac
    echo "| ${labels[i]} | $s | $q | ${targets[i]:-–} | $result |"
  done
  [[ -n $separate ]] || echo "| a blocking HTTPS client, TLSW_SEPARATE_COMPILATION | – | – | ≤ 1.0 | not built: this tree has no separate compilation |"
} | tee "$out/table.md"
