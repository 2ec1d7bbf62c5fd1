#!/usr/bin/env bash
# Installs tlsw into a temporary prefix with `meson install`, checks what was
# installed, then builds and runs consumer.cpp against it three ways:
#   1. meson-consumer/ with tlsw as the Meson subproject subprojects/tlsw
#      (a symbolic link to the source tree, made here) via dependency('tlsw');
#   2. a plain compiler command line with `pkg-config --cflags --libs tlsw`;
#   3. cmake-consumer/ with find_package(tlsw CONFIG REQUIRED) and
#      CMAKE_PREFIX_PATH at the prefix.
# The subproject route must build nothing of tlsw's (no tests, examples or
# benchmarks); routes 2 and 3 run again from a copy of the prefix moved
# elsewhere (tlsw.pc's ${pcfiledir} prefix, CMake's relative paths).
# Everything happens in a temporary directory, removed at exit.
#
# Usage: consumer_test.sh SOURCE_ROOT VERSION
# Environment: CXX (the compiler Meson uses; may carry arguments), MESON,
# PKG_CONFIG, CMAKE (default: meson, pkg-config, cmake from PATH).
# Exit status: 0 when all three pass; 77 (SKIP to `meson test`) when cmake is
# missing and the other two pass; 1 on any failure.
set -euo pipefail

src=$(cd "${1:?usage: consumer_test.sh SOURCE_ROOT VERSION}" && pwd)
version=${2:?usage: consumer_test.sh SOURCE_ROOT VERSION}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
read -ra cxx <<<"${CXX:-c++}"
read -ra meson <<<"${MESON:-meson}"
pkg_config=${PKG_CONFIG:-pkg-config}
cmake=${CMAKE:-cmake}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tlsw-packaging.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
started=$SECONDS
exec 2>&1 # one stream, so `meson test -v` shows commands and errors in order

step() { printf '\n=== %s (at %ss)\n' "$*" "$((SECONDS - started))"; }
run() { printf '+ %s\n' "$*"; "$@"; }
# run_logged LOG COMMAND...: run, with the output in LOG, shown only on failure.
run_logged() {
    local log=$1
    shift
    printf '+ %s > %s\n' "$*" "${log#"$tmp"/}"
    "$@" >"$log" 2>&1 || { cat "$log"; return 1; }
}
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
# The one file under dir whose path matches pattern.
find_one() {
    local found
    found=$(find "$1" -path "$2")
    [[ -n $found && $found != *$'\n'* ]] || fail "expected one $2 under $1, found: ${found:-none}"
    printf '%s\n' "$found"
}

# points_at CFLAGS DIR: one of the -I directories in CFLAGS is DIR.
points_at() {
    local flag
    for flag in $1; do
        [[ $flag == -I* && -d ${flag#-I} && $(cd "${flag#-I}" && pwd) == "$2" ]] && return 0
    done
    return 1
}

have_cmake=1
if ! command -v "$cmake" >/dev/null; then
    have_cmake=0
    echo "NOTE: $cmake not found: the CMake consumer will be skipped (scripts/install-deps.sh test installs it)"
fi
echo "source: $src, version: $version, compiler: ${cxx[*]}, temporary directory: $tmp"

step "install tlsw into $prefix"
run_logged "$tmp/install-setup.log" "${meson[@]}" setup "$tmp/tlsw-build" "$src" --prefix "$prefix" \
    -Dtests=false -Dexamples=false -Dbenchmarks=false || fail "meson setup of tlsw"
run "${meson[@]}" install -C "$tmp/tlsw-build" --quiet || fail "meson install"

step "check the installed layout"
diff <(cd "$src/include" && find tlsw -type f | sort) <(cd "$prefix/include" && find tlsw -type f | sort) \
    || fail "installed headers differ from include/tlsw (< source, > installed)"
echo "headers: $(cd "$prefix/include" && find tlsw -type f | wc -l) files under $prefix/include/tlsw, as in the source"
pc=$(find_one "$prefix" '*/pkgconfig/tlsw.pc')
config=$(find_one "$prefix" '*/cmake/tlsw/tlswConfig.cmake')
[[ -f $(dirname "$config")/tlswConfigVersion.cmake ]] || fail "no tlswConfigVersion.cmake next to $config"
echo "pkg-config file: ${pc#"$prefix"/}"
echo "CMake package config: $(dirname "${config#"$prefix"/}")/{tlswConfig,tlswConfigVersion}.cmake"
cat "$pc"

step "consumer 1: Meson, tlsw as a subproject"
mc=$tmp/meson-consumer
mkdir -p "$mc/subprojects"
cp "$here/meson-consumer/meson.build" "$here/meson-consumer/meson_options.txt" "$here/consumer.cpp" "$mc/"
ln -s "$src" "$mc/subprojects/tlsw"
run_logged "$tmp/consumer-setup.log" "${meson[@]}" setup "$mc/build" "$mc" --wrap-mode=forcefallback \
    -Dtlsw_version="$version" || fail "meson setup of the consumer"
grep -E '^(Executing subproject|Dependency tlsw)' "$tmp/consumer-setup.log" || true
# The subproject ran, and dependency('tlsw') is what its override_dependency() gave.
if ! grep -q '^Executing subproject tlsw' "$tmp/consumer-setup.log" \
    || ! grep -q "^Dependency tlsw found: YES $version (overridden)" "$tmp/consumer-setup.log"; then
    cat "$tmp/consumer-setup.log"
    fail "dependency('tlsw') did not come from the subproject"
fi
run "${meson[@]}" compile -C "$mc/build" || fail "building the Meson consumer"
run "$mc/build/consumer" || fail "the Meson consumer"
# dependency('tlsw') costs only the headers: the build defines no target of
# tlsw's own (its tests, examples, benchmarks or header checks).
targets=$(cd "$mc/build" && ninja -t targets all | grep -E '^subprojects/tlsw/.*: (cpp_COMPILER|cpp_LINKER|STATIC_LINKER|CUSTOM_COMMAND)' || true)
[[ -z $targets ]] || { printf '%s\n' "$targets" | head; fail "as a subproject tlsw built targets of its own"; }
echo "the subproject defined no targets of tlsw's own"

step "consumer 2: pkg-config"
PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
echo "PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
found_version=$("$pkg_config" --modversion tlsw) || fail "pkg-config cannot find tlsw"
[[ $found_version == "$version" ]] || fail "pkg-config says tlsw $found_version, expected $version"
cflags=$("$pkg_config" --cflags tlsw) || fail "pkg-config --cflags tlsw"
libs=$("$pkg_config" --libs tlsw) || fail "pkg-config --libs tlsw"
echo "$pkg_config --modversion tlsw: $found_version"
echo "$pkg_config --cflags tlsw: $cflags"
echo "$pkg_config --libs tlsw: $libs"
points_at "$cflags" "$prefix/include" || fail "the cflags do not point at $prefix/include"
read -ra cflags_array <<<"$cflags"
read -ra libs_array <<<"$libs"
mkdir "$tmp/pkg-config-consumer"
run "${cxx[@]}" -std=c++20 -O0 "${cflags_array[@]}" "$here/consumer.cpp" \
    -o "$tmp/pkg-config-consumer/consumer" "${libs_array[@]}" || fail "building the pkg-config consumer"
run "$tmp/pkg-config-consumer/consumer" || fail "the pkg-config consumer"

step "consumer 2b: pkg-config from a relocated copy of the prefix"
moved=$tmp/moved/prefix
mkdir -p "$(dirname "$moved")"
cp -a "$prefix" "$moved"
# The original prefix disappears, so nothing can silently use it.
mv "$prefix" "$prefix.hidden"
moved_pc=$(find_one "$moved" '*/pkgconfig/tlsw.pc')
grep -q '^prefix=${pcfiledir}/' "$moved_pc" || fail "tlsw.pc does not name its prefix relative to itself"
cflags=$(PKG_CONFIG_PATH=$(dirname "$moved_pc") "$pkg_config" --cflags tlsw) || fail "pkg-config --cflags tlsw (moved)"
echo "$pkg_config --cflags tlsw: $cflags"
points_at "$cflags" "$moved/include" || fail "the relocated cflags do not point at $moved/include"
# --define-prefix computes the same prefix for tlsw. (It also rewrites the
# prefix of Debian's botan-2.pc, which sits in a multiarch directory, into
# a wrong one: only tlsw's own flags are checked here.)
defined=$(PKG_CONFIG_PATH=$(dirname "$moved_pc") "$pkg_config" --define-prefix --variable=includedir tlsw) \
    || fail "pkg-config --define-prefix --variable=includedir tlsw"
[[ $(cd "$defined" && pwd) == "$moved/include" ]] || fail "--define-prefix gives includedir $defined, not $moved/include"
read -ra cflags_array <<<"$cflags"
run "${cxx[@]}" -std=c++20 -O0 "${cflags_array[@]}" "$here/consumer.cpp" \
    -o "$tmp/pkg-config-consumer/consumer-moved" "${libs_array[@]}" || fail "building the relocated pkg-config consumer"
run "$tmp/pkg-config-consumer/consumer-moved" || fail "the relocated pkg-config consumer"
mv "$prefix.hidden" "$prefix"

if ((!have_cmake)); then
    echo
    echo "SKIP: $cmake not found, so the CMake consumer was not built (the Meson and pkg-config consumers passed)"
    exit 77
fi

step "consumer 3: CMake find_package"
cc=$tmp/cmake-consumer
mkdir "$cc"
cp "$here/cmake-consumer/CMakeLists.txt" "$here/consumer.cpp" "$cc/"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# CMake takes the compiler from CXX, as Meson does.
run_logged "$tmp/cmake-configure.log" "$cmake" -S "$cc" -B "$cc/build" "${generator[@]}" \
    -DCMAKE_PREFIX_PATH="$prefix" -DTLSW_EXPECTED_VERSION="$version" -DCMAKE_BUILD_TYPE= \
    -DCMAKE_CXX_FLAGS=-O0 -DCMAKE_EXPORT_COMPILE_COMMANDS=ON || fail "cmake configure of the consumer"
grep -E '^-- (The CXX compiler|found tlsw|Found PkgConfig|Checking for module)' "$tmp/cmake-configure.log" || true
grep -q "^-- found tlsw $version in $(dirname "$config")\$" "$tmp/cmake-configure.log" \
    || { cat "$tmp/cmake-configure.log"; fail "find_package(tlsw) did not find $(dirname "$config")"; }
run "$cmake" --build "$cc/build" || fail "building the CMake consumer"
grep -Eq -- '-std=(c|gnu)\+\+2[0-9a-z]' "$cc/build/compile_commands.json" \
    || { cat "$cc/build/compile_commands.json"; fail "tlsw::tlsw did not bring C++20 (cxx_std_20)"; }
run "$cc/build/consumer" || fail "the CMake consumer"

step "consumer 3b: CMake find_package from the relocated prefix"
rm -rf "$cc/build"
mv "$prefix" "$prefix.hidden"
moved_config=$(find_one "$moved" '*/cmake/tlsw/tlswConfig.cmake')
run_logged "$tmp/cmake-configure-moved.log" "$cmake" -S "$cc" -B "$cc/build" "${generator[@]}" \
    -DCMAKE_PREFIX_PATH="$moved" -DTLSW_EXPECTED_VERSION="$version" -DCMAKE_BUILD_TYPE= \
    -DCMAKE_CXX_FLAGS=-O0 || fail "cmake configure of the consumer against the relocated prefix"
grep -q "^-- found tlsw $version in $(dirname "$moved_config")\$" "$tmp/cmake-configure-moved.log" \
    || { cat "$tmp/cmake-configure-moved.log"; fail "find_package(tlsw) did not find the relocated $(dirname "$moved_config")"; }
run "$cmake" --build "$cc/build" || fail "building the CMake consumer against the relocated prefix"
run "$cc/build/consumer" || fail "the CMake consumer built against the relocated prefix"
mv "$prefix.hidden" "$prefix"

echo
echo "all three consumers built and ran (and from a relocated prefix) in $((SECONDS - started))s"
