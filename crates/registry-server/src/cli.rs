//! Command-line parsing and dispatch.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use policy::config::Policy;
use schema_model::request::SchemaRequest;
use serde_json::{Value, json};

use crate::client::{Client, ClientError};
use crate::report;
use crate::settings::{ServeArgs, read_policy, read_text};

/// The Schema Registry: the one safe door for PostgreSQL schema change.
///
/// Without a command it serves the HTTP API (the same as `serve`).
#[derive(Debug, Parser)]
#[command(name = "registry-server", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; `serve` when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server options when no command is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve(ServeArgs),
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
        /// Also rehearse the migration on PostgreSQL (up, then down, in a transaction that
        /// is rolled back): on a throw-away local cluster, or on the scratch database given
        /// with --rehearsal-database-url.
        #[arg(long)]
        rehearse: bool,
        /// The scratch database for --rehearse.
        #[arg(long, value_name = "URL", requires = "rehearse")]
        rehearsal_database_url: Option<String>,
    },
    /// Compare two versions of a table (request files) and print the changes, the change
    /// rules' violations and the lock-safe ALTER migration up and back, offline.
    ///
    /// Exit status: 0 when no violation is an error, 1 when one is, 2 when an input or the
    /// policy file cannot be read or parsed.
    Diff(crate::tables::DiffArgs),
    /// Print live tables of a database as bare request definitions (the JSON of
    /// `schemaJson`), read from its catalog.
    ///
    /// Exit status: 0 when every table is described fully, 1 when one has features the
    /// registry has no place for (named on standard error), 2 on errors.
    Inspect(crate::tables::InspectArgs),
    /// Replay SQL files and migration folders into table definitions: CREATE TABLE / INDEX /
    /// TYPE … AS ENUM, ALTER TABLE, COMMENT ON, DROP. What the registry's model cannot hold
    /// is listed under `skipped` with the file, line and reason.
    ///
    /// Exit status: 0 when read, 1 when `--format sql` could not write a table (named on
    /// standard error), 2 when an input cannot be read or `--table` names no table.
    Import(crate::sql_files::ImportArgs),
    /// Lint SQL files and migration folders: statement rules (lock safety, data loss,
    /// breaking changes, robustness) knowing what earlier files built, and the table rules on
    /// every table the files create or change. `-- registry:ignore <rule> <reason>` on the
    /// line before a statement, or `-- registry:ignore-file <rule> <reason>`, suppresses.
    ///
    /// Exit status: 0 when no finding is an error, 1 when one is, 2 when an input or the
    /// policy file cannot be read.
    Lint(crate::sql_files::LintArgs),
    /// Compare managed tables with the live tables on a target, through a running server.
    ///
    /// Exit status: 0 when every table is in sync, 1 when one has drifted, 2 on errors.
    Drift(crate::tables::DriftArgs),
    /// Work with the tables of a target on a running server.
    Table {
        /// Server and credentials.
        #[command(flatten)]
        connection: Connection,
        /// The table command.
        #[command(subcommand)]
        command: crate::tables::TableCommand,
    },
    /// Work with schema requests on a running server.
    Request {
        /// Server and credentials.
        #[command(flatten)]
        connection: Connection,
        /// The request command.
        #[command(subcommand)]
        command: RequestCommand,
    },
    /// The audit log's hash chain.
    Audit {
        /// The audit command.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Migrate the registry schema as its owner and grant the runtime role its privileges
    /// (for a PostgreSQL the registry does not run itself).
    Migrate(crate::admin::MigrateArgs),
    /// Print the SQL that creates least-privilege roles on a PostgreSQL the registry does
    /// not run itself (managed services), with fresh random passwords.
    SetupRoles(crate::admin::SetupRolesArgs),
    /// Manage API tokens on a running server (admin).
    Token {
        /// Server and credentials.
        #[command(flatten)]
        connection: Connection,
        /// The token command.
        #[command(subcommand)]
        command: TokenCommand,
    },
}

/// Where the server is and who calls it.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The server's URL.
    #[arg(long, env = "REGISTRY_SERVER", default_value = "http://127.0.0.1:8080", global = true)]
    pub server: String,
    /// A bearer token.
    #[arg(long, env = "REGISTRY_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
}

/// Request commands.
#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Submit a request file (`-` for standard input).
    Submit {
        /// The request (seed 001 envelope or a bare table).
        file: PathBuf,
    },
    /// List requests, newest first.
    List {
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Skip this many.
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Show one request.
    Show {
        /// Request id.
        id: String,
    },
    /// Approve a request (reviewer).
    Approve {
        /// Request id.
        id: String,
        /// A note for the audit log.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a request (reviewer).
    Reject {
        /// Request id.
        id: String,
        /// A note for the audit log.
        #[arg(long)]
        note: Option<String>,
    },
    /// Apply an approved request to a target (operator).
    Apply {
        /// Request id.
        id: String,
        /// Target database name.
        #[arg(long)]
        target: Option<String>,
    },
    /// Roll a migrated request back on a target (operator).
    Rollback {
        /// Request id.
        id: String,
        /// Target database name.
        #[arg(long)]
        target: Option<String>,
    },
    /// Show a request's audit history.
    Audit {
        /// Request id.
        id: String,
    },
}

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a principal and its token; the token is printed once.
    Create {
        /// The principal's name.
        name: String,
        /// requester, reviewer, operator or admin.
        #[arg(long)]
        role: String,
    },
    /// List tokens.
    List,
    /// Revoke a token.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// Audit commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the audit log's hash chain: exit 0 when intact, 1 when an entry was edited,
    /// deleted or inserted out of band (the first such entry is named), 2 on errors.
    Verify {
        /// Where the registry and its audit key are.
        #[command(flatten)]
        database: crate::admin::DatabaseArgs,
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
    /// JSON, as the API answers.
    Json,
}

/// Exit code when there is an error violation, or the server refused the call.
pub const EXIT_VIOLATIONS: u8 = 1;
/// Exit code when input cannot be read or parsed, or the server cannot be reached.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Runs a command other than `serve` (the binary's `main` starts the server itself).
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Serve(_) => {
            eprintln!("error: `serve` is started by the binary, not by the command line's dispatcher");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        Command::Check { file, policy, format, rehearse, rehearsal_database_url } => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let rehearsal = rehearse.then_some(rehearsal_database_url.as_deref());
            offline_result(check_with(&file, policy.as_deref(), format, rehearsal, &mut out), &mut out)
        }
        Command::Diff(args) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            offline_result(crate::tables::diff(&args, &mut out), &mut out)
        }
        Command::Lint(args) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            offline_result(crate::sql_files::lint(&args, &mut out), &mut out)
        }
        Command::Import(args) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            offline_result(crate::sql_files::import(&args, &mut out), &mut out)
        }
        Command::Inspect(args) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            offline_result(crate::tables::inspect(&args, &mut out), &mut out)
        }
        Command::Drift(args) => crate::tables::drift(&args),
        Command::Table { connection, command } => {
            client_command(&connection, |client| crate::tables::table(client, &connection, command))
        }
        Command::Request { connection, command } => {
            client_command(&connection, |client| request(client, &connection, command))
        }
        Command::Audit { command: AuditCommand::Verify { database, format } } => {
            crate::admin::audit_verify(&database, format)
        }
        Command::Migrate(args) => crate::admin::migrate(&args),
        Command::SetupRoles(args) => crate::admin::setup_roles(&args),
        Command::Token { connection, command } => {
            client_command(&connection, |client| token(client, &connection, command))
        }
    }
}

/// The exit code of a command that answers with a code or a message for exit 2.
fn offline_result(result: Result<u8, String>, out: &mut impl Write) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            let _ = out.flush();
            eprintln!("error: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn client_command(connection: &Connection, run: impl FnOnce(&Client) -> Result<(), ClientError>) -> ExitCode {
    let client = Client::new(&connection.server, connection.token.clone());
    match run(&client) {
        Ok(()) => ExitCode::SUCCESS,
        Err(ClientError::Api { body, .. }) if connection.format == Format::Json => {
            println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
            ExitCode::from(EXIT_VIOLATIONS)
        }
        Err(error @ ClientError::Api { .. }) => {
            eprintln!("error: {error}");
            if let ClientError::Api { body, .. } = &error
                && let Some(violations) = body["error"]["details"]["violations"].as_array()
            {
                for violation in violations {
                    eprintln!(
                        "  {:<7} {}  at {}: {}",
                        violation["severity"].as_str().unwrap_or_default(),
                        violation["rule"].as_str().unwrap_or_default(),
                        violation["path"].as_str().unwrap_or_default(),
                        violation["message"].as_str().unwrap_or_default()
                    );
                }
            }
            ExitCode::from(EXIT_VIOLATIONS)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Prints a server's answer as JSON or as the text `text` makes of it.
pub(crate) fn print(connection: &Connection, value: &Value, text: impl FnOnce(&Value) -> String) {
    match connection.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(value).unwrap_or_default()),
        Format::Text => print!("{}", text(value)),
    }
}

fn request(client: &Client, connection: &Connection, command: RequestCommand) -> Result<(), ClientError> {
    match command {
        RequestCommand::Submit { file } => {
            let text = read_text(&file).map_err(ClientError::Transport)?;
            let body: Value = serde_json::from_str(&text).map_err(|e| {
                ClientError::Transport(format!(
                    "{}: malformed JSON at line {}, column {}: {e}",
                    file.display(),
                    e.line(),
                    e.column()
                ))
            })?;
            let answer = client.call("POST", "/api/schema-requests", Some(&body))?;
            print(connection, &answer, report::submitted);
        }
        RequestCommand::List { status, limit, offset } => {
            let status = status.map(|s| format!("&status={s}")).unwrap_or_default();
            let path = format!("/api/schema-requests?limit={limit}&offset={offset}{status}");
            let page = client.call("GET", &path, None)?;
            print(connection, &page, report::request_list);
        }
        RequestCommand::Show { id } => {
            let request = client.call("GET", &format!("/api/schema-requests/{id}"), None)?;
            print(connection, &request, report::request_detail);
        }
        RequestCommand::Approve { id, note } => status_change(client, connection, &id, "approved", note.as_deref())?,
        RequestCommand::Reject { id, note } => status_change(client, connection, &id, "rejected", note.as_deref())?,
        RequestCommand::Apply { id, target } => {
            let outcome =
                client.call("POST", &format!("/api/schema-requests/{id}/apply"), Some(&json!({"target": target})))?;
            print(connection, &outcome, |o| report::outcome("applied", o));
        }
        RequestCommand::Rollback { id, target } => {
            let outcome = client.call(
                "POST",
                &format!("/api/schema-requests/{id}/rollback"),
                Some(&json!({"target": target})),
            )?;
            print(connection, &outcome, |o| report::outcome("rolled back", o));
        }
        RequestCommand::Audit { id } => {
            let audit = client.call("GET", &format!("/api/schema-requests/{id}/audit"), None)?;
            print(connection, &audit, report::audit);
        }
    }
    Ok(())
}

fn status_change(
    client: &Client,
    connection: &Connection,
    id: &str,
    status: &str,
    note: Option<&str>,
) -> Result<(), ClientError> {
    let updated =
        client.call("PATCH", &format!("/api/schema-requests/{id}"), Some(&json!({"status": status, "note": note})))?;
    print(connection, &updated, |r| {
        format!(
            "request {} ({}) is now {} (version {})\n",
            r["id"].as_str().unwrap_or_default(),
            r["tableName"].as_str().unwrap_or_default(),
            r["status"].as_str().unwrap_or_default(),
            r["version"]
        )
    });
    Ok(())
}

fn token(client: &Client, connection: &Connection, command: TokenCommand) -> Result<(), ClientError> {
    match command {
        TokenCommand::Create { name, role } => {
            let token = client.call("POST", "/api/tokens", Some(&json!({"name": name, "role": role})))?;
            print(connection, &token, |t| {
                format!(
                    "created {} ({}); this token is shown once:\n{}\n",
                    t["name"].as_str().unwrap_or_default(),
                    t["role"].as_str().unwrap_or_default(),
                    t["token"].as_str().unwrap_or_default()
                )
            });
        }
        TokenCommand::List => {
            let tokens = client.call("GET", "/api/tokens", None)?;
            print(connection, &tokens, |t| {
                let mut out = String::new();
                for token in t["tokens"].as_array().into_iter().flatten() {
                    let _ = writeln!(
                        out,
                        "{:<24} {:<10} {}",
                        token["name"].as_str().unwrap_or_default(),
                        token["role"].as_str().unwrap_or_default(),
                        token["createdAt"].as_str().unwrap_or_default()
                    );
                }
                out
            });
        }
        TokenCommand::Revoke { name } => {
            client.call("DELETE", &format!("/api/tokens/{name}"), None)?;
            print(connection, &json!({"revoked": name}), |_| format!("revoked {name}\n"));
        }
    }
    Ok(())
}

/// Runs `check`: returns the exit code, or the message for unreadable input (exit 2).
pub fn check(file: &Path, policy_file: Option<&Path>, format: Format, out: &mut impl Write) -> Result<u8, String> {
    check_with(file, policy_file, format, None, out)
}

/// [`check`], rehearsing the migration when `rehearsal` is given: `Some(None)` on a
/// throw-away local cluster, `Some(Some(url))` on that scratch database.
pub fn check_with(
    file: &Path,
    policy_file: Option<&Path>,
    format: Format,
    rehearsal: Option<Option<&str>>,
    out: &mut impl Write,
) -> Result<u8, String> {
    let policy = match policy_file {
        Some(path) => read_policy(path)?,
        None => Policy::standard(),
    };
    let text = read_text(file)?;
    let request = SchemaRequest::from_json(&text).map_err(|e| format!("{}: {e}", display_name(file)))?;
    let checked = registry_core::check::check(&request, &policy, None);
    let mut answer = checked.answer;
    if let (Some(url), true, Some(preview)) = (rehearsal, answer.success, answer.migration_preview.clone()) {
        let found = crate::admin::rehearse_locally(&request, &preview, &checked.inputs, url)?;
        answer.violations.extend(found);
        answer.violations.sort_by_key(|v| std::cmp::Reverse(v.severity));
        answer.success = !policy::has_errors(&answer.violations);
    }
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
