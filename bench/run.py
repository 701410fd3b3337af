#!/usr/bin/env python3
"""Benchmark `vane run` against a hand-written DuckDB query on the same data.

For each scale (millions of product events) the script generates a book of
business with `vane sample-data`, then runs, several times each and with
the same number of threads:

- `vane run pipelines/customer_health.yaml` (release build), writing Parquet;
- the equivalent DuckDB SQL (tests/differential/scorecard_sql.py), COPY to Parquet;
- a DuckDB "scan floor": decoding every column the scorecard reads, once.

It reports median wall time, peak memory (RSS), the ratio Vane/DuckDB and
events per second, checks that Vane's scorecard matches DuckDB's value by
value, and writes bench/results.json. It is a script, not a test.

Usage: python3 bench/run.py [--scales 1,10,50] [--runs 3] [--threads 2]
                             [--memory-limit 2GB] [--no-build]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VANE = os.path.join(ROOT, "target", "release", "vane")
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
AS_OF = "2026-11-01"
EVENTS_PER_ACCOUNT = 2000


def sh(args, **kwargs):
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)


def ensure_tools(build):
    if build:
        print("building vane (release)…", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if not os.path.exists(PYTHON) or subprocess.run([PYTHON, "-c", "import duckdb"], capture_output=True).returncode != 0:
        print("installing duckdb into .venv…", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", os.path.join(ROOT, ".venv")], check=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "duckdb"], check=True)


def dataset(scale):
    """Generate (once) the data for `scale` million events; return its folder."""
    folder = os.path.join(ROOT, "bench", "data", f"{scale}m")
    marker = os.path.join(folder, ".complete")
    accounts = max(1, int(scale * 1_000_000 / EVENTS_PER_ACCOUNT))
    if not os.path.exists(marker):
        shutil.rmtree(folder, ignore_errors=True)
        print(f"generating {scale}M events ({accounts} accounts)…", file=sys.stderr)
        started = time.perf_counter()
        sh([VANE, "sample-data", "--out", folder, "--accounts", str(accounts),
            "--events-per-account", str(EVENTS_PER_ACCOUNT), "--end", AS_OF, "--days", "180"])
        print(f"  took {time.perf_counter() - started:.1f} s", file=sys.stderr)
        open(marker, "w").close()
    pipeline = os.path.join(folder, "customer_health.yaml")
    with open(os.path.join(ROOT, "pipelines", "customer_health.yaml")) as f:
        text = f.read().replace("../examples/data", ".").replace("../out/customer_health", "out")
    with open(pipeline, "w") as f:
        f.write(text)
    return folder, pipeline


def timed(args):
    """Run a command under /usr/bin/time; return (wall seconds, peak RSS MiB, stdout)."""
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M"] + args, text=True, capture_output=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{result.stdout}\n{result.stderr}")
    rss_kb = result.stderr.strip().splitlines()[-1]
    return wall, int(rss_kb) / 1024, result.stdout


def events_in(folder):
    out = sh([PYTHON, "-c", f"import duckdb; print(duckdb.connect().execute(\"SELECT count(*) FROM '{folder}/events/*.parquet'\").fetchone()[0])"])
    return int(out.stdout.strip())


def bench(scale, runs, threads, memory_limit):
    folder, pipeline = dataset(scale)
    events = events_in(folder)
    out = os.path.join(folder, "out")
    vane_times, vane_rss, vane_engine, duck_times, duck_rss, duck_query, floor = [], [], [], [], [], [], []
    for _ in range(runs):
        shutil.rmtree(out, ignore_errors=True)
        args = [VANE, "run", pipeline, "--as-of", AS_OF, "--threads", str(threads), "--out", out]
        if memory_limit:
            args += ["--memory-limit", memory_limit]
        wall, rss, _ = timed(args)
        vane_times.append(wall)
        vane_rss.append(rss)
        with open(os.path.join(out, f"as_of={AS_OF}", "manifest.json")) as f:
            vane_engine.append(json.load(f)["timings_ms"]["total"] / 1000)
        wall, rss, stdout = timed([PYTHON, os.path.join(ROOT, "bench", "duckdb_scorecard.py"), folder, AS_OF, str(threads), os.path.join(folder, "duckdb.parquet")])
        duck_times.append(wall)
        duck_rss.append(rss)
        duck_query.append(float(stdout.strip().splitlines()[-1]))
        _, _, stdout = timed([PYTHON, os.path.join(ROOT, "bench", "duckdb_scorecard.py"), folder, AS_OF, str(threads), "-", "--scan-floor"])
        floor.append(float(stdout.strip().splitlines()[-1]))
    check = subprocess.run([PYTHON, os.path.join(ROOT, "tests", "differential", "customer_health.py"), folder,
                            os.path.join(out, f"as_of={AS_OF}", "scorecard.parquet"), AS_OF], text=True, capture_output=True)
    vane = statistics.median(vane_times)
    duck = statistics.median(duck_query)
    return {
        "scale_million_events": scale,
        "events": events,
        "runs": runs,
        "threads": threads,
        "memory_limit": memory_limit,
        "vane_median_s": vane,
        "vane_in_process_median_s": statistics.median(vane_engine),
        "vane_peak_rss_mib": max(vane_rss),
        "duckdb_query_median_s": duck,
        "duckdb_process_median_s": statistics.median(duck_times),
        "duckdb_peak_rss_mib": max(duck_rss),
        "scan_floor_median_s": statistics.median(floor),
        "ratio_vane_over_duckdb": vane / duck,
        "ratio_vane_over_scan_floor": vane / statistics.median(floor),
        "vane_events_per_s": events / vane,
        "values_match": check.returncode == 0,
        "check": check.stdout.strip().splitlines()[-1] if check.stdout.strip() else check.stderr.strip()[-300:],
    }


def table(results):
    lines = [
        "| events | Vane (process) | Vane (in-process) | DuckDB (in-process) | DuckDB (process) | Vane / DuckDB | scan floor | Vane / floor | Vane peak RSS | DuckDB peak RSS | Vane events/s | values match |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['events'] / 1e6:.1f}M | {r['vane_median_s']:.3f} s | {r['vane_in_process_median_s']:.3f} s | {r['duckdb_query_median_s']:.3f} s | "
            f"{r['duckdb_process_median_s']:.3f} s | "
            f"{r['ratio_vane_over_duckdb']:.2f} | {r['scan_floor_median_s']:.3f} s | {r['ratio_vane_over_scan_floor']:.2f} | "
            f"{r['vane_peak_rss_mib']:.0f} MiB | {r['duckdb_peak_rss_mib']:.0f} MiB | {r['vane_events_per_s'] / 1e6:.1f}M | "
            f"{'yes' if r['values_match'] else 'NO: ' + r['check']} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10,50", help="millions of events, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--memory-limit", default=None, help="passed to vane run, e.g. 2GB")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    ensure_tools(not args.no_build)
    results = []
    for scale in [float(s) if "." in s else int(s) for s in args.scales.split(",")]:
        result = bench(scale, args.runs, args.threads, args.memory_limit)
        print(json.dumps(result), file=sys.stderr)
        results.append(result)
    with open(os.path.join(ROOT, "bench", "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(table(results))


if __name__ == "__main__":
    main()
