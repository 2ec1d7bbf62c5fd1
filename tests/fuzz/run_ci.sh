#!/usr/bin/env bash
# The bounded fuzz run of one target, as CI runs it (meson test --suite fuzz):
#   run_ci.sh TARGET_EXE NAME MAKE_SEEDS_EXE REGRESSIONS_DIR RUNS
# 1. every input saved in REGRESSIONS_DIR (bugs found before) runs once;
# 2. a fresh run of RUNS inputs from a seed corpus recorded now, with a
#    fixed libFuzzer seed, so that every CI run tries the same inputs.
# New inputs go to a temporary directory that is removed afterwards.
set -euo pipefail
exe=$1 name=$2 make_seeds=$3 regressions=$4 runs=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

shopt -s nullglob
saved=("$regressions"/*)
if ((${#saved[@]})); then
  echo "== $name: ${#saved[@]} regression input(s)"
  "$exe" -runs=1 "${saved[@]}"
fi

"$make_seeds" "$work/seeds" >/dev/null
mkdir "$work/new"
echo "== $name: $runs fresh inputs from $(ls "$work/seeds/$name" | wc -l) seeds"
"$exe" -seed=1 -runs="$runs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
  "$work/new" "$work/seeds/$name" 2>&1 | grep -v '^#[0-9]*.*\(NEW\|REDUCE\|pulse\)' || true
test "${PIPESTATUS[0]}" -eq 0
