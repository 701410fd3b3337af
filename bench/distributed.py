#!/usr/bin/env python3
"""Benchmark a night on Apache Ballista against the same night run locally.

Starts a real cluster on this machine — one `vane-cluster scheduler` and two
`vane-cluster executor`s, each executor with its own work folder — then runs,
interleaved and several times each, on the same book of business:

- local:   `vane run pipelines/customer_health.yaml --as-of … --threads T`
- cluster: the same with `--engine ballista://127.0.0.1:PORT`

It reports median wall time, the client's peak RSS (`/usr/bin/time`), each
executor's and the scheduler's peak RSS during the night (VmHWM, reset
before each run through /proc/PID/clear_refs), the bytes the executors
wrote as shuffle files (every stage's output, the final stage included,
which is what the client fetches; intermediate stages are deleted when
the job succeeds, so the script samples the work folders every 10 ms
while the night runs), per job — one job per part of the
facts, named by the columns it returns — and checks that the cluster's
scorecard and actions are byte-identical to the local ones. It writes
bench/distributed.json. It is a script, not a test.

Needs a build with the feature: `cargo build --profile quick --features
ballista` (or `--release`); point --bin-dir at its folder.

Usage: python3 bench/distributed.py [--scale 50] [--runs 5] [--threads 2]
                                    [--slots 2] [--bin-dir target/quick]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import run as single_night

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AS_OF = single_night.AS_OF


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a cluster node exited early (code {process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port} after {seconds} s")


class Cluster:
    """A scheduler and executors started as processes; stopped on exit."""

    def __init__(self, bin_dir, executors, slots, folder):
        self.folder = folder
        self.processes = []
        self.work_dirs = []
        node = os.path.join(bin_dir, "vane-cluster")
        self.port = free_port()
        self.scheduler = self.start("scheduler", [node, "scheduler", "--port", str(self.port)])
        wait_for_port(self.port, self.scheduler)
        self.executors = []
        for n in range(executors):
            work = os.path.join(folder, f"executor{n}")
            os.makedirs(work)
            self.work_dirs.append(work)
            flight, grpc = free_port(), free_port()
            executor = self.start(f"executor{n}", [
                node, "executor", "--scheduler", f"127.0.0.1:{self.port}", "--port", str(flight),
                "--grpc-port", str(grpc), "--work-dir", work, "--concurrent-tasks", str(slots)])
            wait_for_port(flight, executor)
            self.executors.append(executor)
        # Executors register with their first heartbeat.
        time.sleep(3)

    def start(self, name, args):
        log = open(os.path.join(self.folder, f"{name}.log"), "w")
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def reset_peaks(self):
        for process in [self.scheduler] + self.executors:
            with open(f"/proc/{process.pid}/clear_refs", "w") as f:
                f.write("5")

    def peaks_mib(self):
        def peak(process):
            with open(f"/proc/{process.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
            return 0.0
        return peak(self.scheduler), [peak(e) for e in self.executors]

    def clear_shuffles(self):
        for work in self.work_dirs:
            for entry in os.listdir(work):
                shutil.rmtree(os.path.join(work, entry), ignore_errors=True)

    def watch_shuffles(self):
        """Start recording every shuffle file's size while a night runs:
        Ballista deletes a job's intermediate stages as soon as the job
        succeeds, so they are seen only while it runs (sampled every 10 ms)."""
        self.seen = {}
        self.watching = True

        def sample():
            while self.watching:
                self.record_files()
                time.sleep(0.01)
        self.watcher = threading.Thread(target=sample, daemon=True)
        self.watcher.start()

    def record_files(self):
        for work in self.work_dirs:
            for root, _, files in os.walk(work):
                for name in files:
                    path = os.path.join(root, name)
                    try:
                        size = os.path.getsize(path)
                    except OSError:
                        continue
                    self.seen[path] = max(size, self.seen.get(path, 0))

    def shuffles(self):
        """Stop watching; bytes the executors wrote, per job:
        {job: {"stages": {stage: bytes}, "columns": [...]}}."""
        self.watching = False
        self.watcher.join()
        self.record_files()
        jobs = {}
        for path, size in self.seen.items():
            work = next(w for w in self.work_dirs if path.startswith(w + os.sep))
            job, stage = os.path.relpath(path, work).split(os.sep)[:2]
            record = jobs.setdefault(job, {"stages": {}, "files": []})
            record["stages"][stage] = record["stages"].get(stage, 0) + size
            record["files"].append((stage, path))
        for record in jobs.values():
            last = max(record["stages"], key=lambda s: int(s) if s.isdigit() else -1)
            record["columns"] = columns_of([p for s, p in record.pop("files") if s == last and os.path.exists(p)])
        return jobs

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


READ_COLUMNS = """
import sys, pyarrow.ipc as ipc
try:
    schema = ipc.open_file(sys.argv[1]).schema
except Exception:
    schema = ipc.open_stream(open(sys.argv[1], "rb")).schema
print(",".join(schema.names))
"""


def columns_of(paths):
    """The columns of a job's final stage (its Arrow IPC files), to name the part."""
    for path in paths:
        result = subprocess.run([single_night.PYTHON, "-c", READ_COLUMNS, path], text=True, capture_output=True)
        if result.returncode == 0:
            return result.stdout.strip().split(",")
    return []


def night(vane, pipeline, out, threads, engine=None):
    shutil.rmtree(out, ignore_errors=True)
    args = [vane, "run", pipeline, "--as-of", AS_OF, "--threads", str(threads), "--out", out]
    if engine:
        args += ["--engine", engine]
    wall, rss, stdout = single_night.timed(args)
    with open(os.path.join(out, f"as_of={AS_OF}", "manifest.json")) as f:
        timings = json.load(f)["timings_ms"]
    return wall, rss, timings, stdout


def identical(a, b):
    for name in ("scorecard.parquet", "actions.parquet"):
        with open(os.path.join(a, f"as_of={AS_OF}", name), "rb") as x, open(os.path.join(b, f"as_of={AS_OF}", name), "rb") as y:
            if x.read() != y.read():
                return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=50, help="millions of events")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--slots", type=int, default=os.cpu_count() or 2, help="task slots per executor")
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "quick"))
    args = parser.parse_args()
    vane = os.path.join(args.bin_dir, "vane")
    single_night.VANE = vane
    single_night.ensure_tools(False)
    subprocess.run([single_night.PYTHON, "-m", "pip", "install", "--quiet", "pyarrow"], check=True)
    folder, pipeline = single_night.dataset(args.scale)
    events = single_night.events_in(folder)
    scratch = tempfile.mkdtemp(prefix="vane-distributed-")
    cluster = Cluster(args.bin_dir, 2, args.slots, scratch)
    try:
        engine = f"ballista://127.0.0.1:{cluster.port}"
        local_out, cluster_out = os.path.join(scratch, "local"), os.path.join(scratch, "cluster")
        night(vane, pipeline, cluster_out, args.threads, engine)  # warm-up: executors registered, files cached
        local, remote, shuffled = [], [], []
        for _ in range(args.runs):
            wall, rss, timings, _ = night(vane, pipeline, local_out, args.threads)
            local.append({"wall_s": wall, "client_rss_mib": rss, "facts_ms": timings.get("compute facts")})
            cluster.clear_shuffles()
            cluster.reset_peaks()
            cluster.watch_shuffles()
            wall, rss, timings, stdout = night(vane, pipeline, cluster_out, args.threads, engine)
            scheduler_peak, executor_peaks = cluster.peaks_mib()
            jobs = cluster.shuffles()
            shuffled.append(jobs)
            remote.append({
                "wall_s": wall, "client_rss_mib": rss, "facts_ms": timings.get("compute facts"),
                "scheduler_rss_mib": scheduler_peak, "executor_rss_mib": executor_peaks,
                "bytes_shuffled": sum(sum(j["stages"].values()) for j in jobs.values()),
                "summary": [line.strip() for line in stdout.splitlines() if "ballista://" in line],
            })
        same = identical(local_out, cluster_out)
    finally:
        cluster.stop()
    result = {
        "events": events,
        "runs": args.runs,
        "threads": args.threads,
        "slots_per_executor": args.slots,
        "local": local,
        "cluster": remote,
        "jobs_of_last_cluster_run": [
            {"columns": j["columns"], "bytes_per_stage": j["stages"]} for j in shuffled[-1].values()],
        "local_median_s": statistics.median(r["wall_s"] for r in local),
        "cluster_median_s": statistics.median(r["wall_s"] for r in remote),
        "byte_identical": same,
    }
    result["ratio_cluster_over_local"] = result["cluster_median_s"] / result["local_median_s"]
    with open(os.path.join(ROOT, "bench", "distributed.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(report(result))
    shutil.rmtree(scratch, ignore_errors=True)


def mib(n):
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def report(r):
    med = statistics.median
    executors = " / ".join(
        f"{max(x['executor_rss_mib'][i] for x in r['cluster']):.0f}" for i in range(2))
    lines = [
        f"{r['events'] / 1e6:.1f}M events, {r['runs']} runs each, --threads {r['threads']}, "
        f"2 executors x {r['slots_per_executor']} slots; byte-identical: {'yes' if r['byte_identical'] else 'NO'}",
        "",
        "| engine | wall (median) | facts (median) | client peak RSS | executor peak RSS (each) | scheduler peak RSS | shuffled per night |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| local | {r['local_median_s']:.3f} s | {med(x['facts_ms'] for x in r['local']) / 1000:.3f} s | "
        f"{max(x['client_rss_mib'] for x in r['local']):.0f} MiB | – | – | – |",
        f"| Ballista | {r['cluster_median_s']:.3f} s | {med(x['facts_ms'] for x in r['cluster']) / 1000:.3f} s | "
        f"{max(x['client_rss_mib'] for x in r['cluster']):.0f} MiB | "
        f"{executors} MiB | "
        f"{max(x['scheduler_rss_mib'] for x in r['cluster']):.0f} MiB | "
        f"{mib(med(x['bytes_shuffled'] for x in r['cluster']))} |",
        "",
        f"cluster / local: {r['ratio_cluster_over_local']:.2f}",
        "",
        "| part (columns returned) | stages | bytes written per stage |",
        "|---|---:|---|",
    ]
    for job in sorted(r["jobs_of_last_cluster_run"], key=lambda j: -sum(j["bytes_per_stage"].values())):
        columns = job["columns"]
        name = ", ".join(columns[:4]) + (f", … ({len(columns)} columns)" if len(columns) > 4 else "")
        stages = sorted(job["bytes_per_stage"].items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else -1)
        lines.append(f"| {name} | {len(stages)} | {', '.join(mib(b) for _, b in stages)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
