//! The server's settings: its flags ([`ServeArgs`]) and configuration file ([`ConfigFile`]),
//! and the files both name (policy). Shared by the command line, which parses them, and the
//! server start-up, which applies them; neither imports the other.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use policy::config::Policy;
use serde::Deserialize;

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
    /// Milliseconds one step of a change waits for a lock on its table before it gives up
    /// and is tried again (5000).
    pub table_lock_timeout_ms: Option<u64>,
    /// Tries of a step that met the table lock timeout (4).
    pub step_tries: Option<u32>,
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

/// Reads a file, or standard input for `-`, as UTF-8.
pub fn read_text(path: &Path) -> Result<String, String> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read standard input: {e}"))?;
    } else {
        text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    }
    Ok(text)
}
