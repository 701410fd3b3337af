#!/usr/bin/env python3
"""Issue 12's ratio: one `vane run` and one 52-night `vane backfill`
(weekly, 2025-11-09 to 2026-11-01) over bench/data/25m, alternating per
binary and round, waiting for the load average to drop below 3 before
each timing, `--threads 2 --memory-limit 2GB`. Prints each binary's
timings, their medians and the ratio of medians (and pair by pair).

Usage: python3 bench/ratio.py BIN_A[,BIN_B…] [ROUNDS]
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PIPELINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "25m", "customer_health.yaml")


def main():
    binaries = sys.argv[1].split(",")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    times = {b: {"one": [], "52": []} for b in binaries}
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "out")
        for _ in range(rounds):
            for binary in binaries:
                for kind in ["one", "52"]:
                    shutil.rmtree(out, ignore_errors=True)
                    while os.getloadavg()[0] > 3.0:
                        time.sleep(5)
                    if kind == "one":
                        args = [binary, "run", PIPELINE, "--as-of", "2026-11-01"]
                    else:
                        args = [binary, "backfill", PIPELINE, "--from", "2025-11-09", "--to", "2026-11-01", "--every", "7d"]
                    started = time.perf_counter()
                    subprocess.run(args + ["--out", out, "--threads", "2", "--memory-limit", "2GB"],
                                   check=True, capture_output=True)
                    times[binary][kind].append(time.perf_counter() - started)
    for binary in binaries:
        one, many = times[binary]["one"], times[binary]["52"]
        print(binary, "one", " ".join(f"{x:.2f}" for x in one), "median", f"{statistics.median(one):.3f}")
        print(binary, "52 ", " ".join(f"{x:.2f}" for x in many), "median", f"{statistics.median(many):.3f}")
        pairs = " ".join(f"{m / o:.1f}" for o, m in zip(one, many))
        print(binary, "ratio of medians", f"{statistics.median(many) / statistics.median(one):.2f}", "pair by pair", pairs)


if __name__ == "__main__":
    main()
