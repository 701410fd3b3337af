#!/usr/bin/env python3
"""How long many nights take: `vane backfill` against separate `vane run`s
and against one hand-written DuckDB query.

For a book generated as bench/run.py generates it (`--scale` million
events), the script times, with the same threads and memory limit:

- one `vane run --as-of LAST` (one night);
- `vane backfill --from FIRST --to LAST --every 7d` (N weekly nights);
- N separate `vane run --as-of D`, in date order, into another folder
  (unless `--no-runs`);
- with `--duckdb`, bench/duckdb_nights.py: the same N nights as ONE DuckDB
  query (a `nights` table joined to the events and the other sources by the
  window condition, grouped by night and account), COPY to Parquet, timed
  in-process like bench/duckdb_scorecard.py (and as a process).

It checks that every night's scorecard and actions are byte-identical
between the backfill and the separate runs, and that DuckDB's values equal
the backfill's scorecards for every (night, account): every column both
have, floats within 1e-9. It prints one table row per (scale, N): the times
and the ratios backfill / one night, backfill / N runs and backfill / DuckDB.
`--nights-list 13,26,52` shows how time grows with the number of nights and
`--scale 1,10,50` with the number of events; `--repeat K` reports medians of
K timings (peak RSS: the maximum). A script, not a test.

Usage: python3 bench/backfill.py [--scale 10] [--nights 13 | --nights-list 13,26,52]
                                  [--duckdb] [--no-runs] [--repeat 1] [--threads 2]
                                  [--memory-limit 2GB]
"""

import argparse
import datetime
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench_run  # noqa: E402  (bench/run.py: the data, the binary and PYTHON)

NIGHTS_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "duckdb_nights.py")


def timed(args):
    """Run a command under /usr/bin/time; return (wall seconds, peak RSS MiB, stdout)."""
    return bench_run.timed(args)


def number(text):
    value = float(text)
    return int(value) if value == int(value) else value


def median(values):
    return statistics.median(list(values))


def same_files(runs, filled):
    for name in sorted(os.listdir(runs)):
        for table in ("scorecard.parquet", "actions.parquet"):
            a, b = os.path.join(runs, name, table), os.path.join(filled, name, table)
            if not filecmp.cmp(a, b, shallow=False):
                sys.exit(f"{name}/{table} differs between the backfill and the runs")


def repeated(repeat, setup, args):
    """(median wall seconds, maximum peak RSS MiB) of `repeat` runs of `args`,
    calling `setup()` before each (to start from an empty output folder)."""
    results = []
    for _ in range(repeat):
        setup()
        results.append(timed(args))
    return median(wall for wall, _, _ in results), max(rss for _, rss, _ in results)


def one_row(scale, nights, args, folder, pipeline, one, scratch):
    last = datetime.date.fromisoformat(bench_run.AS_OF)
    first = last - datetime.timedelta(days=7 * (nights - 1))
    common = ["--threads", str(args.threads), "--memory-limit", args.memory_limit]
    row = {"scale": scale, "nights": nights, "one": one}
    filled = os.path.join(scratch, f"filled-{nights}")
    # A backfill skips the nights already in its folder: start empty each time.
    row["backfill"], row["backfill_rss"] = repeated(
        args.repeat, lambda: shutil.rmtree(filled, ignore_errors=True),
        [bench_run.VANE, "backfill", pipeline, "--from", str(first), "--to", str(last),
         "--every", "7d", "--out", filled, *common])
    written = sorted(os.listdir(filled))
    if len(written) != nights:
        sys.exit(f"the backfill wrote {len(written)} nights, not {nights}")
    if not args.no_runs:
        runs = os.path.join(scratch, f"runs-{nights}")
        totals = []
        for _ in range(args.repeat):
            shutil.rmtree(runs, ignore_errors=True)
            total = 0.0
            night = first
            while night <= last:
                total += timed([bench_run.VANE, "run", pipeline, "--as-of", str(night),
                                "--out", runs, *common])[0]
                night += datetime.timedelta(days=7)
            totals.append(total)
        row["runs"] = median(totals)
        same_files(runs, filled)
        shutil.rmtree(runs)
    if args.duckdb:
        out = os.path.join(scratch, f"duckdb-{nights}.parquet")
        duck_runs = [timed([bench_run.PYTHON, NIGHTS_SCRIPT, folder, str(first), str(last), "7",
                            str(args.threads), out, "--memory-limit", args.memory_limit])
                     for _ in range(args.repeat)]
        row["duck"] = median(float(stdout.strip().splitlines()[-1]) for _, _, stdout in duck_runs)
        row["duck_process"] = median(wall for wall, _, _ in duck_runs)
        row["duck_rss"] = max(rss for _, rss, _ in duck_runs)
        check = subprocess.run([bench_run.PYTHON, NIGHTS_SCRIPT, "--compare", out, filled],
                               text=True, capture_output=True)
        row["match"] = check.returncode == 0
        row["check"] = (check.stdout.strip() or check.stderr.strip()[-600:])
        os.remove(out)
    shutil.rmtree(filled)
    return row


def table(rows, args):
    head = ["scale", "events", "nights", "one night", "backfill", "backfill peak RSS"]
    if not args.no_runs:
        head += ["N runs"]
    if args.duckdb:
        head += ["DuckDB (in-process)", "DuckDB (process)", "DuckDB peak RSS"]
    head += ["backfill / one night"]
    if not args.no_runs:
        head += ["backfill / runs"]
    if args.duckdb:
        head += ["backfill / DuckDB", "values match"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if h == "values match" else "---:" for h in head) + "|"]
    for r in rows:
        cells = [str(r["scale"]), r["events"], str(r["nights"]), f"{r['one']:.2f} s", f"{r['backfill']:.2f} s",
                 f"{r['backfill_rss']:.0f} MiB"]
        if not args.no_runs:
            cells += [f"{r['runs']:.2f} s"]
        if args.duckdb:
            cells += [f"{r['duck']:.2f} s", f"{r['duck_process']:.2f} s", f"{r['duck_rss']:.0f} MiB"]
        cells += [f"{r['backfill'] / r['one']:.1f}×"]
        if not args.no_runs:
            cells += [f"{r['backfill'] / r['runs']:.2f}"]
        if args.duckdb:
            cells += [f"{r['backfill'] / r['duck']:.2f}",
                      "yes" if r["match"] else "NO: " + r["check"].splitlines()[0]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="10", help="millions of events; a comma-separated list for several")
    parser.add_argument("--nights", type=int, default=13)
    parser.add_argument("--nights-list", default=None, help="comma-separated numbers of nights, e.g. 13,26,52 (overrides --nights)")
    parser.add_argument("--duckdb", action="store_true", help="also time the N nights as one DuckDB query and check its values")
    parser.add_argument("--no-runs", action="store_true", help="skip the N separate vane runs")
    parser.add_argument("--repeat", type=int, default=1, help="time everything this many times; report medians")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB")
    args = parser.parse_args()
    if not os.path.exists(bench_run.VANE):
        sys.exit("build the release binary first: cargo build --release")
    if args.duckdb:
        bench_run.ensure_tools(False)
    scales = [number(s) for s in args.scale.split(",")]
    counts = [int(n) for n in args.nights_list.split(",")] if args.nights_list else [args.nights]
    rows = []
    for scale in scales:
        folder, pipeline = bench_run.dataset(scale)
        events = f"{bench_run.events_in(folder) / 1e6:.1f}M" if os.path.exists(bench_run.PYTHON) else "—"
        with tempfile.TemporaryDirectory() as scratch:
            one_out = os.path.join(scratch, "one")
            one = repeated(args.repeat, lambda: shutil.rmtree(one_out, ignore_errors=True),
                           [bench_run.VANE, "run", pipeline, "--as-of", bench_run.AS_OF, "--out", one_out,
                            "--threads", str(args.threads), "--memory-limit", args.memory_limit])[0]
            for nights in counts:
                row = one_row(scale, nights, args, folder, pipeline, one, scratch)
                row["events"] = events
                note = f"; DuckDB {row['duck']:.2f} s, {row['check']}" if args.duckdb else ""
                print(f"scale {scale}, {nights} nights: backfill {row['backfill']:.2f} s{note}", file=sys.stderr)
                rows.append(row)
    print(table(rows, args))
    if args.duckdb and not all(r["match"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
