#!/usr/bin/env bash
# Installs what is missing, builds tlsw's examples and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
[[ -f build/demo/build.ninja ]] || meson setup build/demo -Dtests=false -Dexamples=true >/dev/null
meson compile -C build/demo
build/demo/examples/demo
