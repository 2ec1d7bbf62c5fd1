#!/usr/bin/env bash
# Installs what is missing, then builds and tests every configuration CI
# covers: g++ in C++20 and C++23, clang-16 in C++20, g++ with address
# and undefined-behaviour sanitizers, g++ with ThreadSanitizer (the
# context tests only), and clang-16's libFuzzer targets for a bounded
# number of inputs each (tests/fuzz/README.md). Ends with
# "N passed, N failed".
# Usage: scripts/test.sh [config...]   (default: all six)
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test || exit 1

# Tests build at -O0: Botan's crypto, where the tests spend their time, is
# the prebuilt library either way, and -O2 would triple the compile time.
# Under the sanitizers the fault loop runs 250 seeds instead of 1000: each
# run costs several times more there, and the other configurations cover
# the full count.
setup_args() {
  local fast="-Doptimization=0 -Ddebug=false"
  case "$1" in
    gcc-cpp20) echo "--native-file=scripts/native/gcc.ini $fast" ;;
    gcc-cpp23) echo "--native-file=scripts/native/gcc.ini $fast -Dcpp_std=none -Dcpp_args=-std=c++23" ;;
    clang-cpp20) echo "--native-file=scripts/native/clang16.ini $fast -Dheader_checks=false" ;;
    sanitize) echo "--native-file=scripts/native/gcc.ini -Dbuildtype=debug -Dheader_checks=false -Dfail_loop_seeds=250 -Db_sanitize=address,undefined -Dcpp_args=-fno-sanitize-recover=all -Dcpp_link_args=-fno-sanitize-recover=all" ;;
    tsan) echo "--native-file=scripts/native/gcc.ini -Doptimization=1 -Ddebug=true -Dheader_checks=false -Db_sanitize=thread" ;;
    # The fuzz targets alone (no test suite, no examples), at -O1 as
    # libFuzzer builds usually are.
    fuzz) echo "--native-file=scripts/native/clang16.ini -Dtests=false -Dexamples=false -Dheader_checks=false -Dfuzzing=true -Doptimization=1 -Ddebug=true" ;;
    *) return 1 ;;
  esac
}

# ThreadSanitizer builds only what shares a context between threads: the
# thread test and the context tests (the rest is single-threaded). Botan is
# not instrumented, yet needs no suppressions: what its objects share
# between threads (the session cache) is guarded by std::mutex, whose
# pthread calls TSan intercepts in any library.
tsan_tests=(context context_threads)

configs=("$@")
((${#configs[@]})) || configs=(gcc-cpp20 gcc-cpp23 clang-cpp20 sanitize tsan fuzz)

mkdir -p build
passed=0 failed=0
for config in "${configs[@]}"; do
  args=$(setup_args "$config") || { echo "unknown configuration: $config" >&2; exit 2; }
  dir=build/$config
  echo "=== $config"
  # shellcheck disable=SC2086
  if [[ ! -f $dir/build.ninja ]] && ! meson setup "$dir" $args >"$dir.setup.log" 2>&1; then
    cat "$dir.setup.log"; failed=$((failed + 1)); continue
  fi
  targets=() suites=()
  if [[ $config == tsan ]]; then
    targets=("${tsan_tests[@]/#/test_}") suites=(--no-rebuild "${tsan_tests[@]}")
    export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
  fi
  if ! meson compile -C "$dir" "${targets[@]}"; then
    failed=$((failed + 1)); continue
  fi
  # The packaging and README tests build with the compiler alone, not this
  # configuration's flags: once is enough.
  only_once=()
  [[ $config == gcc-cpp20 ]] || only_once=(--no-suite packaging --no-suite docs)
  meson test -C "$dir" --print-errorlogs --num-processes 2 "${only_once[@]}" "${suites[@]}" | tee "$dir.test.log"
  ok=$(awk '/^Ok:/ {n = $2} END {print n}' "$dir.test.log")
  bad=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "$dir.test.log")
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${bad:-0}))
  [[ -n $ok ]] || failed=$((failed + 1))
done

echo "$passed passed, $failed failed"
((failed == 0))
