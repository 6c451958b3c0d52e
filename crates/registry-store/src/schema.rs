//! The registry's own schema, created and upgraded by versioned migrations embedded in
//! the binary. They run in one transaction under an advisory lock, so several replicas
//! starting together apply each migration once; a changed migration or a database newer
//! than the program is an error, not a guess.

use tokio_postgres::Client;

use crate::error::StoreError;

/// Embedded migrations: (version, name, SQL). Append only; never edit a released one.
const MIGRATIONS: &[(i32, &str, &str)] = &[(1, "registry", include_str!("../migrations/0001_registry.sql"))];

/// Advisory lock key for schema migrations ("schema-registry" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x7363_6865_6d61_7265;

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
}

/// Brings the `registry` schema up to [`latest_version`].
pub async fn migrate(client: &mut Client) -> Result<SchemaReport, StoreError> {
    let transaction = client.transaction().await?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    transaction
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS registry;
             CREATE TABLE IF NOT EXISTS registry.schema_migrations (
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
    let mut report = SchemaReport { applied: Vec::new(), version: 0 };
    for (version, name, sql) in MIGRATIONS {
        let checksum: String =
            transaction.query_one("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", &[sql]).await?.get(0);
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
    transaction.commit().await?;
    Ok(report)
}
