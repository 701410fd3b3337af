//! The `vane` command line: parse flags, call the library, print.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vane::commands::{self, Report};
use vane::diagnostics::{self, Format};

/// Customer-success metrics as code: type-checked KPIs, indicators and
/// playbooks compiled to DataFusion plans.
#[derive(Parser)]
#[command(name = "vane", version, about, propagate_version = true)]
struct Cli {
    /// How to print diagnostics.
    #[arg(long, global = true, value_enum, default_value = "human")]
    output_format: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check pipeline files without running them (exit 0 ok, 1 warnings, 2 errors).
    Validate {
        /// Pipeline files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also read the data files' schemas (not their rows) and check columns and types.
        #[arg(long)]
        data: bool,
    },
    /// Rewrite expressions into canonical form (exit 1 with --check when a file would change).
    Fmt {
        /// Pipeline files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Report files that would change instead of changing them.
        #[arg(long)]
        check: bool,
    },
    /// Print the JSON Schema of the pipeline file format, for editor completion.
    Schema,
}

fn print_report(report: Report, format: Format) -> ExitCode {
    let stderr = std::io::stderr();
    let color = stderr.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if !report.diagnostics.is_empty() {
        let text = diagnostics::render(&report.diagnostics, format, color);
        let _ = stderr.lock().write_all(text.as_bytes());
    }
    let _ = std::io::stdout().lock().write_all(report.output.as_bytes());
    ExitCode::from(report.exit as u8)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let report = match cli.command {
        Command::Validate { files, data } => commands::validate(&files, data),
        Command::Fmt { files, check } => commands::fmt(&files, check),
        Command::Schema => commands::schema(),
    };
    print_report(report, cli.output_format)
}
