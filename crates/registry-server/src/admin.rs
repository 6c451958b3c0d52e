//! Commands that work on the registry database itself rather than through the API: verify
//! the audit chain, migrate the schema as its owner, print the least-privilege role set-up
//! for a managed PostgreSQL.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use registry_store::audit::{AuditKey, AuditVerification};
use registry_store::connect::{Endpoint, TlsSettings};
use registry_store::embedded::{self, Embedded, REGISTRY_DATABASE, RUNTIME_ROLE};

use crate::cli::{EXIT_BAD_INPUT, EXIT_VIOLATIONS, Format};

/// The file the audit key is kept in, inside the data directory.
pub const AUDIT_KEY_FILE: &str = "audit.key";

/// Where the registry database is, for `audit verify` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// The registry database URL; without it, the embedded cluster in the data directory
    /// (used while its server runs, started for the command otherwise).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The data directory of the embedded cluster and of the audit key [default: ./.registry].
    #[arg(long, env = "REGISTRY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The audit key file [default: <data-dir>/audit.key].
    #[arg(long, value_name = "FILE")]
    pub audit_key_file: Option<PathBuf>,
    /// Root certificates (PEM) for sslmode=verify-ca/verify-full.
    #[arg(long, value_name = "FILE")]
    pub tls_root_cert: Option<PathBuf>,
}

impl DatabaseArgs {
    fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| PathBuf::from(".registry"))
    }

    fn key(&self) -> Result<AuditKey, String> {
        let path = self.audit_key_file.clone().unwrap_or_else(|| self.data_dir().join(AUDIT_KEY_FILE));
        AuditKey::load_or_create(&path, false).map_err(|e| e.to_string())
    }
}

/// Runs `audit verify`: exit 0 when the chain is intact, 1 when it is broken, 2 when it
/// cannot be read.
pub fn audit_verify(args: &DatabaseArgs, format: Format) -> ExitCode {
    let result = runtime().and_then(|runtime| runtime.block_on(verify(args)));
    match result {
        Ok(report) => {
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default()),
                Format::Text if report.intact => println!(
                    "audit chain intact: {} entries{}",
                    report.entries,
                    report.last_hash.as_deref().map(|h| format!(", last hash {h}")).unwrap_or_default()
                ),
                Format::Text => println!(
                    "audit chain BROKEN at entry {}: {} ({} entries)",
                    report.first_broken.unwrap_or_default(),
                    report.reason.as_deref().unwrap_or("unknown"),
                    report.entries
                ),
            }
            if report.intact { ExitCode::SUCCESS } else { ExitCode::from(EXIT_VIOLATIONS) }
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

async fn verify(args: &DatabaseArgs) -> Result<AuditVerification, String> {
    let key = args.key()?;
    let tls = TlsSettings { root_cert: args.tls_root_cert.clone() };
    if let Some(url) = &args.database_url {
        return verify_at(url, &tls, &key).await;
    }
    let data_dir = args.data_dir();
    if let Some(url) = embedded::running_url(&data_dir, RUNTIME_ROLE, REGISTRY_DATABASE) {
        return verify_at(&url, &tls, &key).await;
    }
    if !data_dir.join("postgres").join("PG_VERSION").is_file() {
        return Err(format!(
            "{} holds no registry (no embedded cluster there); give --database-url",
            data_dir.display()
        ));
    }
    let dir = data_dir.clone();
    let embedded = tokio::task::spawn_blocking(move || Embedded::start(&dir))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot start the embedded PostgreSQL in {}: {e}", data_dir.display()))?;
    let result = verify_at(&embedded.registry_url(), &tls, &key).await;
    let _ = tokio::task::spawn_blocking(move || embedded.stop()).await;
    result
}

async fn verify_at(url: &str, tls: &TlsSettings, key: &AuditKey) -> Result<AuditVerification, String> {
    let client = Endpoint::parse(url, tls, "the registry database URL")
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("cannot connect to the registry database: {e}"))?;
    registry_store::audit::verify(&client, key).await.map_err(|e| e.to_string())
}

/// Options of `migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The registry database as the owner of the `registry` schema.
    #[arg(long, env = "MIGRATION_DATABASE_URL")]
    pub database_url: String,
    /// The server's runtime role, granted exactly the privileges it needs.
    #[arg(long, default_value = RUNTIME_ROLE)]
    pub runtime_role: String,
    /// The audit key file (created when missing).
    #[arg(long, value_name = "FILE", default_value = ".registry/audit.key")]
    pub audit_key_file: PathBuf,
    /// Root certificates (PEM) for sslmode=verify-ca/verify-full.
    #[arg(long, value_name = "FILE")]
    pub tls_root_cert: Option<PathBuf>,
}

/// Runs `migrate`.
pub fn migrate(args: &MigrateArgs) -> ExitCode {
    let result = runtime().and_then(|runtime| {
        runtime.block_on(async {
            let key = AuditKey::load_or_create(&args.audit_key_file, true).map_err(|e| e.to_string())?;
            let tls = TlsSettings { root_cert: args.tls_root_cert.clone() };
            let mut client = Endpoint::parse(&args.database_url, &tls, "the migration database URL")
                .map_err(|e| e.to_string())?
                .connect()
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            let report = registry_store::schema::migrate(&mut client, &key).await.map_err(|e| e.to_string())?;
            registry_store::schema::grant_runtime(&client, &args.runtime_role).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(report)
        })
    });
    match result {
        Ok(report) => {
            println!(
                "registry schema at version {} (applied {:?}); {} granted its privileges{}",
                report.version,
                report.applied,
                args.runtime_role,
                if report.sealed > 0 {
                    format!("; {} earlier audit entries sealed", report.sealed)
                } else {
                    String::new()
                }
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Options of `setup-roles`.
#[derive(Debug, Clone, Args)]
pub struct SetupRolesArgs {
    /// The registry's database.
    #[arg(long, default_value = "registry")]
    pub registry_database: String,
    /// Target databases the registry applies migrations to (repeatable).
    #[arg(long = "target-database", value_name = "NAME")]
    pub target_databases: Vec<String>,
    /// The database rehearsals run in (created by the script).
    #[arg(long, default_value = "registry_rehearsal")]
    pub rehearsal_database: String,
    /// The host the URLs in the script's closing comment name.
    #[arg(long, default_value = "HOST")]
    pub host: String,
}

/// Runs `setup-roles`: prints the script.
pub fn setup_roles(args: &SetupRolesArgs) -> ExitCode {
    match roles_script(args) {
        Ok(script) => {
            print!("{script}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// The least-privilege set-up for a PostgreSQL the registry does not manage itself, with
/// fresh random passwords.
pub fn roles_script(args: &SetupRolesArgs) -> Result<String, String> {
    for name in std::iter::once(&args.registry_database)
        .chain(&args.target_databases)
        .chain(std::iter::once(&args.rehearsal_database))
    {
        pg_cluster::validate_name("database", name).map_err(|e| e.to_string())?;
    }
    let password = || registry_store::secrets::random_hex::<18>().map_err(|e| e.to_string());
    let (owner, app, target, rehearsal) = (password()?, password()?, password()?, password()?);
    let registry = &args.registry_database;
    let shadow = &args.rehearsal_database;
    let host = &args.host;
    let mut script = format!(
        "-- Schema Registry roles: least privilege on a PostgreSQL the registry does not run itself.
-- Generated by `registry-server setup-roles`; the passwords are random and appear only here.
-- Run it with psql as a role that may create roles and databases (a managed service's admin):
--   psql \"postgresql://ADMIN@{host}/postgres\" -v ON_ERROR_STOP=1 -f roles.sql
\\set ON_ERROR_STOP on

-- The schema's owner: used only to migrate it (registry-server migrate, or
-- --migration-database-url). The runtime role: what the server runs as; it owns nothing and
-- is granted by the owner exactly what it needs (SELECT and INSERT on the audit log, no more).
CREATE ROLE registry_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{owner}';
CREATE ROLE registry_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{app}';
-- Applies approved migrations to the target databases.
CREATE ROLE registry_target LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{target}';
-- Rehearses submitted migrations in transactions that are always rolled back.
CREATE ROLE registry_rehearsal LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{rehearsal}';

SELECT 'CREATE DATABASE {registry}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{registry}') \\gexec
REVOKE ALL ON DATABASE {registry} FROM PUBLIC;
GRANT CONNECT ON DATABASE {registry} TO registry_owner, registry_app;
\\connect {registry}
CREATE SCHEMA registry AUTHORIZATION registry_owner;

CREATE DATABASE {shadow} OWNER registry_rehearsal;
REVOKE ALL ON DATABASE {shadow} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE {shadow} TO registry_rehearsal;
"
    );
    for database in &args.target_databases {
        let _ = write!(
            script,
            "
-- Target {database}: the registry's history schema belongs to the target role, which may
-- create tables in public (grant the same on every schema requests may name). No CREATE on
-- the database is needed.
\\connect {database}
GRANT CONNECT ON DATABASE {database} TO registry_target;
CREATE SCHEMA schema_registry AUTHORIZATION registry_target;
GRANT USAGE, CREATE ON SCHEMA public TO registry_target;
"
        );
    }
    let first_target = args.target_databases.first().map_or("TARGET_DATABASE", String::as_str);
    let _ = write!(
        script,
        "
-- Then run the server (with TLS to a remote host; verify-full checks its certificate):
--   registry-server migrate --database-url 'postgresql://registry_owner:{owner}@{host}/{registry}?sslmode=verify-full'
--   registry-server serve \\
--     --database-url 'postgresql://registry_app:{app}@{host}/{registry}?sslmode=verify-full' \\
--     --migration-database-url 'postgresql://registry_owner:{owner}@{host}/{registry}?sslmode=verify-full' \\
--     --rehearsal-database-url 'postgresql://registry_rehearsal:{rehearsal}@{host}/{shadow}?sslmode=verify-full' \\
--     --target 'default=postgresql://registry_target:{target}@{host}/{first_target}?sslmode=verify-full'
"
    );
    Ok(script)
}

/// Rehearses a checked request's migration for `check --rehearse`: on the scratch database
/// at `url`, or on a throw-away local cluster. Foreign keys reference stand-ins (nothing is
/// known of the target's tables here), which the answer notes.
pub fn rehearse_locally(
    request: &schema_model::request::SchemaRequest,
    preview: &schema_model::violation::MigrationPreview,
    inputs: &schema_model::environment::GenerationInputs,
    url: Option<&str>,
) -> Result<Vec<schema_model::violation::Violation>, String> {
    let cluster;
    let url = if let Some(url) = url {
        url.to_owned()
    } else {
        cluster = pg_cluster::LocalCluster::start_temporary()
            .map_err(|e| format!("cannot start a local PostgreSQL to rehearse on: {e}"))?;
        cluster.create_database("rehearsal").map_err(|e| e.to_string())?;
        cluster.url("rehearsal")
    };
    let stage = registry_store::rehearsal::Stage::with_stand_ins(request, inputs);
    runtime()?.block_on(async {
        let mut client = Endpoint::parse(&url, &TlsSettings::default(), "the rehearsal database URL")
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| format!("cannot connect to the rehearsal database: {e}"))?;
        registry_store::rehearsal::rehearse(&mut client, request, preview, inputs, &stage)
            .await
            .map(|rehearsal| rehearsal.violations)
            .map_err(|e| e.to_string())
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("no async runtime: {e}"))
}
