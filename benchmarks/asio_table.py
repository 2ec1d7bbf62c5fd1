#!/usr/bin/env python3
"""The Asio comparison's table and chart data, from asio_compare's output.

Usage: asio_table.py RESULTS_DIR
Reads RESULTS_DIR/asio.txt (lines `figure impl value`), prints the table
(Markdown) with PASS/FAIL against the targets, and writes
RESULTS_DIR/asio.dat for benchmarks/asio_chart.gp: each figure relative
to asio::ssl::stream (1.0), higher is better (heap inverted).
"""
import os
import sys

IMPLS = [("tlsw_asio", "tlsw::asio::stream"), ("openssl_asio", "asio::ssl::stream"), ("tlsw_poll", "tlsw poll() loop")]
FIGURES = [
    # key, label, unit, format, higher is better
    ("echo64", "64-byte echo", "round trips/s", "{:,.0f}", True),
    ("bulk16k", "bulk, 16 KiB writes", "MiB/s", "{:,.0f}", True),
    ("handshakes", "full handshakes", "per s", "{:,.0f}", True),
    ("heap_idle", "heap per idle connection", "bytes", "{:,.0f}", False),
]


def main():
    out = sys.argv[1]
    values = {}
    with open(os.path.join(out, "asio.txt")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                values[(parts[0], parts[1])] = float(parts[2])

    def v(fig, impl):
        return values.get((fig, impl), float("nan"))

    def verdict(ok):
        return "PASS" if ok else "FAIL"

    print("| figure | " + " | ".join(name for _, name in IMPLS) + " | stream / ssl::stream | stream / poll() | targets |")
    print("|---|" + "---:|" * len(IMPLS) + "---:|---:|---|")
    failed = 0
    dat = []
    for key, label, unit, fmt, higher in FIGURES:
        a, o, p = v(key, "tlsw_asio"), v(key, "openssl_asio"), v(key, "tlsw_poll")
        vs_ssl, vs_poll = a / o, a / p
        targets = []
        # The Asio layer within 5 % of the poll() loop, on every figure.
        near_poll = vs_poll >= 0.95 if higher else vs_poll <= 1.05
        targets.append("within 5 % of poll(): " + verdict(near_poll))
        if key == "echo64":
            targets.append(">= ssl::stream: " + verdict(a >= o))
            failed += a < o
        elif key == "heap_idle":
            targets.append("< ssl::stream: " + verdict(a < o))
            failed += a >= o
        else:
            targets.append("vs OpenSSL: reported")
        failed += not near_poll
        cells = [fmt.format(x) for x in (a, o, p)]
        print(f"| {label} ({unit}) | " + " | ".join(cells) + f" | {vs_ssl:.2f} | {vs_poll:.2f} | " + "; ".join(targets) + " |")
        rel = (lambda x: x / o) if higher else (lambda x: o / x)
        short = {"echo64": "64-byte echo", "bulk16k": "bulk 16 KiB", "handshakes": "handshakes", "heap_idle": "idle heap"}[key]
        dat.append(f'"{short}" {rel(a):.4f} {rel(o):.4f} {rel(p):.4f}')
    with open(os.path.join(out, "asio.dat"), "w") as f:
        f.write("# figure tlsw::asio::stream asio::ssl::stream tlsw-poll (relative to asio::ssl::stream, higher is better)\n")
        f.write("\n".join(dat) + "\n")
    print()
    print(f"{failed} target(s) failed" if failed else "every target met")


if __name__ == "__main__":
    main()
