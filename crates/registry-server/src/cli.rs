//! Command-line parsing and dispatch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use policy::config::Policy;
use schema_model::request::SchemaRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{Client, ClientError};
use crate::report;

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

/// Options of the server.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "REGISTRY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The registry's PostgreSQL as the server's runtime role (neither superuser nor schema
    /// owner); without it an embedded local PostgreSQL runs in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The registry's PostgreSQL as the owner of the `registry` schema, used only to migrate
    /// it at start-up and grant the runtime role its privileges.
    #[arg(long, env = "MIGRATION_DATABASE_URL", value_name = "URL")]
    pub migration_database_url: Option<String>,
    /// Run even when the runtime role is a superuser or owns the registry schema (it could
    /// then rewrite the audit log); warns on every start.
    #[arg(long)]
    pub allow_superuser: bool,
    /// Root certificates (PEM) for database URLs with sslmode=verify-ca/verify-full that
    /// name no sslrootcert.
    #[arg(long, value_name = "FILE")]
    pub tls_root_cert: Option<PathBuf>,
    /// A scratch database where submitted migrations are rehearsed (run, then rolled back)
    /// before they are stored; the embedded cluster has one of its own.
    #[arg(long, env = "REHEARSAL_DATABASE_URL", value_name = "URL")]
    pub rehearsal_database_url: Option<String>,
    /// Store submitted migrations without rehearsing them (only with --database-url and no
    /// rehearsal database).
    #[arg(long)]
    pub no_rehearsal: bool,
    /// The target of requests that name none [default: the one named `default`, or the only one].
    #[arg(long, value_name = "NAME")]
    pub default_target: Option<String>,
    /// The key of the audit chain's HMACs (64 hex digits; created when missing)
    /// [default: <data-dir>/audit.key]. Replicas must share it.
    #[arg(long, value_name = "FILE")]
    pub audit_key_file: Option<PathBuf>,
    /// A target database, `NAME=URL` (repeatable).
    #[arg(long = "target", value_name = "NAME=URL")]
    pub targets: Vec<String>,
    /// Where the embedded PostgreSQL and the admin token live [default: ./.registry].
    #[arg(long, env = "REGISTRY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A policy file (TOML).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// A configuration file (TOML) with the same settings; flags win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => crate::serve::run(cli.serve),
        Some(Command::Serve(args)) => crate::serve::run(args),
        Some(Command::Check { file, policy, format, rehearse, rehearsal_database_url }) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let rehearsal = rehearse.then_some(rehearsal_database_url.as_deref());
            match check_with(&file, policy.as_deref(), format, rehearsal, &mut out) {
                Ok(code) => ExitCode::from(code),
                Err(message) => {
                    let _ = out.flush();
                    eprintln!("error: {message}");
                    ExitCode::from(EXIT_BAD_INPUT)
                }
            }
        }
        Some(Command::Request { connection, command }) => {
            client_command(&connection, |client| request(client, &connection, command))
        }
        Some(Command::Audit { command: AuditCommand::Verify { database, format } }) => {
            crate::admin::audit_verify(&database, format)
        }
        Some(Command::Migrate(args)) => crate::admin::migrate(&args),
        Some(Command::SetupRoles(args)) => crate::admin::setup_roles(&args),
        Some(Command::Token { connection, command }) => {
            client_command(&connection, |client| token(client, &connection, command))
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

fn print(connection: &Connection, value: &Value, text: impl FnOnce(&Value) -> String) {
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

/// Settings of the server from `--config` (TOML); flags override them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `listen = "127.0.0.1:8080"`.
    pub listen: Option<SocketAddr>,
    /// `database_url = "postgresql://..."` (the runtime role).
    pub database_url: Option<String>,
    /// `migration_database_url = "postgresql://..."` (the schema owner).
    pub migration_database_url: Option<String>,
    /// `allow_superuser = true` accepts a privileged runtime role.
    pub allow_superuser: Option<bool>,
    /// `tls_root_cert = "ca.pem"`.
    pub tls_root_cert: Option<PathBuf>,
    /// `audit_key_file = "audit.key"`.
    pub audit_key_file: Option<PathBuf>,
    /// `rehearsal_database_url = "postgresql://..."`.
    pub rehearsal_database_url: Option<String>,
    /// `no_rehearsal = true`.
    pub no_rehearsal: Option<bool>,
    /// `default_target = "prod"`.
    pub default_target: Option<String>,
    /// `data_dir = ".registry"`.
    pub data_dir: Option<PathBuf>,
    /// `policy = "policy.toml"`.
    pub policy: Option<PathBuf>,
    /// `[targets] name = "postgresql://..."`.
    #[serde(default)]
    pub targets: BTreeMap<String, String>,
    /// Pool size for the registry database.
    pub pool_size: Option<usize>,
    /// Requests per second per token (0 disables).
    pub rate_limit_per_second: Option<f64>,
    /// Longest a request may take, in seconds.
    pub request_timeout_seconds: Option<u64>,
    /// Largest request body, in bytes.
    pub body_limit_bytes: Option<usize>,
    /// Largest page size.
    pub max_page_size: Option<i64>,
    /// Statement timeout on the registry database, in seconds.
    pub statement_timeout_seconds: Option<u64>,
    /// Most client connections at once (1024).
    pub max_connections: Option<usize>,
    /// Seconds a client may take to send a request's headers (10).
    pub header_timeout_seconds: Option<u64>,
    /// Seconds the target side of one apply or rollback may take (60).
    pub apply_timeout_seconds: Option<u64>,
    /// Seconds an apply waits for another apply of the same target (5).
    pub apply_lock_wait_seconds: Option<u64>,
    /// Applies and rollbacks at once (8).
    pub max_concurrent_applies: Option<usize>,
    /// Applies and rollbacks at once on one target (4).
    pub max_applies_per_target: Option<usize>,
}

impl ConfigFile {
    /// Reads a configuration file; errors say where.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.to_string().trim_end()))
    }
}

/// Parses `NAME=URL`.
pub fn parse_target(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, url)) if !name.is_empty() && !url.is_empty() => Ok((name.to_owned(), url.to_owned())),
        _ => Err(format!("--target takes NAME=URL, got \"{text}\"")),
    }
}

/// A duration in whole seconds.
pub fn seconds(value: u64) -> Duration {
    Duration::from_secs(value)
}

/// Reads a policy file.
pub fn read_policy(path: &Path) -> Result<Policy, String> {
    let text = read_text(path)?;
    Policy::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
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
