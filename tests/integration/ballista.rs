//! The distributed engine against a real Apache Ballista cluster: a
//! scheduler and two executors started as separate processes
//! (`vane-cluster`, built with the `ballista` feature) on free localhost
//! ports, stopped when the test ends, also when it fails. Nights computed
//! on the cluster must be byte for byte the local ones.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
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
    work: tempfile::TempDir,
}

impl Cluster {
    fn start(executors: usize) -> Cluster {
        Cluster::start_as(executors, None)
    }

    /// A cluster whose executors run as `user` (through `runuser`, so the
    /// test must run as root) when given.
    fn start_as(executors: usize, user: Option<&str>) -> Cluster {
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
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log_file(work.path(), "scheduler"))
            .spawn()
            .expect("start the scheduler");
        let mut cluster = Cluster {
            scheduler,
            executors: Vec::new(),
            port,
            work,
        };
        wait_for(port, "the scheduler");
        for n in 0..executors {
            let (flight, grpc) = (free_port(), free_port());
            let dir = cluster.work.path().join(format!("executor{n}"));
            std::fs::create_dir_all(&dir).expect("work dir");
            let mut command = match user {
                Some(user) => {
                    for open in [cluster.work.path(), &dir] {
                        std::fs::set_permissions(open, std::fs::Permissions::from_mode(0o777))
                            .expect("open the work dir to the executor's user");
                    }
                    let mut command = Command::new("runuser");
                    command.args(["-u", user, "--"]).arg(node);
                    command
                }
                None => Command::new(node),
            };
            let child = command
                .args(["executor", "--scheduler", &format!("127.0.0.1:{port}")])
                .args(["--bind", "127.0.0.1", "--external-host", "127.0.0.1"])
                .args(["--port", &flight.to_string()])
                .args(["--grpc-port", &grpc.to_string()])
                .args(["--concurrent-tasks", "4", "--heartbeat", "1"])
                .arg("--work-dir")
                .arg(&dir)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log_file(cluster.work.path(), &format!("executor{n}")))
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
        if std::thread::panicking() {
            print_logs(self.work.path());
        }
    }
}

/// A node's log file in `work` (its standard error).
fn log_file(work: &Path, node: &str) -> Stdio {
    std::fs::File::create(work.join(format!("{node}.log")))
        .map(Stdio::from)
        .expect("a log file")
}

/// The end of every node's log, for a failed test.
fn print_logs(work: &Path) {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(work)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("--- the last lines of {}", log.display());
        for line in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("{line}");
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

/// The longest one run on the cluster may take before the test calls it a
/// hang (the tests' runs take seconds).
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// `work`'s result, or a failed test when it takes longer than
/// [`RUN_LIMIT`] — a hung cluster run must fail the test, not stall CI.
fn within_limit<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    match result.recv_timeout(RUN_LIMIT) {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {RUN_LIMIT:?}"),
    }
}

/// `commands::run` of `pipeline` with `options`, within [`RUN_LIMIT`].
fn run(pipeline: &Path, options: RunOptions) -> commands::Report {
    let pipeline = pipeline.to_path_buf();
    within_limit("a run", move || commands::run(&pipeline, &options, &|_| {}))
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

/// That `report`'s facts ran on `cluster`: its summary counts the jobs.
fn assert_ran_on(report: &commands::Report, cluster: &Cluster) {
    let line = report
        .output
        .lines()
        .find(|l| l.contains(&format!("facts on {}: ", cluster.engine())))
        .unwrap_or_else(|| panic!("no line on the cluster's work in {}", report.output));
    assert!(!line.contains(": 0 jobs"), "{line}");
}

/// Run `pipeline` as of `as_of` locally and on `cluster`; both must
/// succeed and write the same bytes.
fn same_on_the_cluster(pipeline: &Path, as_of: &str, cluster: &Cluster, dir: &Path) {
    let (local, remote) = (dir.join("local"), dir.join("remote"));
    let report = run(pipeline, options(&local, as_of, None));
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let report = run(pipeline, options(&remote, as_of, Some(cluster.engine())));
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert_ran_on(&report, cluster);
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

/// A `sample-data` book of about a million events under `dir`, with the
/// example pipeline beside it; returns the pipeline's path.
fn sample_book(dir: &Path) -> PathBuf {
    let sample = vane::sample::SampleOptions {
        out: dir.join("examples/data"),
        accounts: 1_700,
        events_per_account: 800,
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
    let pipeline = dir.join("pipelines/customer_health.yaml");
    std::fs::create_dir_all(dir.join("pipelines")).expect("mkdir");
    std::fs::copy(repo("pipelines/customer_health.yaml"), &pipeline).expect("copy");
    pipeline
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
    let pipeline = sample_book(&dir.path().join("book"));
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
        let on_cluster = engine.is_some();
        let options = RunOptions {
            out: Some(out.to_path_buf()),
            threads: Some(2),
            engine,
            ..RunOptions::default()
        };
        let (pipeline, nights) = (pipeline.clone(), nights.clone());
        let report = within_limit("a backfill", move || {
            commands::backfill(&pipeline, &options, &nights, &mut |_, _| {})
        });
        assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
        if on_cluster {
            assert_ran_on(&report, &cluster);
        }
    }
    for night in ["2026-10-04", "2026-10-11", "2026-10-18"] {
        let partition = format!("as_of={night}");
        assert!(
            night_files(&local.join(&partition)) == night_files(&remote.join(&partition)),
            "backfilled night {night} differs between local and Ballista"
        );
    }
}

/// Whether `text` calls `function` (a name not inside a longer name).
fn calls(text: &str, function: &str) -> bool {
    let call = format!("{function}(");
    text.match_indices(&call).any(|(at, _)| {
        !text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

#[test]
fn every_function_of_the_language_runs_on_the_cluster_as_it_does_locally() {
    let pipeline = repo("tests/corpus/good/every_function.yaml");
    let text = std::fs::read_to_string(&pipeline).expect("the pipeline");
    let missing: Vec<&str> = vane::check::functions::FUNCTIONS
        .iter()
        .map(|f| f.name)
        .filter(|name| !calls(&text, name))
        .collect();
    assert!(
        missing.is_empty(),
        "every_function.yaml does not call {missing:?}"
    );
    let cluster = Cluster::start(2);
    let dir = tempfile::tempdir().expect("temp dir");
    same_on_the_cluster(&pipeline, "2026-11-01", &cluster, dir.path());
}

/// Whether this test process runs as root (`id -u` is 0).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn executors_that_cannot_read_a_source_are_a_diagnostic_naming_it() {
    // Executors that see other files than this machine: here they run as
    // `nobody`, and the book is readable by root only.
    if !running_as_root() {
        assert!(
            std::env::var_os("CI").is_none()
                && std::env::var_os("VANE_REQUIRE_ALL_TESTS").is_none(),
            "this test starts executors as `nobody` with runuser: run it as root"
        );
        eprintln!("skipping: starting executors as another user needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let book = dir.path().join("book");
    std::fs::create_dir_all(book.join("pipelines")).expect("mkdir");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(repo("examples"))
        .arg(book.join("examples"))
        .status()
        .expect("cp");
    assert!(copied.success());
    let pipeline = book.join("pipelines/customer_health.yaml");
    std::fs::copy(repo("pipelines/customer_health.yaml"), &pipeline).expect("copy");
    std::fs::set_permissions(&book, std::fs::Permissions::from_mode(0o700)).expect("chmod");

    let cluster = Cluster::start_as(1, Some("nobody"));
    let out = dir.path().join("out");
    let report = run(
        &pipeline,
        options(&out, "2026-11-01", Some(cluster.engine())),
    );
    assert_eq!(report.exit, Exit::Error, "{}", report.output);
    let unreadable: Vec<&str> = report
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::DataUnreadable)
        .map(|d| d.message.as_str())
        .collect();
    assert!(
        unreadable.iter().any(|m| m.contains("cannot read source `")
            && m.contains(&cluster.engine())
            && m.to_lowercase().contains("permission denied")),
        "{:?}",
        report.diagnostics
    );
    assert!(!out.join("as_of=2026-11-01").exists(), "nothing written");
}

#[test]
fn losing_an_executor_mid_run_never_leaves_a_partial_night() {
    let mut cluster = Cluster::start(2);
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = sample_book(&dir.path().join("book"));
    let (out, local) = (dir.path().join("out"), dir.path().join("local"));
    let engine = Some(cluster.engine());
    for (folder, engine) in [(&out, engine.clone()), (&local, None)] {
        let report = run(&pipeline, options(folder, "2026-10-25", engine));
        assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    }
    let before = night_files(&out.join("as_of=2026-10-25"));

    // Tonight's run tells the test when it starts computing; the test
    // kills one executor while the cluster works on its parts.
    let (computing, started) = mpsc::channel();
    let tonight_run = {
        let (pipeline, out) = (pipeline.clone(), out.clone());
        let computing = std::sync::Mutex::new(computing);
        std::thread::spawn(move || {
            let progress = move |step: &str| {
                if step.starts_with("computing") {
                    let _ = computing.lock().map(|c| c.send(()));
                }
            };
            // A Ballista 55 scheduler may wait forever for slots after
            // losing an executor; the run then gives up with a diagnostic.
            let tonight = RunOptions {
                engine_timeout: Some(Duration::from_secs(60)),
                ..options(&out, "2026-11-01", engine)
            };
            commands::run(&pipeline, &tonight, &progress)
        })
    };
    started
        .recv_timeout(RUN_LIMIT)
        .expect("the run starts computing");
    std::thread::sleep(Duration::from_millis(300));
    let mut lost = cluster.executors.remove(0);
    lost.kill().expect("kill an executor");
    let _ = lost.wait();
    let report = within_limit("the run that lost an executor", move || {
        tonight_run.join().expect("the run returns")
    });

    let tonight = out.join("as_of=2026-11-01");
    eprintln!(
        "the run that lost an executor: {:?} {:?}",
        report.exit, report.diagnostics
    );
    match report.exit {
        Exit::Ok => {
            let again = run(&pipeline, options(&local, "2026-11-01", None));
            assert_eq!(again.exit, Exit::Ok, "{:?}", again.diagnostics);
            let (cluster_files, local_files) = (
                night_files(&tonight),
                night_files(&local.join("as_of=2026-11-01")),
            );
            let differing: Vec<&String> = cluster_files
                .iter()
                .zip(&local_files)
                .filter(|(a, b)| a != b)
                .map(|((name, _), _)| name)
                .collect();
            assert!(
                cluster_files == local_files,
                "a night that completed through retries equals the local one; differing: {differing:?}"
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
