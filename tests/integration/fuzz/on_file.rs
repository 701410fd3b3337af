//! `validate`, `fmt --check` and `run` on a file, through the library and the binary.

use super::*;

/// `vane validate` and `vane fmt --check` on the input written to `path`:
/// each exit code is 0, 1 or 2 and is the one the library's diagnostics
/// call for, and the diagnostics can be drawn in every output format.
/// With `binary`, the `vane validate` binary must exit as the library
/// command does.
pub(super) fn commands_agree(path: &Path, bytes: &[u8], binary: bool) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write the input: {e}"))?;

    // What the library says, stage by stage, as `check_file` combines it.
    let (expected_validate, expected_fmt) =
        match vane::syntax::yaml::read_source(path, bytes.to_vec()) {
            Err(d) => (Report::exit_for(&[d]), Exit::Error),
            Ok(file) => {
                let (loaded, mut diagnostics) = vane::syntax::load_file(&Arc::new(file));
                let fmt_exit = match &loaded {
                    _ if has_error(&diagnostics) => Exit::Error,
                    Some(l)
                        if vane::syntax::fmt::format_text(&l.pipeline.file.text, &l.sites)
                            != l.pipeline.file.text =>
                    {
                        Exit::Findings
                    }
                    _ => Exit::Ok,
                };
                if let Some(loaded) = &loaded {
                    let (sources, found) = vane::sources::resolve(&loaded.pipeline);
                    diagnostics.extend(found);
                    let earlier_errors = has_error(&diagnostics);
                    let (_, found) = vane::check::check(&loaded.pipeline, &sources);
                    diagnostics.extend(
                        found
                            .into_iter()
                            .filter(|d| !(earlier_errors && d.code == Code::Unused)),
                    );
                }
                (Report::exit_for(&diagnostics), fmt_exit)
            }
        };

    let paths = [path.to_path_buf()];
    let validate = commands::validate(&paths, Data::Unread);
    report_sound("validate", &validate)?;
    if validate.exit != expected_validate {
        return Err(format!(
            "validate exits {:?}, but the library's diagnostics call for {expected_validate:?}\n  {}",
            validate.exit,
            codes_of(&validate)
        ));
    }
    let fmt = commands::fmt(&paths, true);
    report_sound("fmt --check", &fmt)?;
    if fmt.exit != expected_fmt {
        return Err(format!(
            "fmt --check exits {:?}, but loading and formatting call for {expected_fmt:?}\n  {}",
            fmt.exit,
            codes_of(&fmt)
        ));
    }
    let _ = vane::diagnostics::render_human(&validate.diagnostics, false);
    let _ = vane::diagnostics::render_json(&validate.diagnostics);
    let _ = vane::diagnostics::render_github(&validate.diagnostics);
    if binary {
        let format = ["human", "json", "github"][bytes.len() % 3];
        let args = [
            "validate".as_ref(),
            "--output-format".as_ref(),
            format.as_ref(),
            path.as_os_str(),
        ];
        let exit = vane_binary(&args, INPUT_BUDGET, &path.with_extension("stderr"))?;
        if exit != validate.exit as i32 {
            return Err(format!(
                "the vane binary's validate exits otherwise than the library's\n  {exit} and {}",
                validate.exit as i32
            ));
        }
    }
    Ok(())
}

/// `vane run` (the binary, whose crashes cannot take the tests down) on a
/// generated pipeline that checks cleanly against the fixture's schemas,
/// over the fixture's files: it exits 0, 1 or 2, without a bug (`V999`).
pub(super) fn run_binary(
    fixture: &Fixture,
    path: &Path,
    index: usize,
    bytes: &[u8],
) -> Result<i32, String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write the input: {e}"))?;
    let out = fixture.dir.path().join(format!("out-{index}"));
    let exit = vane_run(path, &out, RUN_BUDGET);
    let _ = std::fs::remove_dir_all(&out);
    exit
}

/// `vane run PATH --as-of 2026-11-01 --threads 2 --out OUT` (the binary),
/// killed after `budget`.
pub(super) fn vane_run(path: &Path, out: &Path, budget: Duration) -> Result<i32, String> {
    let args = [
        "run".as_ref(),
        path.as_os_str(),
        "--as-of".as_ref(),
        "2026-11-01".as_ref(),
        "--threads".as_ref(),
        "2".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    vane_binary(&args, budget, &path.with_extension("stderr"))
}

/// Run the `vane` binary, killing it after `budget`: its exit code, which
/// must be 0, 1 or 2, with no bug (`V999`) among its diagnostics. Its
/// standard error goes to `stderr` (a pipe could fill while it runs).
pub(super) fn vane_binary(
    args: &[&std::ffi::OsStr],
    budget: Duration,
    stderr: &Path,
) -> Result<i32, String> {
    use std::process::{Command, Stdio};
    let name = args
        .first()
        .map(|a| a.to_string_lossy())
        .unwrap_or_default();
    let command = args
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let log = std::fs::File::create(stderr).map_err(|e| format!("cannot create a log: {e}"))?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vane"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start vane: {e}"))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < budget => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`vane {name}` still runs after {budget:?}: killed\n  vane {command}"
                ));
            }
            Err(e) => return Err(format!("cannot wait for vane: {e}")),
        }
    };
    let text = std::fs::read_to_string(stderr).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(6)..].join("\n");
    // V999 as each output format writes it (human, GitHub, JSON).
    let bug = text.contains("V999::") || text.contains("\"V999\"");
    match status.code() {
        Some(code @ 0..=2) if !bug => Ok(code),
        Some(code @ 0..=2) => Err(format!(
            "`vane {name}` exits {code} with a bug (V999)\n  vane {command}\n{tail}"
        )),
        _ => Err(format!(
            "`vane {name}` ended with {status}\n  vane {command}\n{tail}"
        )),
    }
}

/// A command's report: exit 0, 1 or 2, 2 exactly when it has an error,
/// and its diagnostics sound.
pub(super) fn report_sound(command: &str, report: &Report) -> Result<(), String> {
    let code = report.exit as i32;
    if !(0..=2).contains(&code) {
        return Err(format!("{command} exits {code}"));
    }
    let has_error = report.diagnostics.iter().any(Diagnostic::is_error);
    if (report.exit == Exit::Error) != has_error {
        return Err(format!(
            "{command} exits {code} with {}",
            if has_error { "errors" } else { "no error" }
        ));
    }
    sound(&report.diagnostics).map_err(|e| format!("{command}: {e}"))
}

/// A report's diagnostics, briefly.
pub(super) fn codes_of(report: &Report) -> String {
    report
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect::<Vec<_>>()
        .join("; ")
}
