#!/usr/bin/env bash
# The Asio comparison in one command: builds benchmarks/asio_compare
# (release), measures tlsw::asio::stream, asio::ssl::stream (OpenSSL 3)
# and tlsw's nonblocking API in a poll() loop side by side, prints the
# table with PASS/FAIL beside each target, and draws the chart.
#
# Usage: benchmarks/asio.sh [--quick] [OUT_DIR]
#   --quick   fewer messages, bytes and rounds (a smoke test; not for figures)
#   OUT_DIR   where results go (default build/bench/results): asio.txt,
#             asio_table.md, asio.dat and asio.png
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
if [[ ${1:-} == --quick ]]; then quick=(--quick); shift; fi
out=${1:-build/bench/results}

scripts/install-deps.sh bench
if [[ ! -f build/bench/build.ninja ]]; then
  meson setup build/bench -Dbenchmarks=true -Dtests=false -Dexamples=false -Dbuildtype=release >/dev/null
fi
ninja -C build/bench benchmarks/asio_compare >/dev/null
mkdir -p "$out"
echo "measuring (asio_compare)..." >&2
build/bench/benchmarks/asio_compare "${quick[@]}" >"$out/asio.txt"
python3 benchmarks/asio_table.py "$out" | tee "$out/asio_table.md"
if command -v gnuplot >/dev/null; then
  gnuplot -e "data='$out/asio.dat'; out='$out/asio.png'" benchmarks/asio_chart.gp
  echo "chart: $out/asio.png" >&2
fi
