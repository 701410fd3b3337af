//! `vane report`, opened in a real browser: a few nights of the example
//! pipeline (one account renamed `<script>alert(1)</script>`) are
//! backfilled into a temporary folder, the site is rendered, and headless
//! Chromium, with every host name unresolvable, loads the overview, an
//! owner's page and that account's page. The tests read what a person
//! reads: the band counts, one point per night, the account's health and
//! band, the hostile name as text. Chromium is required: without it these
//! tests fail (`scripts/test` installs it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::support::read_parquet;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::array_value_to_string;
use vane::commands::{self, Exit};
use vane::diagnostics::Code;
use vane::report::ReportOptions;
use vane::run::{Nights, RunOptions};

/// The account given a hostile name.
const HOSTILE_KEY: &str = "A00016";
/// Its name.
const HOSTILE_NAME: &str = "<script>alert(1)</script>";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A copy of the example pipeline and its data in `dir`, with the
/// account [`HOSTILE_KEY`] renamed [`HOSTILE_NAME`]. Returns the pipeline.
fn hostile_example(dir: &Path) -> PathBuf {
    copy_dir(&repo("examples/data"), &dir.join("examples/data"));
    let accounts = dir.join("examples/data/accounts.parquet");
    let batches = read_parquet(&accounts);
    let batch = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches)
        .expect("one batch");
    let keys = cast(
        batch.column_by_name("account_id").expect("key"),
        &DataType::Utf8,
    )
    .expect("text keys");
    let keys = keys.as_string::<i32>();
    let names =
        cast(batch.column_by_name("name").expect("name"), &DataType::Utf8).expect("text names");
    let renamed: StringArray = names
        .as_string::<i32>()
        .iter()
        .zip(keys.iter())
        .map(|(name, key)| match key {
            Some(HOSTILE_KEY) => Some(HOSTILE_NAME),
            _ => name,
        })
        .collect();
    assert!(
        keys.iter().any(|k| k == Some(HOSTILE_KEY)),
        "the example has {HOSTILE_KEY}"
    );
    let columns: Vec<(String, ArrayRef)> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| {
            let column = match field.name().as_str() {
                "name" => Arc::new(renamed.clone()) as ArrayRef,
                _ => Arc::clone(column),
            };
            (field.name().clone(), column)
        })
        .collect();
    crate::support::write_parquet(&accounts, columns);
    let pipeline = dir.join("pipelines/customer_health.yaml");
    std::fs::create_dir_all(pipeline.parent().expect("folder")).expect("mkdir");
    std::fs::copy(repo("pipelines/customer_health.yaml"), &pipeline).expect("copy pipeline");
    pipeline
}

/// Backfill weekly nights `from..=to` of `pipeline` into `out`.
fn backfill(pipeline: &Path, out: &Path, from: &str, to: &str, format: Option<&str>) {
    let options = RunOptions {
        out: Some(out.to_path_buf()),
        threads: Some(2),
        format: format.and_then(vane::base::FileFormat::from_name),
        ..RunOptions::default()
    };
    let nights = Nights {
        from: from.parse().expect("date"),
        to: to.parse().expect("date"),
        every_days: 7,
        force: false,
    };
    let report = commands::backfill(pipeline, &options, &nights, &mut |_, _| {});
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
}

fn render(pipeline: &Path, outputs: &Path, site: &Path) {
    let report = commands::report(
        pipeline,
        &ReportOptions {
            outputs: Some(outputs.to_path_buf()),
            site: Some(site.to_path_buf()),
            as_of: None,
            backtest: None,
        },
    );
    assert_eq!(report.exit, Exit::Ok, "{:?}", report.diagnostics);
    assert!(
        report.output.contains("report written to"),
        "{}",
        report.output
    );
}

/// Chromium, or a failure that says how to get it.
fn chromium() -> &'static str {
    let found = Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "chromium is required for the report's browser tests: run them with scripts/test, which installs it (apt-get install -y chromium)"
    );
    "chromium"
}

/// Headless Chromium with no network: every host name fails to resolve,
/// and a profile of its own in `profile`.
fn browser(profile: &Path) -> Command {
    let mut command = Command::new(chromium());
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// The DOM of `page` after Chromium loaded it.
fn dump_dom(profile: &Path, page: &Path) -> String {
    let output = browser(profile)
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed on {}: {}",
        page.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        dom.contains("</html>"),
        "no page loaded from {}: {dom}",
        page.display()
    );
    dom
}

/// The text of a DOM with tags removed and entities of `<`, `>` and `&` decoded.
fn text_of(dom: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first number after `marker` (and then after `then`) in `dom`.
fn number_after(dom: &str, marker: &str, then: &str) -> usize {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the page"));
    let rest = &dom[at..];
    let at = rest
        .find(then)
        .unwrap_or_else(|| panic!("no {then} after {marker}"));
    rest[at + then.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {marker} … {then}"))
}

/// The scorecard of a night: per key, `(name, csm, health, band)`.
fn scorecard(partition: &Path) -> BTreeMap<String, (String, String, Option<f64>, String)> {
    let mut rows = BTreeMap::new();
    for batch in read_parquet(&partition.join("scorecard.parquet")) {
        let text = |name: &str| {
            cast(batch.column_by_name(name).expect("column"), &DataType::Utf8).expect("text")
        };
        let (keys, names, csms, bands) =
            (text("account_id"), text("name"), text("csm"), text("band"));
        let health = cast(
            batch.column_by_name("health").expect("health"),
            &DataType::Float64,
        )
        .expect("numbers");
        let health = health.as_primitive::<Float64Type>();
        for row in 0..batch.num_rows() {
            let get = |a: &ArrayRef| a.as_string::<i32>().value(row).to_string();
            rows.insert(
                get(&keys),
                (
                    get(&names),
                    get(&csms),
                    (!health.is_null(row)).then(|| health.value(row)),
                    get(&bands),
                ),
            );
        }
    }
    rows
}

/// Every file under `dir`, relative, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path.strip_prefix(root).expect("under root");
                out.insert(
                    name.display().to_string(),
                    std::fs::read(&path).expect("read"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Health as the report shows it: rounded down to one decimal.
fn shown(health: f64) -> String {
    format!("{:.1}", (health * 10.0).floor() / 10.0)
}

#[test]
fn the_report_reads_right_in_chromium_offline_and_the_same_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = hostile_example(dir.path());
    let out = dir.path().join("out");
    backfill(&pipeline, &out, "2026-10-11", "2026-11-01", None);
    let site = dir.path().join("site");
    render(&pipeline, &out, &site);
    let profile = dir.path().join("chromium-profile");

    let nights: Vec<BTreeMap<_, _>> = ["2026-10-11", "2026-10-18", "2026-10-25", "2026-11-01"]
        .iter()
        .map(|d| scorecard(&out.join(format!("as_of={d}"))))
        .collect();
    let tonight = nights.last().expect("a night");

    // The overview: band counts equal the scorecard's.
    let overview = dump_dom(&profile, &site.join("index.html"));
    let mut by_band: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, _, band) in tonight.values() {
        *by_band.entry(band.as_str()).or_default() += 1;
    }
    assert_eq!(by_band.len(), 3, "{by_band:?}");
    for (band, count) in &by_band {
        let marker = format!("<tr data-band=\"{band}\">");
        assert_eq!(
            number_after(&overview, &marker, "class=\"num count\">"),
            *count,
            "band {band}"
        );
    }
    let overview_text = text_of(&overview);
    assert!(overview_text.contains("Actions due tonight"));
    assert!(overview_text.contains("No backtest found"));
    assert!(
        overview_text.contains("arr_at_risk_by_csm"),
        "rollups are shown"
    );
    assert_eq!(
        overview.matches("<script").count(),
        1,
        "the search script is the overview's only script"
    );

    // The hostile account's owner: their accounts, the name as text.
    let (name, csm, health, band) = tonight
        .get(HOSTILE_KEY)
        .expect("the hostile account is scored");
    assert_eq!(name, HOSTILE_NAME);
    let owner_page = site.join(format!("owner/{}.html", vane::report::pages::slug(csm)));
    let owner = dump_dom(&profile, &owner_page);
    let theirs = tonight.values().filter(|(_, c, _, _)| c == csm).count();
    assert_eq!(
        owner.matches("<tr><td class=\"num muted\">").count(),
        theirs,
        "{csm}'s page lists each of their accounts"
    );
    assert!(
        text_of(&owner).contains(HOSTILE_NAME),
        "the name is shown as text"
    );
    assert!(
        !owner.contains(HOSTILE_NAME),
        "the name never becomes markup"
    );

    // The account's page: one point per night, its health and band.
    let account = dump_dom(&profile, &site.join(format!("entity/{HOSTILE_KEY}.html")));
    let scored = nights
        .iter()
        .filter(|n| n.contains_key(HOSTILE_KEY))
        .count();
    assert_eq!(account.matches("<circle class=\"point").count(), scored);
    let health = shown(health.expect("health"));
    assert!(
        account.contains(&format!("<div class=\"value health\">{health}</div>")),
        "health {health} is shown"
    );
    let card = "<div class=\"label\">band</div><div class=\"value\"><span class=\"band ";
    let at = account.find(card).expect("a band card") + card.len();
    let chip = &account[at..at + account[at..].find("</span>").expect("chip end")];
    assert!(
        chip.ends_with(&format!("\">{band}")),
        "band {band} is shown: {chip}"
    );
    let account_text = text_of(&account);
    assert!(account_text.contains(&format!("{HOSTILE_NAME} {HOSTILE_KEY}")));
    assert!(
        !account.contains(HOSTILE_NAME),
        "the name never becomes markup"
    );
    assert_eq!(
        account.matches("<script").count(),
        0,
        "no script runs on an account page"
    );
    assert!(account_text.contains("What changed since the previous night"));
    assert!(
        account_text.contains("seat_utilization"),
        "the explain tree is there"
    );

    // The explain tree says how many rows a metric read and the target
    // each KPI was scored against, as the scorecard has them.
    let tonight_card = read_parquet(&out.join("as_of=2026-11-01/scorecard.parquet"));
    let cells = |column: &str| -> Vec<(String, Option<f64>)> {
        let mut out = Vec::new();
        for batch in &tonight_card {
            let keys = batch.column_by_name("account_id").expect("keys");
            let values = cast(
                batch.column_by_name(column).expect(column),
                &DataType::Float64,
            )
            .expect("numbers");
            let values = values.as_primitive::<Float64Type>();
            for row in 0..batch.num_rows() {
                let key = array_value_to_string(keys, row).expect("key");
                out.push((key, (!values.is_null(row)).then(|| values.value(row))));
            }
        }
        out
    };
    let targets = cells("target__difot");
    let rows = cells("rows__nps_90d");
    let with_target = targets
        .iter()
        .find(|(_, t)| t.is_some())
        .expect("some account has a DIFOT target");
    let without_target = targets
        .iter()
        .find(|(_, t)| t.is_none())
        .expect("some account has none");
    for (key, target) in [with_target, without_target] {
        let page = text_of(&dump_dom(
            &profile,
            &site.join(format!("entity/{key}.html")),
        ));
        match target {
            Some(t) => assert!(
                page.contains(&format!(
                    "target for difot: {} (higher is better)",
                    vane::base::display::with_unit(*t, None)
                )),
                "{key}: {page}"
            ),
            None => assert!(page.contains("no target for difot in effect"), "{key}"),
        }
        let (_, counted) = rows.iter().find(|(k, _)| k == key).expect("same rows");
        let counted = counted.expect("rows are never null") as u64;
        let noun = if counted == 1 { "row" } else { "rows" };
        let node = page.find("nps_90d = ").expect("nps_90d in the tree");
        let line: String = page[node..].chars().take(40).collect();
        assert!(
            line.contains(&format!(" from {counted} {noun}")),
            "{key}: nps_90d read {counted} {noun}: {line}"
        );
    }

    // An account whose action a cooldown held back tonight shows it, with why.
    let held = read_parquet(&out.join("as_of=2026-11-01/held_back.parquet"));
    let held_entity = held
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| {
            array_value_to_string(b.column_by_name("entity").expect("entity"), 0).expect("key")
        })
        .expect("the example holds actions back by 2026-11-01");
    let held_page = text_of(&dump_dom(
        &profile,
        &site.join(format!("entity/{held_entity}.html")),
    ));
    assert!(
        held_page.contains("Held back by cooldowns"),
        "{held_entity}"
    );
    assert!(held_page.contains("may fire again from"), "{held_entity}");

    // A screenshot renders (1280 px wide, as in docs/report.md).
    let png = dir.path().join("account.png");
    let status = browser(&profile)
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,1600")
        .arg(format!(
            "file://{}",
            site.join(format!("entity/{HOSTILE_KEY}.html")).display()
        ))
        .output()
        .expect("chromium runs");
    assert!(status.status.success());
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000);

    // No page names anything on the network.
    let written = files(&site);
    assert!(written.len() > tonight.len(), "a page per account and more");
    for (name, bytes) in &written {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{name} holds a URL"
        );
    }

    // The same nights give the same bytes, rendered anew or over the old site.
    let again = dir.path().join("again");
    render(&pipeline, &out, &again);
    assert!(files(&again) == written, "two renders differ");
    render(&pipeline, &out, &site);
    assert!(
        files(&site) == written,
        "a render over the old site differs"
    );
}

#[test]
fn csv_nights_render_the_same_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = repo("pipelines/customer_health.yaml");
    let parquet = dir.path().join("parquet");
    let csv = dir.path().join("csv");
    backfill(&pipeline, &parquet, "2026-10-25", "2026-11-01", None);
    backfill(&pipeline, &csv, "2026-10-25", "2026-11-01", Some("csv"));
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    render(&pipeline, &parquet, &a);
    render(&pipeline, &csv, &b);
    let overview = |site: &Path| {
        let text = std::fs::read_to_string(site.join("index.html")).expect("overview");
        let at = text.find("<section id=\"bands\">").expect("bands");
        let end = text[at..].find("</table>").expect("table end");
        text[at..at + end].to_string()
    };
    assert_eq!(overview(&a), overview(&b));
    let account = |site: &Path| {
        std::fs::read_to_string(site.join("entity/A00016.html")).expect("account page")
    };
    assert_eq!(
        account(&a),
        account(&b),
        "CSV nights read back as Parquet ones"
    );
}

#[test]
fn missing_nights_and_foreign_folders_are_diagnostics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = repo("pipelines/customer_health.yaml");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let report_of = |outputs: &Path, site: &Path, as_of: Option<&str>| {
        commands::report(
            &pipeline,
            &ReportOptions {
                outputs: Some(outputs.to_path_buf()),
                site: Some(site.to_path_buf()),
                as_of: as_of.map(|d| d.parse().expect("date")),
                backtest: None,
            },
        )
    };
    let site = dir.path().join("site");
    let none = report_of(&empty, &site, None);
    assert_eq!(none.exit, Exit::Error);
    assert_eq!(none.diagnostics[0].code, Code::NightMissing);
    assert!(
        none.diagnostics[0].message.contains("no nights"),
        "{}",
        none.diagnostics[0].message
    );
    assert!(!site.exists(), "nothing is written");

    let out = dir.path().join("out");
    backfill(&pipeline, &out, "2026-10-25", "2026-11-01", None);
    let missing = report_of(&out, &site, Some("2026-10-30"));
    assert_eq!(missing.exit, Exit::Error);
    let d = &missing.diagnostics[0];
    assert_eq!(d.code, Code::NightMissing);
    let help = d.help.clone().unwrap_or_default();
    assert!(help.contains("2026-10-25, 2026-11-01"), "{help}");
    assert!(!site.exists(), "nothing is written");

    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("notes.txt"), "mine").expect("write");
    let refused = report_of(&out, &foreign, None);
    assert_eq!(refused.exit, Exit::Error);
    assert_eq!(refused.diagnostics[0].code, Code::OutputFailed);
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).expect("kept"),
        "mine"
    );

    let older = report_of(&out, &site, Some("2026-10-25"));
    assert_eq!(older.exit, Exit::Ok, "{:?}", older.diagnostics);
    let overview = std::fs::read_to_string(site.join("index.html")).expect("overview");
    assert!(
        overview.contains("1 later night is not shown"),
        "the later night is named"
    );
}

#[test]
fn a_backtest_written_into_the_output_folder_is_summarised_on_the_overview() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = repo("pipelines/customer_health.yaml");
    let out = dir.path().join("out");
    backfill(&pipeline, &out, "2026-10-25", "2026-11-01", None);
    let request = vane::BacktestRequest {
        nights: Nights {
            from: "2026-05-03".parse().expect("date"),
            to: "2026-07-26".parse().expect("date"),
            every_days: 14,
            force: false,
        },
        outcome: "churned".to_string(),
        bootstrap: vane::backtest::Bootstrap {
            resamples: 50,
            seed: 7,
        },
        suggest_weights: false,
    };
    let options = RunOptions {
        out: Some(out.clone()),
        threads: Some(2),
        ..RunOptions::default()
    };
    let backtest = commands::backtest(
        &pipeline,
        &options,
        &request,
        commands::BacktestFormat::Json,
        Some(&out.join("backtest.json")),
    );
    assert_eq!(backtest.exit, Exit::Ok, "{:?}", backtest.diagnostics);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("backtest.json")).expect("written"))
            .expect("JSON");
    let site = dir.path().join("site");
    render(&pipeline, &out, &site);
    let overview = std::fs::read_to_string(site.join("index.html")).expect("overview");
    let auc = json["auc"]["value"].as_f64().expect("an AUC");
    assert!(
        overview.contains(&format!("AUC of health: <strong>{auc:.3}")),
        "{auc}"
    );
    assert!(overview.contains("followed by churned"));
    for band in json["bands"].as_array().expect("bands") {
        let n = band["entity_nights"].as_f64().expect("entity-nights");
        let shown = vane::base::display::with_unit(n, None);
        assert!(overview.contains(&format!(">{shown}<")), "{band}");
    }
    // A file that is not a backtest's report is named, not shown.
    std::fs::write(out.join("backtest.json"), "{}").expect("write");
    let report = commands::report(
        &pipeline,
        &ReportOptions {
            outputs: Some(out.clone()),
            site: Some(site.clone()),
            as_of: None,
            backtest: None,
        },
    );
    assert_eq!(report.exit, Exit::Error);
    assert_eq!(report.diagnostics[0].code, Code::DataUnreadable);
    assert!(report.diagnostics[0].message.contains("backtest.json"));
}
