#!/usr/bin/env python3
"""Turns tlsw_bench's JSON output into the Markdown tables of README.md.

Usage: tlsw_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
           --benchmark_out=results.json --benchmark_out_format=json
       benchmarks/report.py results.json

Every figure is the median over the repetitions, with the coefficient of
variation across them in parentheses. Ratios divide tlsw's median CPU time
per operation by the other's: 1.05 means tlsw takes 5% longer.
"""

import json
import sys


def load(path):
    with open(path) as f:
        doc = json.load(f)
    runs = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "aggregate":
            continue
        runs.setdefault(b["run_name"], {})[b["aggregate_name"]] = b
    return doc["context"], runs


def rate(runs, name, key, scale):
    """'median (cv%)' of a rate; None when the benchmark did not run."""
    r = runs.get(name)
    if not r or "median" not in r:
        return None, None
    med = r["median"][key] / scale
    cv = r.get("cv", {}).get(key)
    text = f"{med:,.0f}" if med >= 100 else f"{med:,.1f}"
    if cv is not None:
        text += f" (±{100 * cv:.0f}%)"
    return text, r["median"]["cpu_time"]


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "–"


def table(runs):
    rows = []
    for size, label in [(1024, "1 KiB"), (16384, "16 KiB"), (65536, "64 KiB"), (1048576, "1 MiB")]:
        rows.append((f"bulk, {label} writes (MiB/s)", [f"bulk/{i}/{size}" for i in ("tlsw", "botan", "openssl")],
                     "bytes_per_second", 2**20))
    rows.append(("full handshakes (per s)", [f"handshake/{i}" for i in ("tlsw", "botan", "openssl")],
                 "items_per_second", 1))
    rows.append(("100 B messages, write + read each (k msg/s)",
                 [f"small/{i}/1x100" for i in ("tlsw", "botan", "openssl")], "items_per_second", 1e3))
    rows.append(("100 B messages, 64 writes then read (k msg/s)",
                 [f"small/{i}/64x100" for i in ("tlsw", "botan", "openssl")], "items_per_second", 1e3))
    rows.append(("100 B messages, 64 in one gather write (k msg/s)",
                 ["small/tlsw/gather_64x100", "small/botan/coalesced_64x100", None], "items_per_second", 1e3))

    out = ["| benchmark | tlsw | raw Botan | OpenSSL | tlsw / raw Botan | tlsw / OpenSSL |",
           "|---|---:|---:|---:|---:|---:|"]
    for label, names, key, scale in rows:
        cells, times = [], []
        for n in names:
            text, t = rate(runs, n, key, scale) if n else (None, None)
            cells.append(text or "–")
            times.append(t)
        out.append(f"| {label} | {' | '.join(cells)} | {ratio(times[0], times[1])} | {ratio(times[0], times[2])} |")
    return "\n".join(out)


def alloc_table(runs):
    out = ["| steady state, 16 KiB records | tlsw | raw Botan | OpenSSL |", "|---|---:|---:|---:|"]
    for key, label in [("send_allocs/record", "heap allocations per record, sending"),
                       ("recv_allocs/record", "heap allocations per record, receiving"),
                       ("alloc_B/record", "bytes allocated per record, both sides")]:
        cells = []
        for impl in ("tlsw", "botan", "openssl"):
            r = runs.get(f"alloc/{impl}/16384", {}).get("median")
            cells.append(f"{r[key]:g}" if r and key in r else "–")
        out.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(out)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    context, runs = load(sys.argv[1])
    print(f"{context.get('date', '?')}, {context.get('num_cpus', '?')} CPUs at {context.get('mhz_per_cpu', '?')} MHz, "
          f"load average {', '.join(f'{x:.2f}' for x in context.get('load_avg', []))}\n")
    print(table(runs))
    print()
    print(alloc_table(runs))


if __name__ == "__main__":
    main()
