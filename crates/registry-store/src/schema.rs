//! The registry's own schema, created and upgraded by versioned migrations embedded in
//! the binary. They run in one transaction under an advisory lock, so several replicas
//! starting together apply each migration once; a changed migration or a database newer
//! than the program is an error, not a guess.
//!
//! Migrations run as the schema's owner role, which is used for nothing else. The server's
//! runtime role gets exactly the privileges it needs ([`RUNTIME_GRANTS`]), granted by the
//! owner after every migration: SELECT and INSERT on the audit log and nothing more there,
//! no ownership of anything (so it can neither disable the audit log's triggers nor change
//! its rows).

use std::fmt::Write as _;

use tokio_postgres::Client;

use crate::audit::{self, AuditKey};
use crate::error::StoreError;
use crate::secrets::sha256_hex;

/// Embedded migrations: (version, name, SQL). Append only; never edit a released one.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "registry", include_str!("../migrations/0001_registry.sql")),
    (2, "audit chain", include_str!("../migrations/0002_audit_chain.sql")),
    (3, "what runs is what was approved", include_str!("../migrations/0003_what_runs_is_what_was_approved.sql")),
    (4, "apply leases", include_str!("../migrations/0004_apply_leases.sql")),
    (5, "changes", include_str!("../migrations/0005_changes.sql")),
];

/// Advisory lock key for schema migrations ("schema-registry" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x7363_6865_6d61_7265;

/// What the runtime role may do on each table of the registry schema. Anything not listed is
/// revoked. UPDATE and DELETE on `audit_log` are never granted; `migrations` is
/// insert-only, so stored SQL cannot be edited through the runtime role.
pub const RUNTIME_GRANTS: &[(&str, &str)] = &[
    ("schema_migrations", "SELECT"),
    ("principals", "SELECT, INSERT, DELETE"),
    ("api_tokens", "SELECT, INSERT, UPDATE"),
    ("schema_requests", "SELECT, INSERT, UPDATE"),
    ("migrations", "SELECT, INSERT"),
    ("databases", "SELECT, INSERT, UPDATE"),
    ("migration_applications", "SELECT, INSERT, UPDATE"),
    ("audit_log", "SELECT, INSERT"),
    ("audit_key", "SELECT, INSERT"),
    ("tables", "SELECT, INSERT, UPDATE"),
    ("table_versions", "SELECT, INSERT"),
    ("columns", "SELECT, INSERT"),
    ("indexes", "SELECT, INSERT"),
    ("constraints", "SELECT, INSERT"),
    ("rollback_approvals", "SELECT, INSERT, UPDATE"),
    ("operations", "SELECT, INSERT, UPDATE, DELETE"),
];

/// The newest schema version this program knows.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |(version, _, _)| *version)
}

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaReport {
    /// Versions applied by this call, in order (empty when the schema was current).
    pub applied: Vec<i32>,
    /// The schema version afterwards.
    pub version: i32,
    /// Audit entries from before the chain that were sealed into it.
    pub sealed: u64,
}

/// The schema version the database is at (0 when the registry schema does not exist yet).
pub async fn current_version(client: &Client) -> Result<i32, StoreError> {
    let exists: bool =
        client.query_one("SELECT to_regclass('registry.schema_migrations') IS NOT NULL", &[]).await?.get(0);
    if !exists {
        return Ok(0);
    }
    let row = client.query_one("SELECT coalesce(max(version), 0) FROM registry.schema_migrations", &[]).await?;
    Ok(row.get(0))
}

/// Gives `role` (the server's runtime role) exactly [`RUNTIME_GRANTS`]; run by the owner.
pub async fn grant_runtime(client: &Client, role: &str) -> Result<(), StoreError> {
    let role = schema_model::expr::quote_identifier(role);
    let mut sql = format!(
        "GRANT USAGE ON SCHEMA registry TO {role};\n\
         REVOKE ALL ON ALL TABLES IN SCHEMA registry FROM {role};\n\
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA registry TO {role};\n"
    );
    for (table, privileges) in RUNTIME_GRANTS {
        let _ = writeln!(sql, "GRANT {privileges} ON registry.{table} TO {role};");
    }
    client.batch_execute(&sql).await?;
    Ok(())
}

/// Brings the `registry` schema up to [`latest_version`], seals audit entries written before
/// the chain existed into it with `key`, and records (or checks) the key's fingerprint.
pub async fn migrate(client: &mut Client, key: &AuditKey) -> Result<SchemaReport, StoreError> {
    let transaction = client.transaction().await?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists;
    // an owner given the schema by an administrator has no such right, and needs none.
    let schema_exists: bool =
        transaction.query_one("SELECT to_regnamespace('registry') IS NOT NULL", &[]).await?.get(0);
    if !schema_exists {
        transaction.batch_execute("CREATE SCHEMA registry").await?;
    }
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS registry.schema_migrations (
                 version     integer PRIMARY KEY,
                 name        text NOT NULL,
                 checksum    text NOT NULL,
                 applied_at  timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await?;
    let rows =
        transaction.query("SELECT version, checksum FROM registry.schema_migrations ORDER BY version", &[]).await?;
    let applied: Vec<(i32, String)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    if let Some((found, _)) = applied.iter().find(|(version, _)| *version > latest_version()) {
        return Err(StoreError::SchemaTooNew { found: *found, supported: latest_version() });
    }
    let mut report = SchemaReport { applied: Vec::new(), version: 0, sealed: 0 };
    for (version, name, sql) in MIGRATIONS {
        let checksum = sha256_hex(sql.as_bytes());
        match applied.iter().find(|(v, _)| v == version) {
            Some((_, recorded)) if *recorded == checksum => {}
            Some(_) => return Err(StoreError::SchemaChanged { version: *version }),
            None => {
                transaction.batch_execute(sql).await?;
                transaction
                    .execute(
                        "INSERT INTO registry.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        &[version, name, &checksum],
                    )
                    .await?;
                report.applied.push(*version);
            }
        }
        report.version = *version;
    }
    report.sealed = audit::seal_unsealed(&transaction, key).await?;
    audit::check_key(&transaction, key).await?;
    transaction.commit().await?;
    Ok(report)
}
