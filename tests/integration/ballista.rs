//! The distributed engine against a real Apache Ballista cluster: a
//! scheduler and two executors started as separate processes
//! (`vane-cluster`, built with the `ballista` feature) on free localhost
//! ports, stopped when the test ends, also when it fails. Nights computed
//! on the cluster must be byte for byte the local ones.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vane::commands::{self, Exit};
use vane::diagnostics::Code;
use vane::run::{Nights, RunOptions};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Wait until something accepts connections on `port`.
fn wait_for(port: u16, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} did not listen on port {port} within a minute"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scheduler and executors, each its own process; all stopped on drop.
struct Cluster {
    scheduler: Child,
    executors: Vec<Child>,
    port: u16,
    _work: tempfile::TempDir,
}

impl Cluster {
    fn start(executors: usize) -> Cluster {
        let work = tempfile::tempdir().expect("temp dir");
        let node = env!("CARGO_BIN_EXE_vane-cluster");
        let port = free_port();
        let scheduler = Command::new(node)
            .args([
                "scheduler",
                "--bind",
                "127.0.0.1",
                "--external-host",
                "127.0.0.1",
            ])
            .args(["--port", &port.to_string(), "--executor-timeout", "5"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the scheduler");
        let mut cluster = Cluster {
            scheduler,
            executors: Vec::new(),
            port,
            _work: work,
        };
        wait_for(port, "the scheduler");
        for n in 0..executors {
            let (flight, grpc) = (free_port(), free_port());
            let dir = cluster._work.path().join(format!("executor{n}"));
            std::fs::create_dir_all(&dir).expect("work dir");
            let child = Command::new(node)
                .args(["executor", "--scheduler", &format!("127.0.0.1:{port}")])
                .args(["--bind", "127.0.0.1", "--external-host", "127.0.0.1"])
                .args(["--port", &flight.to_string()])
                .args(["--grpc-port", &grpc.to_string()])
                .args(["--concurrent-tasks", "2", "--heartbeat", "1"])
                .arg("--work-dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start an executor");
            cluster.executors.push(child);
            wait_for(flight, "an executor");
        }
        cluster
    }

    fn engine(&self) -> String {
        format!("ballista://127.0.0.1:{}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.executors.iter_mut().chain([&mut self.scheduler]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every file of a night's partition but the manifest (which records
/// timings and the engine), by name.
fn night_files(partition: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(partition)
        .expect("a partition")
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| name != "manifest.json")
        .map(|(name, path)| (name, std::fs::read(path).expect("read")))
        .collect();
    files.sort();
    files
}

fn options(out: &Path, as_of: &str, engine: Option<String>) -> RunOptions {
    RunOptions {
        as_of: Some(as_of.parse().expect("date")),
        out: Some(out.to_path_buf()),
        threads: Some(2),
        engine,
        ..RunOptions::default()
    }
}

/// Run `pipeline` as of `as_of` locally and on `cluster`; both must
/// succeed and write the same bytes.
fn same_on_the_cluster(pipeline: &Path, as_of: &str, cluster: &Cluster, dir: &Path) {
    let (local, remote) = (dir.join("local"), dir.join("remote"));
    let report = commands::run(pipeline, &options(&local, as_of, None), &|_| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let on_cluster = options(&remote, as_of, Some(cluster.engine()));
    let report = commands::run(pipeline, &on_cluster, &|_| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let partition = format!("as_of={as_of}");
    let (here, there) = (
        night_files(&local.join(&partition)),
        night_files(&remote.join(&partition)),
    );
    assert_eq!(
        here.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        there.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in here.iter().zip(&there) {
        assert!(a == b, "{name} differs between local and Ballista");
    }
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(remote.join(&partition).join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["settings"]["engine"], cluster.engine());
}

#[test]
fn nights_on_a_ballista_cluster_are_byte_identical_to_local_ones() {
    let cluster = Cluster::start(2);
    let dir = tempfile::tempdir().expect("temp dir");

    // The example pipeline.
    same_on_the_cluster(
        &repo("pipelines/customer_health.yaml"),
        "2026-11-01",
        &cluster,
        &dir.path().join("example"),
    );

    // A generated book of about a million events.
    let book = dir.path().join("book");
    let sample = vane::sample::SampleOptions {
        out: book.join("examples/data"),
        accounts: 1_700,
        events_per_account: 600,
        seed: 7,
        end: "2026-11-01".parse().expect("date"),
        days: 365,
    };
    let summary = vane::sample::generate(&sample, &|_| {}).expect("generate");
    let events = summary
        .tables
        .iter()
        .find(|(t, _)| t == "events")
        .map_or(0, |(_, n)| *n);
    assert!(events > 900_000, "{events} events");
    let pipeline = book.join("pipelines/customer_health.yaml");
    std::fs::create_dir_all(book.join("pipelines")).expect("mkdir");
    std::fs::copy(repo("pipelines/customer_health.yaml"), &pipeline).expect("copy");
    same_on_the_cluster(
        &pipeline,
        "2026-10-15",
        &cluster,
        &dir.path().join("million"),
    );

    // A backfill: the nights' shared pass runs on the cluster too.
    let nights = Nights {
        from: "2026-10-04".parse().expect("date"),
        to: "2026-10-18".parse().expect("date"),
        every_days: 7,
        force: false,
    };
    let (local, remote) = (dir.path().join("bf-local"), dir.path().join("bf-remote"));
    for (out, engine) in [(&local, None), (&remote, Some(cluster.engine()))] {
        let options = RunOptions {
            out: Some(out.to_path_buf()),
            threads: Some(2),
            engine,
            ..RunOptions::default()
        };
        let report = commands::backfill(&pipeline, &options, &nights, &mut |_, _| {});
        assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    }
    for night in ["2026-10-04", "2026-10-11", "2026-10-18"] {
        let partition = format!("as_of={night}");
        assert!(
            night_files(&local.join(&partition)) == night_files(&remote.join(&partition)),
            "backfilled night {night} differs between local and Ballista"
        );
    }
}

#[test]
fn losing_an_executor_mid_run_never_leaves_a_partial_night() {
    let mut cluster = Cluster::start(2);
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = repo("pipelines/customer_health.yaml");
    let out = dir.path().join("out");
    let engine = Some(cluster.engine());
    let report = commands::run(
        &pipeline,
        &options(&out, "2026-10-25", engine.clone()),
        &|_| {},
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let before = night_files(&out.join("as_of=2026-10-25"));

    let run = {
        let (pipeline, out) = (pipeline.clone(), out.clone());
        std::thread::spawn(move || {
            commands::run(&pipeline, &options(&out, "2026-11-01", engine), &|_| {})
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let lost = cluster.executors.remove(0);
    let mut lost = lost;
    lost.kill().expect("kill an executor");
    let _ = lost.wait();
    let report = run.join().expect("the run returns");
    let tonight = out.join("as_of=2026-11-01");
    match report.exit {
        Exit::Ok => {
            let local = dir.path().join("local");
            let again = commands::run(&pipeline, &options(&local, "2026-11-01", None), &|_| {});
            assert_eq!(again.exit, Exit::Ok, "{:?}", again.diagnostics);
            assert!(
                night_files(&tonight) == night_files(&local.join("as_of=2026-11-01")),
                "a night that completed through retries equals the local one"
            );
        }
        _ => {
            assert!(
                report.diagnostics.iter().all(|d| d.code != Code::Internal),
                "{:?}",
                report.diagnostics
            );
            assert!(!tonight.exists(), "no partial night");
        }
    }
    assert!(night_files(&out.join("as_of=2026-10-25")) == before);
}
