#!/usr/bin/env bash
# Builds the API reference (HTML) from the public headers' comments with
# Doxygen (docs/Doxyfile), installing doxygen if missing. Every warning is
# an error: an undocumented public name, or a comment Doxygen cannot read,
# fails the build and is printed.
# Usage: scripts/api-docs.sh [OUT_DIR]   (default build/api; the pages are
#        OUT_DIR/html, index.html first)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/api}
command -v doxygen >/dev/null || scripts/install-deps.sh docs
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/html"
log=$out/warnings.log
{ cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $out"; echo "WARN_LOGFILE = $log"; } | doxygen - >/dev/null
if [[ -s $log ]]; then
  cat "$log" >&2
  echo "$0: $(grep -c 'warning:' "$log") Doxygen warnings (above)" >&2
  exit 1
fi
echo "$out/html/index.html"
