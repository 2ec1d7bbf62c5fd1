#!/usr/bin/env bash
# The comparison in one command: builds the benchmarks
# (release), measures tlsw, raw Botan and OpenSSL side by side, and prints
# one table with every target and PASS/FAIL beside it, then draws the
# throughput chart. About 5 minutes on 2 cores, the build included.
#
# Usage: benchmarks/run.sh [--quick] [OUT_DIR]
#   --quick   fewer streams, bytes and repetitions (a smoke test; not for figures)
#   OUT_DIR   where results go (default build/bench/results): compare.txt
#             (tlsw_compare's figures), instructions.txt (callgrind totals),
#             table.md (the table), throughput.dat and throughput.png
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
if [[ ${1:-} == --quick ]]; then quick=(--quick); shift; fi
out=${1:-build/bench/results}

start=$(date +%s)
scripts/install-deps.sh bench
if [[ ! -f build/bench/build.ninja ]]; then
  meson setup build/bench -Dbenchmarks=true -Dtests=false -Dexamples=false -Dbuildtype=release >/dev/null
fi
ninja -C build/bench benchmarks/tlsw_compare benchmarks/tlsw_once >/dev/null
bin=build/bench/benchmarks
mkdir -p "$out"
built=$(date +%s)

{
  echo "date $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet -- include 2>/dev/null || echo +changes)"
  echo "cpus $(nproc)"
  echo "load $(cut -d' ' -f1 /proc/loadavg)"
} >"$out/context.txt"

# Timings, heap, receives, allocations: nothing else should run meanwhile.
echo "measuring (tlsw_compare)..." >&2
BOTAN_MLOCK_POOL_SIZE=0 "$bin/tlsw_compare" "${quick[@]}" >"$out/compare.txt"

# Instruction counts: callgrind, collecting only the measured loop. They do
# not depend on load, so two run at a time.
echo "counting instructions (callgrind)..." >&2
if ((${#quick[@]})); then mib=2 msgs=1 full=5 resumed=10; else mib=16 msgs=1 full=30 resumed=100; fi
jobs=()
for impl in tlsw botan openssl; do
  jobs+=("record16k $impl bulk $impl $mib 16384"
         "message100 $impl bulk $impl $msgs 100"
         "full $impl handshake $impl $full"
         "resumed $impl resumed $impl $resumed")
done
# For reference: raw Botan handing its output vector straight over, without
# the transport copy that tlsw and the "botan" runs pay.
jobs+=("record16k botan-direct bulk botan-direct $mib 16384" "message100 botan-direct bulk botan-direct $msgs 100")
printf '%s\n' "${jobs[@]}" | xargs -P 2 -L 1 sh -c '
  name=$0 impl=$1; shift
  valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="'"$out"'/cg.$name.$impl.out" \
      "'"$bin"'/tlsw_once" "$@" >"'"$out"'/cg.$name.$impl.log" 2>&1
  total=$(sed -n "s/^==[0-9]*== Collected : //p" "'"$out"'/cg.$name.$impl.log")
  ops=$(sed -n "s/.* in \([0-9]*\) writes.*/\1/p; s/.*: \([0-9]*\) \(full\|resumed\) handshakes.*/\1/p" "'"$out"'/cg.$name.$impl.log")
  echo "instr.$name.$impl.total $total"
  echo "instr.$name.$impl.ops $ops"
' >"$out/instructions.txt"

python3 benchmarks/table.py "$out" | tee "$out/table.md"
if command -v gnuplot >/dev/null; then
  gnuplot -e "data='$out/throughput.dat'; out='$out/throughput.png'" benchmarks/chart.gp
  echo "chart: $out/throughput.png" >&2
fi
end=$(date +%s)
echo "build $((built - start)) s, measurements $((end - built)) s" >&2
