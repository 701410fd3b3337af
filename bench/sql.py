#!/usr/bin/env python3
"""Time the SQL `vane sql` writes, run by DuckDB, against `vane run` on the
same book and night.

For a book already generated (default bench/data/8m, `vane sample-data`),
it writes the DuckDB query once (`vane sql --dialect duckdb --files`), then
runs, interleaved and several times each, with the same threads:

- `vane run pipelines/customer_health.yaml` (a fresh output folder each
  time), timed as a process and by the manifest's in-process total;
- the generated query in DuckDB, `COPY … TO` Parquet, timed in-process
  (the query alone) and as a process (starting Python and DuckDB too).

It checks that the query's rows equal Vane's scorecard value by value
(tests/differential/generated_sql.py) and prints a Markdown table. It is a
script, not a test.

Usage: python3 bench/sql.py [--data bench/data/8m] [--runs 7] [--threads 2]
                            [--vane target/release/vane]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

from run import AS_OF, PYTHON, ROOT, events_in, timed

RUN_QUERY = """
import sys, time, duckdb
query, threads, out = open(sys.argv[1]).read(), int(sys.argv[2]), sys.argv[3]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"SET threads = {threads}")
started = time.perf_counter()
con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet)")
print(f"{time.perf_counter() - started:.6f}")
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(ROOT, "bench", "data", "8m"))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vane", default=os.path.join(ROOT, "target", "release", "vane"))
    args = parser.parse_args()
    folder = os.path.abspath(args.data)
    pipeline = os.path.join(folder, "customer_health.yaml")
    with open(os.path.join(ROOT, "pipelines", "customer_health.yaml")) as f:
        text = f.read().replace("../examples/data", ".").replace("../out/customer_health", "out")
    with open(pipeline, "w") as f:
        f.write(text)
    query = os.path.join(folder, "generated.duckdb.sql")
    result = subprocess.run([args.vane, "sql", pipeline, "--as-of", AS_OF, "--dialect", "duckdb", "--files"],
                            text=True, capture_output=True, check=True)
    with open(query, "w") as f:
        f.write(result.stdout)
    script = os.path.join(folder, "run_query.py")
    with open(script, "w") as f:
        f.write(RUN_QUERY)
    events = events_in(folder)
    out = os.path.join(folder, "out")
    vane, vane_in, vane_rss, duck, duck_in, duck_rss = [], [], [], [], [], []
    for _ in range(args.runs):
        shutil.rmtree(out, ignore_errors=True)
        wall, rss, _ = timed([args.vane, "run", pipeline, "--as-of", AS_OF, "--threads", str(args.threads), "--out", out])
        vane.append(wall)
        vane_rss.append(rss)
        with open(os.path.join(out, f"as_of={AS_OF}", "manifest.json")) as f:
            vane_in.append(json.load(f)["timings_ms"]["total"] / 1000)
        wall, rss, stdout = timed([PYTHON, script, query, str(args.threads), os.path.join(folder, "generated.parquet")])
        duck.append(wall)
        duck_rss.append(rss)
        duck_in.append(float(stdout.strip().splitlines()[-1]))
    check = subprocess.run([PYTHON, os.path.join(ROOT, "tests", "differential", "generated_sql.py"), "duckdb", query,
                            os.path.join(out, f"as_of={AS_OF}", "scorecard.parquet")], text=True, capture_output=True)
    med = statistics.median
    print(f"{events / 1e6:.1f}M events, {args.runs} runs each, {args.threads} threads; "
          f"values: {check.stdout.strip() or check.stderr.strip()[-300:]}")
    print()
    print("| | process (median) | in-process (median) | peak RSS |")
    print("|---|---:|---:|---:|")
    print(f"| `vane run` | {med(vane):.3f} s | {med(vane_in):.3f} s | {max(vane_rss):.0f} MiB |")
    print(f"| generated SQL in DuckDB | {med(duck):.3f} s | {med(duck_in):.3f} s | {max(duck_rss):.0f} MiB |")
    print()
    print(f"generated SQL / vane run (in-process): {med(duck_in) / med(vane_in):.2f}")


if __name__ == "__main__":
    sys.exit(main())
