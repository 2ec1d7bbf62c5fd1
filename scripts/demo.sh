#!/usr/bin/env bash
# Installs what is missing, builds tlsw's examples and runs the demo: two
# tls_streams in one process (examples/demo), then a real TLS connection
# over loopback: examples/server with a throwaway certificate
# (examples/test_pki), and examples/client verifying it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
[[ -f build/demo/build.ninja ]] || meson setup build/demo -Dtests=false -Dexamples=true >/dev/null
meson compile -C build/demo
examples=build/demo/examples

echo "== in one process: examples/demo"
"$examples/demo"

echo "== over loopback: examples/server and examples/client"
dir=$(mktemp -d)
server_pid=
cleanup() {
  [[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$examples/test_pki" "$dir" 2>/dev/null
# Port 0: the OS picks a free port, which the server prints on stdout.
"$examples/server" --cert "$dir/chain.pem" --key "$dir/key.pem" --port 0 --print-port --exit-after 2 \
  >"$dir/port" 2>"$dir/server.log" &
server_pid=$!
for _ in $(seq 200); do [[ -s $dir/port ]] && break; sleep 0.05; done
[[ -s $dir/port ]] || { cat "$dir/server.log" >&2; echo "demo: the server did not start" >&2; exit 1; }
port=$(head -n1 "$dir/port")
client=("$examples/client" --ca-file "$dir/ca.pem" --server-name localhost --ign-eof 127.0.0.1 "$port")

# Echo: the server echoes each line and closes after "quit".
printf 'hello over a real TLS connection\nquit\n' | "${client[@]}"
# HTTP: one request; "Connection: close" makes the server close after the answer.
printf 'GET /demo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | "${client[@]}"

wait "$server_pid"
server_pid=
sed 's/^/  server log: /' "$dir/server.log"
