//! `vane backfill`: every night byte-identical to `vane run` for that night
//! after the earlier ones (on the examples and on random pipelines),
//! resumable, `--force`, and whole nights after a kill.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use vane::commands::{self, Exit, Stage};
use vane::diagnostics::Code;
use vane::run::{Nights, RunOptions};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

fn options(out: &Path) -> RunOptions {
    RunOptions {
        out: Some(out.to_path_buf()),
        threads: Some(2),
        ..RunOptions::default()
    }
}

fn nights(from: &str, to: &str, every_days: u32, force: bool) -> Nights {
    Nights {
        from: date(from),
        to: date(to),
        every_days,
        force,
    }
}

/// The nights' partitions under `out`, sorted.
fn partitions(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("as_of="))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A night's manifest.
fn manifest(partition: &Path) -> serde_json::Value {
    let bytes = std::fs::read(partition.join("manifest.json")).expect("manifest");
    serde_json::from_slice(&bytes).expect("manifest is JSON")
}

/// A night's output files (scorecard, actions and rollups, in whatever format) by
/// name, and its manifest without the fields a backfill may change
/// (timings and the backfill itself).
fn night_files(partition: &Path) -> (Vec<(String, Vec<u8>)>, serde_json::Value) {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(partition)
        .expect("partition")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.file_name().is_some_and(|n| n != "manifest.json"))
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("output file"))
        })
        .collect();
    files.sort();
    for table in ["scorecard.", "actions."] {
        assert!(
            files.iter().any(|(name, _)| name.starts_with(table)),
            "{}: no {table}*",
            partition.display()
        );
    }
    let mut manifest = manifest(partition);
    if let Some(fields) = manifest.as_object_mut() {
        fields.remove("timings_ms");
        fields.remove("backfill");
    }
    (files, manifest)
}

/// `vane run` for each night, in the order given, into `out`.
fn run_nights(pipeline: &Path, out: &Path, nights: &[NaiveDate]) {
    run_nights_with(pipeline, &options(out), nights);
}

/// `vane run` for each night with `options`, in the order given.
fn run_nights_with(pipeline: &Path, options: &RunOptions, nights: &[NaiveDate]) {
    for night in nights {
        let options = RunOptions {
            as_of: Some(*night),
            ..options.clone()
        };
        let report = commands::run(pipeline, &options, &|_| {});
        assert_eq!(report.exit, Exit::Ok, "{night}: {:?}", report.diagnostics);
    }
}

fn assert_same_nights(a: &Path, b: &Path) {
    let names = partitions(a);
    assert_eq!(names, partitions(b));
    for name in names {
        let (files_a, manifest_a) = night_files(&a.join(&name));
        let (files_b, manifest_b) = night_files(&b.join(&name));
        for ((file, bytes_a), (_, bytes_b)) in files_a.iter().zip(&files_b) {
            assert!(bytes_a == bytes_b, "{name}: {file} differs");
        }
        assert_eq!(
            files_a.iter().map(|(f, _)| f).collect::<Vec<_>>(),
            files_b.iter().map(|(f, _)| f).collect::<Vec<_>>()
        );
        let normalise = |m: serde_json::Value, out: &Path| {
            m.to_string().replace(&out.display().to_string(), "OUT")
        };
        assert_eq!(normalise(manifest_a, a), normalise(manifest_b, b), "{name}");
    }
}

#[test]
fn every_night_is_byte_identical_to_runs_in_date_order() {
    let pipeline = repo("pipelines/customer_health.yaml");
    let runs = tempfile::tempdir().expect("temp dir");
    let filled = tempfile::tempdir().expect("temp dir");
    // 13 nights, two days apart: windows of 7d to 90d overlap several
    // nights, cooldowns (14d) chain and trends read the night before; the
    // step does not divide the range (the 25th is the last night).
    let range = nights("2026-10-01", "2026-10-26", 2, false);
    let dates = range.dates().expect("nights");
    assert_eq!(dates.len(), 13);
    run_nights(&pipeline, runs.path(), &dates);
    let report = commands::backfill(&pipeline, &options(filled.path()), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(
        report.output.starts_with("13 nights: 13 written, 0 kept"),
        "{}",
        report.output
    );
    assert!(report.output.contains("2026-10-25: written — "));
    // The entity table and the tickets (read night by night: a condition
    // reads as-of) are read once, and the targets shared.
    assert!(
        report
            .output
            .contains("held in memory for the nights' own queries: accounts, tickets"),
        "{}",
        report.output
    );
    assert!(report.output.contains(", targets; "), "{}", report.output);
    assert_same_nights(runs.path(), filled.path());
    let manifest = manifest(&filled.path().join("as_of=2026-10-03"));
    assert_eq!(
        manifest["backfill"],
        serde_json::json!({ "from": "2026-10-01", "to": "2026-10-26", "every_days": 2 })
    );
    assert_eq!(manifest["previous_scorecard"], "2026-10-01");

    // Resume: nights present are kept, missing ones computed as before.
    for gone in ["as_of=2026-10-09", "as_of=2026-10-25"] {
        std::fs::remove_dir_all(filled.path().join(gone)).expect("remove");
    }
    let report = commands::backfill(&pipeline, &options(filled.path()), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(
        report.output.starts_with("13 nights: 2 written, 11 kept"),
        "{}",
        report.output
    );
    assert_same_nights(runs.path(), filled.path());

    // --force computes every night again, with the same bytes.
    let forced = nights("2026-10-01", "2026-10-26", 2, true);
    let report = commands::backfill(&pipeline, &options(filled.path()), &forced, &mut |_, _| {});
    assert!(report.output.starts_with("13 nights: 13 written, 0 kept"));
    assert_same_nights(runs.path(), filled.path());
}

#[test]
fn nights_before_the_first_event_and_windows_longer_than_the_step() {
    let pipeline = repo("pipelines/supply_chain.yaml");
    let runs = tempfile::tempdir().expect("temp dir");
    let filled = tempfile::tempdir().expect("temp dir");
    // Weekly nights from long before the example data begins into it.
    let range = nights("2019-12-20", "2020-01-20", 7, false);
    for night in range.dates().expect("nights") {
        let options = RunOptions {
            as_of: Some(night),
            ..options(runs.path())
        };
        assert_eq!(commands::run(&pipeline, &options, &|_| {}).exit, Exit::Ok);
    }
    let report = commands::backfill(&pipeline, &options(filled.path()), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert_same_nights(runs.path(), filled.path());
}

#[test]
fn bad_ranges_are_errors_and_write_nothing() {
    let pipeline = repo("pipelines/customer_health.yaml");
    let out = tempfile::tempdir().expect("temp dir");
    let target = out.path().join("nights");
    for range in [
        nights("2026-10-02", "2026-10-01", 1, false),
        nights("2026-10-01", "2026-10-02", 0, false),
        nights("1990-01-01", "2026-10-01", 1, false),
    ] {
        let report = commands::backfill(&pipeline, &options(&target), &range, &mut |_, _| {});
        assert_eq!(report.exit, Exit::Error);
        assert_eq!(report.diagnostics[0].code, Code::InvalidArgument);
        assert!(!target.exists());
    }
}

#[test]
fn a_killed_backfill_leaves_whole_nights_and_resumes() {
    let pipeline = repo("pipelines/customer_health.yaml");
    let killed = tempfile::tempdir().expect("temp dir");
    let clean = tempfile::tempdir().expect("temp dir");
    let (from, to) = ("2026-09-01", "2026-10-15");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vane"))
        .args(["backfill", &pipeline.display().to_string()])
        .args(["--from", from, "--to", to, "--threads", "2", "--out"])
        .arg(killed.path())
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start vane");
    let started = Instant::now();
    while partitions(killed.path()).len() < 3 && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let before = partitions(killed.path());
    assert!(before.len() >= 3, "{before:?}");
    // Nights go into place in date order, however many were being staged
    // side by side: the kill leaves the first nights, with no gap.
    let first_nights: Vec<String> = nights(from, to, 1, false)
        .dates()
        .expect("nights")
        .iter()
        .take(before.len())
        .map(|d| format!("as_of={d}"))
        .collect();
    assert_eq!(before, first_nights);
    for name in &before {
        let night = night_files(&killed.path().join(name));
        assert!(
            night.0.iter().all(|(_, bytes)| !bytes.is_empty()),
            "{name} is whole"
        );
    }
    let range = nights(from, to, 1, false);
    let report = commands::backfill(&pipeline, &options(killed.path()), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let report = commands::backfill(&pipeline, &options(clean.path()), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert_same_nights(clean.path(), killed.path());
}

/// A night that cannot be written stops the backfill: the nights before
/// it are in place and none after it, though the later nights of its chunk
/// were being staged beside it; no staging folder is left behind; and the
/// next backfill resumes at that night, with the same bytes as one that
/// never failed.
#[test]
fn a_night_that_cannot_be_written_stops_the_backfill_with_only_earlier_nights_in_place() {
    let pipeline = repo("pipelines/customer_health.yaml");
    let failed = tempfile::tempdir().expect("temp dir");
    let clean = tempfile::tempdir().expect("temp dir");
    let range = nights("2026-10-01", "2026-10-26", 2, false);
    // A file where the sixth night's staging folder goes (this process
    // runs the backfill, so the folder is named by its id).
    let blocker = failed
        .path()
        .join(format!(".as_of=2026-10-11.tmp-{}", std::process::id()));
    std::fs::write(&blocker, "in the way").expect("blocker");
    let report = commands::backfill(&pipeline, &options(failed.path()), &range, &mut |_, _| {});
    let code = report.diagnostics.first().map(|d| d.code);
    assert_eq!(
        (report.exit, code),
        (Exit::Error, Some(Code::OutputFailed)),
        "{:?}",
        report.diagnostics
    );
    let written = partitions(failed.path());
    let before: Vec<String> = range
        .dates()
        .expect("nights")
        .iter()
        .take_while(|d| **d < date("2026-10-11"))
        .map(|d| format!("as_of={d}"))
        .collect();
    assert_eq!(written, before);
    let hidden: Vec<String> = std::fs::read_dir(failed.path())
        .expect("out")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && !n.starts_with(".vane"))
        .collect();
    assert_eq!(
        hidden,
        vec![format!(".as_of=2026-10-11.tmp-{}", std::process::id())]
    );
    std::fs::remove_file(&blocker).expect("unblock");
    let report = commands::backfill(&pipeline, &options(failed.path()), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let report = commands::backfill(&pipeline, &options(clean.path()), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert_same_nights(clean.path(), failed.path());
}

/// A random pipeline over random events: windows longer and shorter than
/// the step, `where:` clauses, every kind of aggregate, `change`, a health
/// score with a trend, and a playbook with a cooldown.
/// Effective-dated targets of three KPIs: few distinct values (ties in
/// the order that picks a row), missing values, directions, starts and
/// ends, periods that overlap, and a key that is no entity's.
fn random_targets(rng: &mut rand_chacha::ChaCha8Rng) -> String {
    use rand::Rng;
    let mut targets = String::from(
        "account_id,kpi,target,direction,effective_from,effective_to\na1,k1,1.5,higher,2026-08-20,\n",
    );
    let first = date("2026-08-20");
    for _ in 0..rng.random_range(2..30) {
        let starts = rng.random_range(0..60);
        let from = match rng.random_bool(0.1) {
            true => String::new(),
            false => (first + chrono::Duration::days(starts)).to_string(),
        };
        let to = match rng.random_bool(0.4) {
            true => String::new(),
            false => (first + chrono::Duration::days(starts + rng.random_range(1..30))).to_string(),
        };
        let target = match rng.random_bool(0.1) {
            true => String::new(),
            false => format!("{}", f64::from(rng.random_range(0..4)) * 0.5),
        };
        let direction = ["higher", "lower", " Lower ", ""][rng.random_range(0..4)];
        targets.push_str(&format!(
            "a{},k{},{target},{direction},{from},{to}\n",
            rng.random_range(1..8),
            rng.random_range(1..4),
        ));
    }
    targets
}

fn random_case(rng: &mut rand_chacha::ChaCha8Rng) -> (String, String, Nights) {
    use rand::Rng;
    let mut events = String::from("account_id,event_time,user_id,kind,amount,x\n");
    let start = date("2026-08-15").and_hms_opt(0, 0, 0).expect("midnight");
    for _ in 0..rng.random_range(40..200) {
        let at = start + chrono::Duration::minutes(rng.random_range(0..80 * 24 * 60));
        // Now and then a missing value, and an account that is no entity's.
        let amount = if rng.random_bool(0.1) {
            String::new()
        } else {
            rng.random_range(-50..500).to_string()
        };
        let x = if rng.random_bool(0.1) {
            String::new()
        } else {
            format!("{:.3}", rng.random_range(-10.0..100.0))
        };
        events.push_str(&format!(
            "a{},{},u{},{},{amount},{x}\n",
            rng.random_range(1..7),
            at.format("%Y-%m-%dT%H:%M:%S"),
            rng.random_range(0..8),
            ["a", "b"][rng.random_range(0..2)],
        ));
    }
    let aggregates = [
        "count()",
        "sum(amount)",
        "min(x)",
        "max(amount)",
        "avg(x)",
        "count_distinct(user_id)",
        "count_if(kind = 'b')",
        "sum(x)",
        "min(kind)",
        "count_distinct(kind)",
        "median(x)",
        "count_if(event_time >= as_of - 2d)",
    ];
    let mut metrics = String::new();
    let count = rng.random_range(2..6);
    for i in 0..count {
        // Windows of whole days, of hours (buckets narrower than a day)
        // and over all history.
        // m0 feeds `change`, a score and a playbook: numeric, windowed in days.
        let window = match rng.random_range(0..6) {
            _ if i == 0 => format!(", window: {}d", rng.random_range(1..40)),
            0 => String::new(),
            1 => format!(", window: {}h", rng.random_range(1..100)),
            _ => format!(", window: {}d", rng.random_range(1..40)),
        };
        let filter = if rng.random_bool(0.4) {
            ", where: \"kind = 'a'\""
        } else {
            ""
        };
        let kinds = if i == 0 { 7 } else { aggregates.len() };
        let value = aggregates[rng.random_range(0..kinds)];
        metrics.push_str(&format!(
            "  m{i}: {{ from: events{window}{filter}, value: \"{value}\", unused: true }}\n"
        ));
    }
    metrics.push_str("  moved: { value: change(m0), unused: true }\n");
    metrics.push_str("  target_k1: { value: \"target('k1')\", unused: true }\n");
    metrics.push_str("  attained_k2: { value: \"attainment(m0, 'k2')\", unused: true }\n");
    let cooldown = rng.random_range(0..10);
    let threshold = rng.random_range(0..5);
    let pipeline = format!(
        "vane: 1
sources:
  accounts: {{ path: accounts.csv }}
  events: {{ path: events.csv, time: event_time }}
  kpi_targets: {{ path: kpi_targets.csv }}
entity: {{ name: account, source: accounts, key: account_id, attributes: [seats] }}
targets: {{ source: kpi_targets, effective_from: effective_from, effective_to: effective_to }}
metrics:
{metrics}indicators:
  busy: {{ kind: leading, metric: m0, score: 'ramp(value, 0, 10)', group: usage }}
health:
  groups: {{ usage: 1 }}
  bands: {{ red: {{ from: 0, to: 50 }}, green: {{ from: 50, to: 100 }} }}
playbooks:
  nudge:
    when: m0 > {threshold}
    action: call
    message: 'm0 is {{m0}}'
    cooldown: {cooldown}d
"
    );
    let from = date("2026-09-01") + chrono::Duration::days(rng.random_range(0..30));
    let every = rng.random_range(1..6);
    let to = from + chrono::Duration::days(i64::from(every) * rng.random_range(2..6) + 1);
    let nights = Nights {
        from,
        to,
        every_days: every,
        force: false,
    };
    (events, pipeline, nights)
}

#[test]
fn random_pipelines_backfill_exactly_as_nightly_runs() {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x12);
    let (mut shared_sides, mut per_night_sides, mut joined_buckets) = (0, 0, 0);
    for case in 0..12 {
        let (events, pipeline, range) = random_case(&mut rng);
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("accounts.csv"),
            "account_id,seats\na1,5\na2,10\na3,0\na4,3\na5,8\n",
        )
        .expect("accounts");
        std::fs::write(dir.path().join("events.csv"), &events).expect("events");
        std::fs::write(dir.path().join("kpi_targets.csv"), random_targets(&mut rng))
            .expect("targets");
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, &pipeline).expect("pipeline");
        let (runs, filled) = (dir.path().join("runs"), dir.path().join("filled"));
        for night in range.dates().expect("nights") {
            let options = RunOptions {
                as_of: Some(night),
                ..options(&runs)
            };
            let report = commands::run(&path, &options, &|_| {});
            assert_eq!(
                report.exit,
                Exit::Ok,
                "case {case}: {:?}\n{pipeline}",
                report.diagnostics
            );
        }
        let report = commands::backfill(&path, &options(&filled), &range, &mut |_, _| {});
        assert_eq!(
            report.exit,
            Exit::Ok,
            "case {case}: {:?}\n{pipeline}",
            report.diagnostics
        );
        let nights = range.dates().expect("nights").len();
        assert_eq!(partitions(&filled).len(), nights, "case {case}");
        assert_same_nights(&runs, &filled);
        let plan = commands::plan_nights(&path, &options(&filled), &range, Stage::Logical);
        assert_eq!(plan.exit, Exit::Ok, "{:?}", plan.diagnostics);
        shared_sides += plan.output.matches("== shared side").count();
        per_night_sides += plan.output.matches("night by night, because").count();
        joined_buckets += plan.output.matches("between its windows' edges").count();
    }
    // Both paths ran: sides shared by every night, and sides (a condition
    // reading as_of, a median) computed night by night; and buckets both
    // as the grid has them and joined between window edges.
    assert!(shared_sides >= 8, "{shared_sides} sides shared");
    assert!(per_night_sides >= 1, "{per_night_sides} sides per night");
    assert!(
        (1..shared_sides).contains(&joined_buckets),
        "{joined_buckets} of {shared_sides} sides with joined buckets"
    );
}

/// More nights than one mask word holds (62) and than one chunk of window
/// edges (16), distinct counts and counts, minima and maxima under
/// conditions and windows of several lengths; then nights removed from the
/// middle and the backfill run again, so the nights it computes are not
/// contiguous (the kept ones in between are skipped, not recomputed).
#[test]
fn seventy_daily_nights_with_distinct_counts_and_gaps_resume_exactly() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x70);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("accounts.csv"),
        "account_id\na1\na2\na3\na4\n",
    )
    .expect("accounts");
    let mut events = String::from("account_id,event_time,user_id,kind\n");
    let start = date("2026-06-01").and_hms_opt(0, 0, 0).expect("midnight");
    for _ in 0..600 {
        let at = start + chrono::Duration::minutes(rng.random_range(0..110 * 24 * 60));
        events.push_str(&format!(
            "a{},{},u{},{}\n",
            rng.random_range(1..6),
            at.format("%Y-%m-%dT%H:%M:%S"),
            rng.random_range(0..12),
            ["a", "b", "c"][rng.random_range(0..3)],
        ));
    }
    std::fs::write(dir.path().join("events.csv"), events).expect("events");
    let pipeline = dir.path().join("p.yaml");
    std::fs::write(
        &pipeline,
        "vane: 1
sources:
  accounts: { path: accounts.csv }
  events: { path: events.csv, time: event_time }
entity: { name: account, source: accounts, key: account_id }
metrics:
  users_3d: { from: events, window: 3d, value: count_distinct(user_id), unused: true }
  users_20d: { from: events, window: 20d, where: \"kind != 'c'\", value: count_distinct(user_id), unused: true }
  kinds_ever: { from: events, value: count_distinct(kind), unused: true }
  b_users_7d: { from: events, window: 7d, value: \"count_distinct(case when kind = 'b' then user_id end)\", unused: true }
  moved: { value: change(users_20d), unused: true }
  events_5d: { from: events, window: 5d, value: count(), unused: true }
  a_events_30d: { from: events, window: 30d, where: \"kind = 'a'\", value: count(), unused: true }
  first_b: { from: events, value: \"min_if(event_time, kind = 'b')\", unused: true }
  last_c_10d: { from: events, window: 10d, value: \"max_if(event_time, kind = 'c')\", unused: true }
",
    )
    .expect("pipeline");
    let (runs, filled) = (dir.path().join("runs"), dir.path().join("filled"));
    let range = nights("2026-06-20", "2026-08-28", 1, false);
    assert_eq!(range.dates().expect("nights").len(), 70);
    run_nights(&pipeline, &runs, &range.dates().expect("nights"));
    let report = commands::backfill(&pipeline, &options(&filled), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert_same_nights(&runs, &filled);
    for gone in ["2026-06-25", "2026-07-30", "2026-07-31", "2026-08-27"] {
        std::fs::remove_dir_all(filled.join(format!("as_of={gone}"))).expect("remove a night");
    }
    let report = commands::backfill(&pipeline, &options(&filled), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(
        report.output.contains("4 written, 66 kept"),
        "{}",
        report.output
    );
    assert_same_nights(&runs, &filled);
}

/// The example pipeline in `dir` twice: `before.yaml` as it is, and
/// `after.yaml` with another adoption weight.
fn two_definitions(dir: &Path) -> (PathBuf, PathBuf) {
    let data = repo("examples/data");
    let text = std::fs::read_to_string(repo("pipelines/customer_health.yaml"))
        .expect("pipeline")
        .replace("../examples/data", &data.display().to_string());
    let (before, after) = (dir.join("before.yaml"), dir.join("after.yaml"));
    std::fs::write(&before, &text).expect("before");
    let changed = text.replace("adoption: 35", "adoption: 45");
    assert_ne!(changed, text, "the weight to change is in the example");
    std::fs::write(&after, changed).expect("after");
    (before, after)
}

/// A backfill that continues nights written by other definitions: its
/// first night's trend compares with health scored differently (and says
/// so), the nights after it with its own. All must equal runs made in the
/// same order.
#[test]
fn a_backfill_after_nights_of_other_definitions_equals_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (before, after) = two_definitions(dir.path());
    let (runs, filled) = (dir.path().join("runs"), dir.path().join("filled"));
    let first = nights("2026-10-01", "2026-10-10", 3, false);
    let all = nights("2026-10-01", "2026-10-25", 3, false);
    let (earlier, later): (Vec<NaiveDate>, Vec<NaiveDate>) = all
        .dates()
        .expect("nights")
        .into_iter()
        .partition(|night| first.dates().expect("nights").contains(night));
    run_nights(&before, &runs, &earlier);
    run_nights(&after, &runs, &later);
    let report = commands::backfill(&before, &options(&filled), &first, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let report = commands::backfill(&after, &options(&filled), &all, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(
        report.output.contains("5 written, 4 kept"),
        "{}",
        report.output
    );
    assert_same_nights(&runs, &filled);
}

#[test]
fn a_forced_backfill_over_nights_of_other_definitions_reads_none_of_them() {
    // Every night on disk was scored by the old weights. A forced backfill
    // with the new ones replaces them in date order while the night before
    // may still be being written: each night must take its previous health
    // and firings from the night the backfill computed, never the stale
    // files it is replacing.
    let dir = tempfile::tempdir().expect("temp dir");
    let (before, after) = two_definitions(dir.path());
    let (runs, filled) = (dir.path().join("runs"), dir.path().join("filled"));
    let range = nights("2026-09-20", "2026-10-25", 5, false);
    run_nights(&after, &runs, &range.dates().expect("nights"));
    let report = commands::backfill(&before, &options(&filled), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    let forced = Nights {
        force: true,
        ..range
    };
    let report = commands::backfill(&after, &options(&filled), &forced, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert_same_nights(&runs, &filled);
}

#[test]
fn a_csv_backfill_reads_each_night_back_as_runs_do() {
    // CSV cells are read back as text (and formula-like ones neutralised):
    // later nights must see what the files say, as separate runs do.
    let pipeline = repo("pipelines/customer_health.yaml");
    let (runs, filled) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    let csv = |out: &Path| RunOptions {
        format: Some(vane::base::FileFormat::Csv),
        ..options(out)
    };
    let range = nights("2026-10-01", "2026-10-25", 4, false);
    run_nights_with(
        &pipeline,
        &csv(runs.path()),
        &range.dates().expect("nights"),
    );
    let report = commands::backfill(&pipeline, &csv(filled.path()), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(
        filled
            .path()
            .join("as_of=2026-10-25/scorecard.csv")
            .is_file(),
        "CSV written"
    );
    assert_same_nights(runs.path(), filled.path());
}

#[test]
fn a_night_from_another_run_between_backfill_nights_is_the_previous_one() {
    // A daily run left 2026-10-04 between the backfill's nights 10-03 and
    // 10-05: the night of 10-05 must read its previous health from 10-04,
    // not from the night the backfill computed just before.
    let pipeline = repo("pipelines/customer_health.yaml");
    let runs = tempfile::tempdir().expect("temp dir");
    let filled = tempfile::tempdir().expect("temp dir");
    let dates = [
        "2026-10-01",
        "2026-10-03",
        "2026-10-04",
        "2026-10-05",
        "2026-10-07",
    ];
    run_nights(&pipeline, runs.path(), &dates.map(date));
    let extra = "as_of=2026-10-04";
    std::fs::create_dir(filled.path().join(extra)).expect("folder");
    for file in [
        "scorecard.parquet",
        "actions.parquet",
        "rollups.parquet",
        "held_back.parquet",
        "manifest.json",
    ] {
        std::fs::copy(
            runs.path().join(extra).join(file),
            filled.path().join(extra).join(file),
        )
        .expect("copy");
    }
    let range = nights("2026-10-01", "2026-10-07", 2, false);
    let report = commands::backfill(&pipeline, &options(filled.path()), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(
        report.output.starts_with("4 nights: 4 written, 0 kept"),
        "{}",
        report.output
    );
    let manifest = manifest(&filled.path().join("as_of=2026-10-05"));
    assert_eq!(manifest["previous_scorecard"], "2026-10-04");
    assert_same_nights(runs.path(), filled.path());
}

/// A small entity table is held in memory for the nights' populations,
/// but only when all of it reads: one whose unused column stops parsing
/// after the rows its types were inferred from (which `run`, reading only
/// the columns it needs, never sees) stays on its file, and the nights
/// equal the runs.
#[test]
fn a_small_source_that_does_not_read_whole_is_not_held_and_nights_equal_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut accounts = String::from("account_id,seats,notes\n");
    for i in 1..=3000 {
        let notes = if i < 2500 {
            i.to_string()
        } else {
            "text".to_string()
        };
        accounts.push_str(&format!("a{i},{},{notes}\n", i % 10));
    }
    let mut events = String::from("account_id,event_time,amount\n");
    for i in 1..=3000 {
        events.push_str(&format!(
            "a{},2026-09-{:02}T10:00:00,{}\n",
            i % 50 + 1,
            i % 28 + 1,
            i % 7
        ));
    }
    std::fs::write(dir.path().join("accounts.csv"), accounts).expect("accounts");
    std::fs::write(dir.path().join("events.csv"), events).expect("events");
    let pipeline = dir.path().join("p.yaml");
    std::fs::write(
        &pipeline,
        "vane: 1
sources:
  accounts: { path: accounts.csv }
  events: { path: events.csv, time: event_time }
entity: { name: account, source: accounts, key: account_id, attributes: [seats] }
metrics:
  m0: { from: events, window: 10d, value: \"sum(amount)\", unused: true }
indicators:
  busy: { kind: leading, metric: m0, score: 'ramp(value, 0, 10)', group: usage }
health:
  groups: { usage: 1 }
  bands: { red: { from: 0, to: 50 }, green: { from: 50, to: 100 } }
",
    )
    .expect("pipeline");
    let range = nights("2026-09-20", "2026-10-01", 3, false);
    let (runs, filled) = (dir.path().join("runs"), dir.path().join("filled"));
    run_nights(&pipeline, &runs, &range.dates().expect("nights"));
    let report = commands::backfill(&pipeline, &options(&filled), &range, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(
        !report.output.contains("held in memory"),
        "{}",
        report.output
    );
    assert_same_nights(&runs, &filled);
}
