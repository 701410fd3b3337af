#!/usr/bin/env python3
"""How long many nights take: `vane backfill` against separate `vane run`s.

For a book generated as bench/run.py generates it (`--scale` million
events), the script times, with the same threads and memory limit:

- one `vane run --as-of LAST` (one night);
- `vane backfill --from FIRST --to LAST --every 7d` (N weekly nights);
- N separate `vane run --as-of D`, in date order, into another folder;

checks that every night's scorecard and actions are byte-identical between
the two folders, and prints the times and the ratios backfill / one night
and backfill / N runs. A script, not a test.

Usage: python3 bench/backfill.py [--scale 10] [--nights 13] [--threads 2]
                                  [--memory-limit 2GB]
"""

import argparse
import datetime
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench_run  # noqa: E402  (bench/run.py: the data and the binary)


def timed(args):
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10)
    parser.add_argument("--nights", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB")
    args = parser.parse_args()
    if not os.path.exists(bench_run.VANE):
        sys.exit("build the release binary first: cargo build --release")
    scale = int(args.scale) if args.scale == int(args.scale) else args.scale
    _, pipeline = bench_run.dataset(scale)
    last = datetime.date.fromisoformat(bench_run.AS_OF)
    first = last - datetime.timedelta(days=7 * (args.nights - 1))
    common = ["--threads", str(args.threads), "--memory-limit", args.memory_limit]
    with tempfile.TemporaryDirectory() as scratch:
        one = timed([bench_run.VANE, "run", pipeline, "--as-of", str(last),
                     "--out", os.path.join(scratch, "one"), *common])
        filled = os.path.join(scratch, "filled")
        backfill = timed([bench_run.VANE, "backfill", pipeline, "--from", str(first),
                          "--to", str(last), "--every", "7d", "--out", filled, *common])
        runs = os.path.join(scratch, "runs")
        separate = 0.0
        night = first
        while night <= last:
            separate += timed([bench_run.VANE, "run", pipeline, "--as-of", str(night),
                               "--out", runs, *common])
            night += datetime.timedelta(days=7)
        for name in sorted(os.listdir(runs)):
            for table in ("scorecard.parquet", "actions.parquet"):
                a, b = os.path.join(runs, name, table), os.path.join(filled, name, table)
                if not filecmp.cmp(a, b, shallow=False):
                    sys.exit(f"{name}/{table} differs between the backfill and the runs")
        shutil.rmtree(runs)
    print(f"| scale | nights | one night | backfill | {args.nights} runs | backfill / one night | backfill / runs |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {scale} | {args.nights} | {one:.2f} s | {backfill:.2f} s | {separate:.2f} s "
          f"| {backfill / one:.1f}× | {backfill / separate:.2f} |")


if __name__ == "__main__":
    main()
