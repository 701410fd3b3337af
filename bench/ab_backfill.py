#!/usr/bin/env python3
"""Interleaved A/B of `vane backfill` between binaries: 52 weekly nights
over a bench book (bench/data/<scale>m, made by bench/run.py), alternating
binaries round by round and waiting for the load average to drop below 3
before each timing, so that drift on a shared machine hits all binaries
alike. Prints each timing, then the median and minimum per binary.

Usage: python3 bench/ab_backfill.py BIN_A,BIN_B[,…] [ROUNDS] [--scale 25]
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    scale = "25"
    if "--scale" in sys.argv:
        scale = sys.argv[sys.argv.index("--scale") + 1]
        args = [a for a in args if a != scale]
    binaries = args[0].split(",")
    rounds = int(args[1]) if len(args) > 1 else 4
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", f"{scale}m")
    pipeline = os.path.join(data, "customer_health.yaml")
    times = {b: [] for b in binaries}
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "out")
        for _ in range(rounds):
            for binary in binaries:
                shutil.rmtree(out, ignore_errors=True)
                while os.getloadavg()[0] > 3.0:
                    time.sleep(5)
                started = time.perf_counter()
                done = subprocess.run([binary, "backfill", pipeline, "--from", "2025-11-09", "--to", "2026-11-01",
                                "--every", "7d", "--out", out, "--threads", "2", "--memory-limit", "2GB"],
                               check=True, capture_output=True, text=True)
                total = time.perf_counter() - started
                shared = re.search(r"one pass for \d+ nights: .* in ([0-9.]+) s \(", done.stdout)
                times[binary].append((total, float(shared.group(1)) if shared else 0.0))
                print(f"{binary}: {total:.2f} s", flush=True)
    for binary, runs in times.items():
        totals = [total for total, _ in runs]
        print(f"{binary}: median {statistics.median(totals):.2f} s, min {min(totals):.2f} s; "
              f"shared pass {statistics.median(s for _, s in runs):.2f} s, "
              f"nights after it {statistics.median(t - s for t, s in runs):.2f} s")


if __name__ == "__main__":
    main()
