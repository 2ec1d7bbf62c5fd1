#!/usr/bin/env bash
# Installs what is missing, then builds and tests every configuration CI
# covers: g++ in C++23, clang-16 in C++20, g++ in C++20 with address and
# undefined-behaviour sanitizers, g++ with ThreadSanitizer (the context
# tests only), and clang-16's libFuzzer targets for a bounded number of
# inputs each (tests/fuzz/README.md). Ends with "N passed, N failed".
# Compiling the suite is most of CI's time, so each compiler and standard
# is built once: the sanitizer build is the g++ C++20 one (warnings are
# errors there too), and `gcc-cpp20`, the same without sanitizers, is
# there to run by name.
# `default` is the plain `meson setup` a user gets (-O2, warnings not
# errors): it builds the demo, the programs of their own and runs them.
# Usage: scripts/test.sh [config...]   (default: default, the five above, then botan3)
# `botan3` runs the suite inside a Debian 13 root (scripts/debian13-root.sh,
# cached under build/) against Botan 3 and Catch2 3 with g++ 14, as
# botan3-cpp20 and botan3-cpp23. It needs root (debootstrap, chroot) and
# mounts /proc in the root while the tests run (the interop tests read
# /proc/net/tcp), unmounted on exit.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test || exit 1

# Tests build at -O0: Botan's crypto, where the tests spend their time, is
# the prebuilt library either way, and -O2 would triple the compile time.
# Once per engine, in gcc-cpp23 and botan3-cpp23: the full fault loop
# (1000 seeds; 250 elsewhere, and under the sanitizers each run costs several
# times more), each public header compiled on its own, the Boost.Asio
# flavour with the Beast examples (tlsw/asio.hpp's code is the same in both
# Asio flavours, and standalone Asio runs everywhere), the packaging and
# documentation tests. botan3-cpp20 builds the library's suite alone; the
# Botan 2 configurations build the examples and run their tests too.
setup_args() {
  local fast="--werror -Doptimization=0 -Ddebug=false"
  case "$1" in
    # The plain `meson setup`: the defaults a user or packager gets
    # (debugoptimized, warnings not errors), so that they keep building and
    # passing (g++ warns about other things at -O2). At -O2 a build of
    # everything would cost CI a quarter of its time: it builds what the
    # README's demo builds and the test programs of their own (their
    # operator new replacement is what -O2 warned about); the configurations
    # below build and run everything.
    default) echo "" ;;
    gcc-cpp20) echo "--native-file=scripts/native/gcc.ini $fast" ;;
    gcc-cpp23) echo "--native-file=scripts/native/gcc.ini $fast -Dcpp_std=none -Dcpp_args=-std=c++23" ;;
    clang-cpp20) echo "--native-file=scripts/native/clang16.ini $fast -Dheader_checks=false -Dfail_loop_seeds=250 -Dboost=disabled" ;;
    # Inside the Debian 13 root: its g++ 14 is the default compiler.
    botan3-cpp20) echo "-Dbotan=3 $fast -Dheader_checks=false -Dfail_loop_seeds=250 -Dboost=disabled -Dexamples=false" ;;
    botan3-cpp23) echo "-Dbotan=3 $fast -Dcpp_std=none -Dcpp_args=-std=c++23 -Dfull_duplex=true" ;;
    sanitize) echo "--native-file=scripts/native/gcc-sanitize.ini $fast -Dheader_checks=false -Dfail_loop_seeds=250 -Dboost=disabled -Db_sanitize=address,undefined" ;;
    tsan) echo "--native-file=scripts/native/gcc.ini --werror -Doptimization=1 -Ddebug=true -Dheader_checks=false -Db_sanitize=thread" ;;
    # The fuzz targets alone (no test suite, no examples), at -O1 as
    # libFuzzer builds usually are.
    fuzz) echo "--native-file=scripts/native/clang16.ini --werror -Dtests=false -Dexamples=false -Dheader_checks=false -Dfuzzing=true -Doptimization=1 -Ddebug=true" ;;
    *) return 1 ;;
  esac
}

# ThreadSanitizer builds only what shares a context between threads: the
# thread test and the context tests (the rest is single-threaded). Botan is
# not instrumented, yet needs no suppressions: what its objects share
# between threads (the session cache) is guarded by std::mutex, whose
# pthread calls TSan intercepts in any library.
tsan_tests=(context context_threads)
# What the default configuration builds and runs (see setup_args).
# full_duplex runs there at full size, optimised (tests/meson.build), and
# in botan3-cpp23, which builds it so with -Dfull_duplex=true.
default_targets=(examples/demo examples/client examples/server tests/test_tls_stream_hostile tests/test_allocations
  tests/test_full_duplex)
default_tests=(tls_stream_hostile allocations full_duplex)

configs=()
for config in "$@"; do
  if [[ $config == botan3 ]]; then configs+=(botan3-cpp20 botan3-cpp23); else configs+=("$config"); fi
done
((${#configs[@]})) || configs=(default gcc-cpp23 clang-cpp20 sanitize tsan fuzz botan3-cpp20 botan3-cpp23)

# The Botan 3 configurations run their meson commands in the Debian 13 root,
# on a fresh copy of this tree (tracked and new files, not build/) in
# ROOT/src; their build directories stay there between runs. The root is
# built (or checked) in the background while the Botan 2 configurations
# build: it mostly waits on the network and the disk.
mkdir -p build
root=
root_job=
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
in_root() { "$@"; }
if [[ " ${configs[*]} " == *" botan3-"* ]]; then
  root_start=$SECONDS
  "${sudo[@]}" scripts/debian13-root.sh >build/debian13-root.out 2>&1 &
  root_job=$!
fi

# Waits for the root, then copies this tree into it and mounts /proc there.
prepare_root() {
  if ! wait "$root_job"; then
    cat build/debian13-root.out >&2
    return 1
  fi
  root=$(tail -n1 build/debian13-root.out)
  echo "Debian 13 root ready: $root ($((SECONDS - root_start)) s after it was started)"
  # Only files whose content changed are replaced, and they get the time
  # of the copy: a file edited while the last build ran may be older than
  # the object built from it, and ninja would keep that stale object.
  "${sudo[@]}" rm -rf "$root/src.new"
  "${sudo[@]}" mkdir -p "$root/src" "$root/src.new"
  git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' |
    "${sudo[@]}" tar --null -T - -cf - | "${sudo[@]}" tar -xf - -C "$root/src.new" || return 1
  "${sudo[@]}" bash -c 'cd "$1" && find . -type f -print0 | while IFS= read -r -d "" f; do
      cmp -s "$f" "../src/$f" || { mkdir -p "../src/${f%/*}" && cp "$f" "../src/$f"; } || exit 1
    done && cd ../src && find . -path ./build -prune -o -type f -print0 | while IFS= read -r -d "" f; do
      [[ -e ../src.new/$f ]] || rm -f "$f"
    done' sh "$root/src.new" || return 1
  "${sudo[@]}" rm -rf "$root/src.new"
  if ! mountpoint -q "$root/proc"; then
    "${sudo[@]}" mount -t proc proc "$root/proc" || return 1
    trap '"${sudo[@]}" umount "$root/proc"' EXIT
  fi
  in_root() {
    "${sudo[@]}" chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      sh -c 'cd /src && exec "$@"' sh "$@"
  }
}

passed=0 failed=0
for config in "${configs[@]}"; do
  args=$(setup_args "$config") || { echo "unknown configuration: $config" >&2; exit 2; }
  dir=build/$config
  run=(command)
  built=$dir
  echo "=== $config"
  if [[ $config == botan3-* ]]; then
    if [[ -z $root ]] && ! prepare_root; then
      echo "the Debian 13 root could not be prepared" >&2
      failed=$((failed + 1)); continue
    fi
    run=(in_root); built=$root/src/$dir
  fi
  # shellcheck disable=SC2086
  if [[ ! -f $built/build.ninja ]] && ! "${run[@]}" meson setup "$dir" $args >"$dir.setup.log" 2>&1; then
    cat "$dir.setup.log"; failed=$((failed + 1)); continue
  fi
  # A build directory set up before warnings became errors here alone, or
  # before botan3-cpp23 ran full_duplex at full size.
  if [[ $config != default ]] && ! grep -q -- '-Werror' "$built/build.ninja"; then
    "${run[@]}" meson configure "$dir" -Dwerror=true >/dev/null || { failed=$((failed + 1)); continue; }
  fi
  if [[ $config == botan3-cpp23 ]] && ! grep -q test_full_duplex "$built/build.ninja"; then
    "${run[@]}" meson configure "$dir" -Dfull_duplex=true >/dev/null || { failed=$((failed + 1)); continue; }
  fi
  targets=() suites=()
  if [[ $config == tsan ]]; then
    targets=("${tsan_tests[@]/#/test_}") suites=(--no-rebuild "${tsan_tests[@]}")
    export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
  fi
  [[ $config == default ]] && targets=("${default_targets[@]}") suites=(--no-rebuild "${default_tests[@]}")
  if ! "${run[@]}" meson compile -C "$dir" "${targets[@]}"; then
    failed=$((failed + 1)); continue
  fi
  # The packaging and README tests build with the compiler alone, not this
  # configuration's flags: once per Botan is enough.
  only_once=()
  [[ $config == gcc-cpp2[03] || $config == botan3-cpp23 ]] || only_once=(--no-suite packaging --no-suite docs)
  # The misuse snippets test tlsw's own diagnostics, the same on either Botan.
  [[ $config == gcc-cpp2[03] ]] || only_once+=(--no-suite compile_fail)
  "${run[@]}" meson test -C "$dir" --print-errorlogs --num-processes 2 "${only_once[@]}" "${suites[@]}" | tee "$dir.test.log"
  ok=$(awk '/^Ok:/ {n = $2} END {print n}' "$dir.test.log")
  bad=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "$dir.test.log")
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${bad:-0}))
  [[ -n $ok ]] || failed=$((failed + 1))
done

echo "$passed passed, $failed failed"
((failed == 0))
