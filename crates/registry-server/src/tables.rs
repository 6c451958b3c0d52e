//! The command line for tables that live on: `diff` (offline, like `check`), `inspect`
//! (reads a database's catalog), and `drift` and `table adopt` (through a running server).

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use policy::config::Policy;
use registry_core::change::{Current, check_change};
use registry_store::connect::{Endpoint, TlsSettings};
use schema_model::change::Change;
use schema_model::environment::GenerationInputs;
use schema_model::request::SchemaRequest;
use serde_json::{Value, json};

use crate::cli::{Connection, EXIT_BAD_INPUT, EXIT_VIOLATIONS, Format};
use crate::client::{Client, ClientError};
use crate::report;
use crate::settings::{read_policy, read_text};

/// Options of `diff`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The table as it is (a request envelope or a bare definition; `-` reads standard input).
    pub old: PathBuf,
    /// The table as it should be (`renamedFrom` marks renames; a column that is absent is
    /// dropped). Its `requestedAt` dates the migration's file name.
    pub new: PathBuf,
    /// A policy file (TOML); the `standard` preset when absent.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Options of `inspect`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The database to read (a PostgreSQL URL); only its catalog is read.
    #[arg(long, env = "INSPECT_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// One table, `name` (in `public`) or `schema.name`; every table when absent.
    #[arg(long, value_name = "[SCHEMA.]NAME")]
    pub table: Option<String>,
    /// Only the tables of this schema (without --table).
    #[arg(long, conflicts_with = "table")]
    pub schema: Option<String>,
    /// Root certificates (PEM) for sslmode=verify-ca/verify-full.
    #[arg(long, value_name = "FILE")]
    pub tls_root_cert: Option<PathBuf>,
}

/// Options of `drift`.
#[derive(Debug, Clone, Args)]
pub struct DriftArgs {
    /// The target database, by its configured name (the only one when absent).
    #[arg(long)]
    pub target: Option<String>,
    /// One managed table, `name` or `schema.name`; every managed table of the target when
    /// absent.
    #[arg(long, value_name = "[SCHEMA.]NAME")]
    pub table: Option<String>,
    /// Server and credentials.
    #[command(flatten)]
    pub connection: Connection,
}

/// Table commands on a running server.
#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// Bring a table that exists on a target under the registry as version 1 (operator),
    /// after which change requests work on it. A table with features the registry cannot
    /// describe is refused with what they are.
    Adopt {
        /// The target database, by its configured name (the only one when absent).
        #[arg(long)]
        target: Option<String>,
        /// The table, `name` (in `public`) or `schema.name`.
        #[arg(long, value_name = "[SCHEMA.]NAME")]
        table: String,
    },
}

/// `schema.name` or `name` (in `public`), split.
fn qualified(table: &str) -> (String, String) {
    match table.split_once('.') {
        Some((schema, name)) => (schema.to_owned(), name.to_owned()),
        None => ("public".to_owned(), table.to_owned()),
    }
}

/// Runs `diff`: returns the exit code, or the message for unreadable input (exit 2).
pub fn diff(args: &DiffArgs, out: &mut impl Write) -> Result<u8, String> {
    if args.old == Path::new("-") && args.new == Path::new("-") {
        return Err("only one of OLD and NEW can be read from standard input".to_owned());
    }
    let policy = match &args.policy {
        Some(path) => read_policy(path)?,
        None => Policy::standard(),
    };
    let read = |path: &Path| -> Result<SchemaRequest, String> {
        let text = read_text(path)?;
        SchemaRequest::from_json(&text).map_err(|e| format!("{}: {e}", display_name(path)))
    };
    let old = read(&args.old)?;
    let new = read(&args.new)?;
    let inputs = GenerationInputs::with_naming(&policy.naming);
    let current = Current { table: &old.schema_json, inputs: &inputs, level: old.compatibility };
    let checked = check_change(&new, current, &policy, None);
    let rendered = match args.format {
        Format::Json => {
            let answer = json!({
                "level": checked.level,
                "changes": checked.changes.iter().map(change_json).collect::<Vec<_>>(),
                "violations": checked.answer.violations,
                "success": checked.answer.success,
                "migrationPreview": checked.answer.migration_preview,
            });
            let mut text =
                serde_json::to_string_pretty(&answer).map_err(|e| format!("cannot render the answer: {e}"))?;
            text.push('\n');
            text
        }
        Format::Text => {
            let mut text = format!(
                "{} -> {}: {} {} at compatibility level {}\n",
                display_name(&args.old),
                display_name(&args.new),
                checked.changes.len(),
                if checked.changes.len() == 1 { "change" } else { "changes" },
                level_word(checked.level),
            );
            for change in &checked.changes {
                let _ = writeln!(text, "  - {}", change.describe());
            }
            text.push('\n');
            text.push_str(&report::text(&display_name(&args.new), &new, &checked.answer));
            text
        }
    };
    out.write_all(rendered.as_bytes()).map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(if checked.answer.success { 0 } else { EXIT_VIOLATIONS })
}

fn level_word(level: schema_model::change::Compatibility) -> String {
    serde_json::to_value(level).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A change as JSON: its tagged form with its description.
fn change_json(change: &Change) -> Value {
    let mut value = serde_json::to_value(change).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("description".to_owned(), Value::String(change.describe()));
    }
    value
}

fn display_name(path: &Path) -> String {
    if path == Path::new("-") { "<stdin>".to_owned() } else { path.display().to_string() }
}

/// Runs `inspect`: prints the tables as bare request definitions. Returns the exit code:
/// 0 when each table is described fully, 1 when a table has features the model cannot
/// hold (named on standard error; the definition printed leaves them out).
pub fn inspect(args: &InspectArgs, out: &mut impl Write) -> Result<u8, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no async runtime: {e}"))?;
    let (definitions, unsupported) = runtime.block_on(async {
        let tls = TlsSettings { root_cert: args.tls_root_cert.clone() };
        let client = Endpoint::parse(&args.database_url, &tls, "--database-url")
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| format!("cannot connect to the database: {e}"))?;
        let names = match &args.table {
            Some(table) => vec![qualified(table)],
            None => pg_introspect::read::tables(&client, args.schema.as_deref())
                .await
                .map_err(|e| format!("cannot list the tables: {e}"))?,
        };
        let mut definitions = Vec::new();
        let mut unsupported = Vec::new();
        for (schema, name) in names {
            let live = pg_introspect::read::table(&client, &schema, &name)
                .await
                .map_err(|e| format!("cannot read {schema}.{name}: {e}"))?
                .ok_or_else(|| format!("there is no table {schema}.{name}"))?;
            let mapped = live.to_model();
            for what in mapped.unsupported {
                unsupported.push(format!("{schema}.{name}: {what}"));
            }
            definitions.push(serde_json::to_value(&mapped.table).map_err(|e| e.to_string())?);
        }
        Ok::<_, String>((definitions, unsupported))
    })?;
    let value = if args.table.is_some() {
        definitions.into_iter().next().unwrap_or(Value::Null)
    } else {
        Value::Array(definitions)
    };
    let mut text = serde_json::to_string_pretty(&value).map_err(|e| format!("cannot render the tables: {e}"))?;
    text.push('\n');
    out.write_all(text.as_bytes()).map_err(|e| format!("cannot write the tables: {e}"))?;
    for what in &unsupported {
        eprintln!("warning: not described (the registry has no place for it): {what}");
    }
    Ok(if unsupported.is_empty() { 0 } else { EXIT_VIOLATIONS })
}

/// Runs `drift` through the server: exit 0 when every table checked is in sync, 1 when one
/// has drifted, 2 when the check could not be made.
pub fn drift(args: &DriftArgs) -> ExitCode {
    let client = Client::new(&args.connection.server, args.connection.token.clone());
    match drift_reports(&client, args) {
        Ok(reports) => {
            let in_sync = reports.iter().all(|r| r["inSync"].as_bool() == Some(true));
            match args.connection.format {
                Format::Json => {
                    let value = if args.table.is_some() && reports.len() == 1 {
                        reports.into_iter().next().unwrap_or(Value::Null)
                    } else {
                        json!({"inSync": in_sync, "tables": reports})
                    };
                    println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
                }
                Format::Text => print!("{}", drift_text(&reports)),
            }
            if in_sync { ExitCode::SUCCESS } else { ExitCode::from(EXIT_VIOLATIONS) }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn drift_reports(client: &Client, args: &DriftArgs) -> Result<Vec<Value>, ClientError> {
    let database = args.target.as_deref().map(|t| format!("database={}", encode(t)));
    let tables = if let Some(table) = &args.table {
        vec![qualified(table)]
    } else {
        let path = format!("/api/tables?{}", database.clone().unwrap_or_default());
        let listing = client.call("GET", &path, None)?;
        listing["tables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| !t["currentVersion"].is_null())
            .filter(|t| args.target.as_deref().is_none_or(|target| t["database"].as_str() == Some(target)))
            .map(|t| {
                (t["schema"].as_str().unwrap_or("public").to_owned(), t["name"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    };
    let mut reports = Vec::new();
    for (schema, name) in tables {
        let mut query = format!("schema={}", encode(&schema));
        if let Some(database) = &database {
            query = format!("{database}&{query}");
        }
        reports.push(client.call("GET", &format!("/api/tables/{}/drift?{query}", encode(&name)), None)?);
    }
    Ok(reports)
}

fn drift_text(reports: &[Value]) -> String {
    let mut out = String::new();
    if reports.is_empty() {
        out.push_str("no managed tables on this target\n");
    }
    for report in reports {
        let _ = write!(
            out,
            "{}.{} on {} (version {}): ",
            report["schema"].as_str().unwrap_or_default(),
            report["table"].as_str().unwrap_or_default(),
            report["database"].as_str().unwrap_or_default(),
            report["version"]
        );
        let differences = report["differences"].as_array().map(Vec::as_slice).unwrap_or_default();
        if differences.is_empty() {
            out.push_str("in sync\n");
            continue;
        }
        let _ = writeln!(
            out,
            "drifted, {} {}",
            differences.len(),
            if differences.len() == 1 { "difference" } else { "differences" }
        );
        for difference in differences {
            let side = |key: &str| match difference[key].as_str().unwrap_or_default() {
                "absent" => "nothing".to_owned(),
                text => text.to_owned(),
            };
            let _ = writeln!(
                out,
                "  {}\n    registry: {}\n    live:     {}\n    to undo:  {}",
                difference["object"].as_str().unwrap_or_default(),
                side("expected"),
                side("live"),
                difference["change"].as_str().unwrap_or_default()
            );
        }
    }
    out
}

/// Runs a table command through the server.
pub fn table(client: &Client, connection: &Connection, command: TableCommand) -> Result<(), ClientError> {
    match command {
        TableCommand::Adopt { target, table } => {
            let (schema, name) = qualified(&table);
            let body = json!({"database": target, "schema": schema, "table": name});
            let adopted = client.call("POST", "/api/tables/adopt", Some(&body))?;
            crate::cli::print(connection, &adopted, |t| {
                format!(
                    "adopted {}.{} on {} as version {}\n",
                    t["schema"].as_str().unwrap_or_default(),
                    t["name"].as_str().unwrap_or_default(),
                    t["database"].as_str().unwrap_or_default(),
                    t["currentVersion"]
                )
            });
        }
    }
    Ok(())
}

/// Percent-encodes a query or path value.
fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}
