#!/usr/bin/env python3
"""How `vane validate` scales with the number of metrics.

Generates pipelines of N metrics over the example data in three shapes and
times `vane validate` on each (release build, median of several runs):

- `clean`: window metrics and derived metrics that read earlier ones; no
  diagnostics;
- `warnings`: every metric unused, so validate draws one warning per metric;
- `errors`: one indicator per metric, each missing three keys, so validate
  draws three errors per indicator.

The diagnostics shapes matter: drawing a snippet used to scan the whole file
each time, so N diagnostics of an N-metric file took time quadratic in N.
It prints a Markdown table for docs/benchmarks.md. A script, not a test.

Usage: python3 bench/validate_scale.py [--sizes 500,2000,5000,10000] [--runs 5]
                                       [--vane target/release/vane]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VANE = os.path.join(ROOT, "target", "release", "vane")
EXAMPLE = os.path.join(ROOT, "pipelines", "customer_health.yaml")


def header():
    """The example pipeline's sources, entity and targets, with absolute data paths."""
    text = open(EXAMPLE, encoding="utf-8").read().split("\nmetrics:")[0]
    return text.replace("../examples", os.path.join(ROOT, "examples")) + "\n"


def metric_lines(shape, n):
    lines = ["metrics:\n"]
    for i in range(n):
        if shape == "warnings":
            lines.append(f"  m{i}:\n    description: metric {i}\n    from: events\n"
                         f"    window: {i % 90 + 1}d\n    value: count_if(event_type = 'login') + {i}\n")
        elif i % 3 == 0 or shape == "errors":
            lines.append(f"  m{i}:\n    from: events\n    window: 30d\n"
                         f"    value: count_if(event_type = 'login')\n    unused: true\n")
        elif i % 3 == 1:
            lines.append(f"  m{i}:\n    value: m{i - 1} * 2 + 1\n    unused: true\n")
        else:
            lines.append(f"  m{i}:\n    value: m{i - 2} + m{i - 1}\n    unused: true\n")
    if shape == "errors":
        lines.append("indicators:\n")
        for i in range(n):
            lines.append(f"  i{i}:\n    metric: m{i}\n")
    return lines


def time_validate(vane, path, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([vane, "validate", path], capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1, 2):
            sys.exit(f"vane validate {path} exited {done.returncode}: {done.stderr[-2000:]}")
    return statistics.median(times), done.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,5000,10000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--vane", default=VANE, help="the binary to time")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not os.path.exists(args.vane):
        sys.exit("build the release binary first: cargo build --release")
    head = header()
    print("| metrics | clean | warnings | errors |")
    print("|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            cells = []
            for shape in ("clean", "warnings", "errors"):
                path = os.path.join(folder, f"{shape}-{n}.yaml")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(head + "".join(metric_lines(shape, n)))
                seconds, code = time_validate(args.vane, path, args.runs)
                cells.append(f"{seconds:.2f} s (exit {code})")
            print(f"| {n:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
