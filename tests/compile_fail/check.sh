#!/usr/bin/env bash
# Misuse must fail to compile with one clear error (meson test compile_fail):
#   check.sh SOURCE_ROOT "FLAGS" CXX [CXX...]
# FLAGS: the include flags tlsw and Botan need. For each compiler (the
# build's, and clang++ when found: their messages differ), each snippet
# here must fail with exactly the errors listed below, each carrying the
# text given, and compile clean with -DTLSW_COMPILE_FAIL_CONTROL where it
# has a control. Syntax-only: about 2 s per snippet and compiler.
set -uo pipefail
root=$1 flags=$2
shift 2
dir=$root/tests/compile_fail
status=0

# run CXX STD FILE [ARGS...]: the compiler's output; its exit status.
run() {
  local cxx=$1 std=$2 file=$3
  shift 3
  # shellcheck disable=SC2086
  $cxx -std="$std" -fsyntax-only $flags "$@" "$file" 2>&1
}

# expect CXX FILE STD ERRORS TEXT [ARGS...]: the compile fails with exactly
# ERRORS errors, each matching the extended regex TEXT.
expect() {
  local cxx=$1 file=$2 std=$3 want=$4 text=$5
  shift 5
  local out errors matching
  out=$(run "$cxx" "$std" "$file" "$@")
  errors=$(grep -E '(^|: )(fatal )?error: ' <<<"$out")
  matching=$(grep -cE "$text" <<<"$errors")
  if [[ $(grep -c . <<<"$errors") -ne $want || $matching -ne $want ]]; then
    echo "FAIL $cxx $std ${file#"$root"/}: want $want error(s) matching '$text', got:"
    echo "$out" | head -40
    status=1
  elif [[ -z ${quiet:-} ]]; then
    echo "ok   $cxx $std ${file#"$root"/}: $want error(s), as it should"
  fi
}

# control CXX FILE: with -DTLSW_COMPILE_FAIL_CONTROL it compiles clean.
control() {
  local out
  if ! out=$(run "$1" c++20 "$2" -DTLSW_COMPILE_FAIL_CONTROL -Werror); then
    echo "FAIL $1 ${2#"$root"/} (control): it must compile with -DTLSW_COMPILE_FAIL_CONTROL:"
    echo "$out" | head -40
    status=1
  fi
}

for cxx in "$@"; do
  expect "$cxx" "$dir/below_cpp20.cpp" c++17 1 'compile with -std=c\+\+20'
  # Every public header alone: the same one error.
  for header in "$root"/include/tlsw/*.hpp "$root"/include/tlsw/testing/*.hpp; do
    printf '#include <tlsw/%s>\n' "${header#"$root"/include/tlsw/}" >"${TMPDIR:-/tmp}/tlsw-below-cpp20-$$.cpp"
    quiet=1 expect "$cxx" "${TMPDIR:-/tmp}/tlsw-below-cpp20-$$.cpp" c++17 1 'compile with -std=c\+\+20'
  done
  echo "     $cxx c++17: every public header alone checked the same way"
  rm -f "${TMPDIR:-/tmp}/tlsw-below-cpp20-$$.cpp"
  expect "$cxx" "$dir/transport_first.cpp" c++20 1 'the transport comes first'
  expect "$cxx" "$dir/policy_wrong_type.cpp" c++20 1 'tls_stream policies are tlsw::full_write'
  expect "$cxx" "$dir/policy_conflict.cpp" c++20 1 'conflicting write modes'
  discards=$(grep -c '^ *DISCARD(' "$dir/discarded_result.cpp")
  expect "$cxx" "$dir/discarded_result.cpp" c++20 "$discards" 'nodiscard' -Werror
  control "$cxx" "$dir/discarded_result.cpp"
done
exit $status
