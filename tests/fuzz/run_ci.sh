#!/usr/bin/env bash
# The bounded fuzz run of one target, as CI runs it (meson test --suite fuzz):
#   run_ci.sh TARGET_EXE NAME MAKE_SEEDS_EXE REGRESSIONS_DIR RUNS
# 1. every input saved in REGRESSIONS_DIR (bugs found before) runs once;
# 2. a fresh run of RUNS inputs from a seed corpus recorded now, with a
#    fixed libFuzzer seed, so that every CI run tries the same inputs.
# New inputs and crash files go to a temporary directory, removed at the
# end; a failure prints libFuzzer's report, which names the input.
set -uo pipefail
exe=$1 name=$2 make_seeds=$3 regressions=$4 runs=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

status=0
shopt -s nullglob
saved=("$regressions"/*)
if ((${#saved[@]})); then
  echo "== $name: ${#saved[@]} regression input(s)"
  "$exe" -runs=1 "${saved[@]}" >"$work/regressions.log" 2>&1 || {
    status=1
    cat "$work/regressions.log"
  }
  # A saved conversation means what it says only while tlsw draws its
  # random bytes in the order it was recorded in (README.md, "A crash"):
  # one that no longer gets past the handshake must be recorded again.
  if [[ $name == server || $name == client || $name == record ]]; then
    for input in "${saved[@]}"; do
      TLSW_FUZZ_TRACE=1 "$exe" -runs=1 "$input" >"$work/trace.log" 2>&1
      if ! grep -Eq ' [1-9][0-9]* handshake\(s\)' "$work/trace.log"; then
        echo "$input no longer completes its handshake: record it again (README.md)"
        status=1
      fi
    done
  fi
fi

"$make_seeds" "$work/seeds" >/dev/null || exit 1
mkdir "$work/new"
echo "== $name: $runs fresh inputs from $(ls "$work/seeds/$name" | wc -l) seeds"
if ! "$exe" -seed=1 -runs="$runs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/new" "$work/seeds/$name" >"$work/fuzz.log" 2>&1; then
  status=1
  cat "$work/fuzz.log"
else
  grep -E '^#[0-9]+ +DONE|^stat::' "$work/fuzz.log"
fi
exit $status
