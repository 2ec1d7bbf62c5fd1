#!/usr/bin/env bash
# Issue 12, item 4, in one command: tlsw on both engines side by side.
# Builds benchmarks/tlsw_engines (release) on this machine against Botan 2
# and in the Debian 13 root against Botan 3, runs the two in turn (host,
# root, root, host, ...: a change of load hits both alike), counts
# instructions under callgrind on both, and prints one table: per engine and
# TLS version the message rate and bulk MiB/s (medians), the instruction
# counts, then the two targets with PASS or FAIL. Needs root (chroot and a
# /proc mount in the Debian 13 root, which it unmounts on exit).
#
# Usage: benchmarks/engines.sh [--quick] [--root DIR] [OUT_DIR]
#   --quick     fewer rounds and operations (a smoke test; not for figures)
#   --root DIR  the Debian 13 root (default: $TLSW_DEBIAN13_ROOT, else
#               build/debian13-root), built or reused by
#               scripts/debian13-root.sh; valgrind is installed in it if
#               missing. The sources are copied to DIR/bench, not DIR/src,
#               so that scripts/test.sh can use the same root meanwhile.
#   OUT_DIR     where results go (default build/engines): time.*.txt (one
#               run of each engine per round), instructions.txt,
#               cg.*.out (callgrind profiles), table.md
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
rounds=15
root=${TLSW_DEBIAN13_ROOT:-build/debian13-root}
out=
while (($#)); do
  case $1 in
    --quick) quick=(--quick); rounds=3; shift ;;
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    -*) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
out=${out:-build/engines}
[[ $(id -u) -eq 0 ]] || { echo "$0: needs root (chroot, mount)" >&2; exit 1; }

start=$(date +%s)
scripts/install-deps.sh bench
mkdir -p "$out"
rm -f "$out"/time.*.txt "$out"/cg.*

# ---- build: Botan 2 here, Botan 3 in the root ------------------------------------
source benchmarks/both_engines.sh
build_on_both_engines tlsw_engines "$root" "$out"
host_bin=$host_build/benchmarks/tlsw_engines
root_bin=$root_build/benchmarks/tlsw_engines
built=$(date +%s)

{
  echo "date $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet -- include benchmarks 2>/dev/null || echo +changes)"
  echo "cpus $(nproc)"
  echo "load_start $(cut -d' ' -f1 /proc/loadavg)"
  echo "rounds $rounds"
} >"$out/context.txt"

# ---- timings: per round and workload the engines in turn, which first alternating --
# (the two figures a target divides are measured a fraction of a second apart)
echo "timing: $rounds rounds of both engines..." >&2
turn=0
for ((r = 1; r <= rounds; r++)); do
  for workload in messages burst bulk; do
    order=(host root)
    ((turn++ % 2)) && order=(root host)
    for where in "${order[@]}"; do
      if [[ $where == host ]]; then
        "$host_bin" time --runs 1 --only $workload "${quick[@]}" >>"$out/time.botan2.$r.txt"
      else
        in_root "$root_bin" time --runs 1 --only $workload "${quick[@]}" >>"$out/time.botan3.$r.txt"
      fi
    done
  done
done
echo "load_timed $(cut -d' ' -f1 /proc/loadavg)" >>"$out/context.txt"

# ---- instruction counts: callgrind on a fixed count, two at a time ------------------
echo "counting instructions (callgrind)..." >&2
if ((${#quick[@]})); then messages=1000 bursts=20 records=64; else messages=5000 bursts=100 records=512; fi
jobs=()
for workload in "messages $messages" "burst $bursts" "bulk $records"; do
  jobs+=("botan2 ${workload% *} tls12 ${workload#* }")
  for version in tls12 tls13 tls13_chacha; do
    jobs+=("botan3 ${workload% *} $version ${workload#* }")
  done
done
mkdir -p "$root/bench/results"
export root host_bin root_bin out
printf '%s\n' "${jobs[@]}" | xargs -P 2 -L 1 sh -c '
  engine=$0 workload=$1 version=$2 n=$3
  name=$engine.$version.$workload
  cg="valgrind --tool=callgrind --collect-atstart=no"
  if [ "$engine" = botan2 ]; then
    $cg --callgrind-out-file="$out/cg.$name.out" "$host_bin" count "$workload" "$version" "$n" >"$out/cg.$name.log" 2>&1
  else
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 sh -c "cd /bench && \
      $cg --callgrind-out-file=results/cg.$name.out $root_bin count $workload $version $n" >"$out/cg.$name.log" 2>&1
    mv "$root/bench/results/cg.$name.out" "$out/"
  fi
  total=$(sed -n "s/^==[0-9]*== Collected : //p" "$out/cg.$name.log")
  echo "instr.$name.total ${total:-0}"
  echo "instr.$name.ops $n"
' >"$out/instructions.txt"
echo "load_end $(cut -d' ' -f1 /proc/loadavg)" >>"$out/context.txt"
end=$(date +%s)
echo "seconds_build $((built - start))" >>"$out/context.txt"
echo "seconds_measure $((end - built))" >>"$out/context.txt"

python3 benchmarks/engines_table.py "$out" | tee "$out/table.md"
echo "build $((built - start)) s, measurements $((end - built)) s; results in $out" >&2
