//! Command-line parsing and dispatch.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use policy::config::Policy;
use schema_model::request::SchemaRequest;

use crate::report;

/// The Schema Registry: the one safe door for PostgreSQL schema change.
#[derive(Debug, Parser)]
#[command(name = "registry-server", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a table request (JSON envelope or bare table definition) against the policy
    /// and print the violations and the generated migration.
    ///
    /// Exit status: 0 when no violation is an error, 1 when one is, 2 when the input or
    /// the policy file cannot be read or parsed.
    Check {
        /// The request file; `-` reads standard input.
        file: PathBuf,
        /// A policy file (TOML); the `standard` preset when absent.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable report for a person.
    Text,
    /// The seed 001 answer shape `{success, violations, migrationPreview}`.
    Json,
}

/// Exit code when there is an error violation.
pub const EXIT_VIOLATIONS: u8 = 1;
/// Exit code when input cannot be read or parsed.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { file, policy, format } => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match check(&file, policy.as_deref(), format, &mut out) {
                Ok(code) => ExitCode::from(code),
                Err(message) => {
                    let _ = out.flush();
                    eprintln!("error: {message}");
                    ExitCode::from(EXIT_BAD_INPUT)
                }
            }
        }
    }
}

/// Runs `check`: returns the exit code, or the message for unreadable input (exit 2).
pub fn check(file: &Path, policy_file: Option<&Path>, format: Format, out: &mut impl Write) -> Result<u8, String> {
    let policy = match policy_file {
        Some(path) => {
            let text = read_text(path)?;
            Policy::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Policy::standard(),
    };
    let text = read_text(file)?;
    let request = SchemaRequest::from_json(&text).map_err(|e| format!("{}: {e}", display_name(file)))?;
    let answer = registry_store::check::answer(&request, &policy);
    let rendered = match format {
        Format::Json => {
            let mut json =
                serde_json::to_string_pretty(&answer).map_err(|e| format!("cannot render the answer: {e}"))?;
            json.push('\n');
            json
        }
        Format::Text => report::text(&display_name(file), &request, &answer),
    };
    out.write_all(rendered.as_bytes()).map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(if answer.success { 0 } else { EXIT_VIOLATIONS })
}

fn display_name(path: &Path) -> String {
    if path == Path::new("-") { "<stdin>".to_owned() } else { path.display().to_string() }
}

/// Reads a file, or standard input for `-`, as UTF-8.
fn read_text(path: &Path) -> Result<String, String> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read standard input: {e}"))?;
    } else {
        text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    }
    Ok(text)
}
