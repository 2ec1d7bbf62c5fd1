#!/usr/bin/env python3
"""Prints benchmarks/engines.sh's table: tlsw on Botan 2 and on Botan 3 side
by side (timings: medians over the rounds; instruction counts from
callgrind), then the two engine targets, with PASS or FAIL.

Usage: benchmarks/engines_table.py RESULTS_DIR
   (context.txt, time.botan2.N.txt, time.botan3.N.txt, instructions.txt)

The targets are timed ratios (noisy on a shared
machine): per round, the ratio of the two figures measured in that round,
then the median over the rounds; the ratio of instruction counts is printed beside each,
for reference (deterministic, but callgrind runs the code paths Botan picks
for the CPU valgrind emulates, which lacks some of the real CPU's
extensions).
"""

import glob
import os
import re
import statistics
import sys

from table import fmt, read_pairs  # run.sh's table: the same "key value" files

COLUMNS = [("botan2", "tls12"), ("botan3", "tls12"), ("botan3", "tls13"), ("botan3", "tls13_chacha")]
VERSION_NAMES = {"tls12": "TLS 1.2", "tls13": "TLS 1.3", "tls13_chacha": "TLS 1.3, ChaCha20 (reference)"}
MESSAGE_TARGET = 0.9
BULK_TARGET = 1.2


def runs(results, engine):
    """The time.ENGINE.N.txt files in round order."""
    paths = glob.glob(os.path.join(results, f"time.{engine}.*.txt"))
    paths.sort(key=lambda p: int(re.search(r"\.(\d+)\.txt$", p).group(1)))
    return [read_pairs(p) for p in paths]


def samples(rounds, key):
    out = []
    for r in rounds:
        try:
            out.append(float(r[key]))
        except (KeyError, ValueError):
            pass
    return out


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = sys.argv[1]
    ctx = read_pairs(os.path.join(results, "context.txt"))
    instr = read_pairs(os.path.join(results, "instructions.txt"))
    rounds = {e: runs(results, e) for e in ("botan2", "botan3")}
    first = {e: (rounds[e][0] if rounds[e] else {}) for e in rounds}

    cols = [(e, v) for e, v in COLUMNS if first[e].get(f"{v}.available") == "1"]

    def timed(e, v, key, scale=1.0):
        s = [x * scale for x in samples(rounds[e], f"{v}.{key}")]
        return (statistics.median(s), min(s), max(s)) if s else None

    def per_op(e, v, workload, per=1):
        try:
            total = float(instr[f"instr.{e}.{v}.{workload}.total"])
            ops = float(instr[f"instr.{e}.{v}.{workload}.ops"])
        except (KeyError, ValueError):
            return None
        return total / (ops * per) if total > 0 and ops > 0 else None

    def cell(t, digits=0):
        if t is None:
            return "–"
        med, lo, hi = t
        return f"{fmt(med, digits)} ({fmt(lo, digits)}–{fmt(hi, digits)})"

    n = len(rounds["botan3"])
    print(f"{ctx.get('date', '?')}, tlsw {ctx.get('commit', '?')}, {ctx.get('cpus', '?')} CPUs, "
          f"load average {ctx.get('load_start', '?')} at the start, {ctx.get('load_timed', '?')} after the timings, "
          f"{ctx.get('load_end', '?')} at the end. Timings: median (min–max) of {n} rounds, thread CPU time; "
          f"instructions: callgrind, per operation (deterministic).")
    print()
    head = [f"Botan {first[e].get('engine.botan', '?')}, {VERSION_NAMES[v]}" for e, v in cols]
    print("| measure | kind | " + " | ".join(head) + " |")
    print("|---|---|" + "---:|" * len(cols))

    def row(name, kind, cells):
        print(f"| {name} | {kind} | " + " | ".join(cells) + " |")

    row("cipher suite", "", [first[e].get(f"{v}.suite", "?") for e, v in cols])
    row("compiler (g++)", "", [first[e].get("engine.compiler", "?") for e, v in cols])
    row("64-byte messages, write + read each (k msg/s)", "timing",
        [cell(timed(e, v, "messages.msg_s", 1e-3)) for e, v in cols])
    row("64-byte messages, 64 written then read (k msg/s)", "timing",
        [cell(timed(e, v, "burst.msg_s", 1e-3)) for e, v in cols])
    row("16 KiB bulk (MiB/s)", "timing", [cell(timed(e, v, "bulk.mib_s")) for e, v in cols])
    row("instructions per 64-byte message (write + read)", "count",
        [fmt(per_op(e, v, "messages")) for e, v in cols])
    row("instructions per message, 64 written then read", "count",
        [fmt(per_op(e, v, "burst", 64)) for e, v in cols])
    row("instructions per 16 KiB record (write + read)", "count", [fmt(per_op(e, v, "bulk")) for e, v in cols])
    print()

    # The targets are timed ratios one per round from
    # the two figures measured in that round (the engines run in turn, so
    # both figures of a round saw about the same load), then their median.
    # The ratios of instruction counts are beside them for reference,
    # without a verdict: callgrind runs the code paths Botan picks for
    # valgrind's emulated CPU (it has no AVX-512, which this machine has),
    # not the real CPU's.
    def round_ratios(num_engine, num_version, den_engine, den_version, key):
        a = samples(rounds[num_engine], f"{num_version}.{key}")
        b = samples(rounds[den_engine], f"{den_version}.{key}")
        r = [x / y for x, y in zip(a, b) if y > 0]
        return (statistics.median(r), min(r), max(r)) if r else None

    targets = [
        ("64-byte messages, write + read each: tlsw TLS 1.3 / tlsw TLS 1.2, both on Botan 3",
         round_ratios("botan3", "tls13", "botan3", "tls12", "messages.msg_s"),
         ratio(per_op("botan3", "tls12", "messages"), per_op("botan3", "tls13", "messages")), MESSAGE_TARGET),
        ("16 KiB bulk: tlsw on Botan 3 (its default, TLS 1.3) / tlsw on Botan 2 (TLS 1.2)",
         round_ratios("botan3", "tls13", "botan2", "tls12", "bulk.mib_s"),
         ratio(per_op("botan2", "tls12", "bulk"), per_op("botan3", "tls13", "bulk")), BULK_TARGET),
    ]
    print("| target | rate ratio (timing: median of the rounds' ratios, min–max) | needed | result "
          "| instruction ratio (count, reference) |")
    print("|---|---:|---:|:---:|---:|")
    passed = failed = 0
    for name, timed_ratio, count_ratio, goal in targets:
        if timed_ratio is None:
            result = "–"
        elif timed_ratio[0] >= goal:
            result, passed = "PASS", passed + 1
        else:
            result, failed = "FAIL", failed + 1
        print(f"| {name} | {cell(timed_ratio, 2)} | ≥ {goal} | {result} | {fmt(count_ratio, 2)} |")
    print()
    print(f"{passed} PASS, {failed} FAIL. A rate ratio above 1: the first is faster. The instruction ratio is "
          f"the second's count over the first's, so that above 1 means the same.")


if __name__ == "__main__":
    main()
