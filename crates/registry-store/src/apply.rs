//! Applying an approved request's migration to a target database exactly once, and
//! rolling it back.
//!
//! On the target, under an advisory lock, the migration's statements and a row in the
//! target's own history table (`schema_registry.applied_migrations`) commit in one
//! transaction; only then is the registry marked `migrated` and audited. A retry after a
//! crash between the two finds the history row and completes the registry side without
//! running the SQL again. The request's row stays locked in the registry from the status
//! check to the final record, so appliers queue and nobody rejects a request mid-apply. A table of the same name that the registry did not create is
//! never adopted: the apply fails and says so. Several tasks or processes applying at once queue on the lock;
//! the first runs the SQL, the others find it done.

use schema_model::status::RequestStatus;
use serde::Serialize;
use tokio_postgres::Transaction;

use crate::audit::{AuditKey, NewAudit};
use crate::connect::Endpoint;
use crate::error::{StoreError, describe};
use crate::requests::StoredRequest;
use crate::store::{Store, parse_id};

/// Advisory lock key the registry takes on a target while it applies or rolls back (it
/// shows in `pg_locks` as objid/classid of this number).
pub const APPLY_LOCK: i64 = 0x7265_6769_7374_7279;

/// The target's history schema; [`ensure_history`] creates it only when it is missing, so a
/// target role without CREATE on the database can apply once a DBA made the schema.
pub const HISTORY_SCHEMA: &str = "schema_registry";

const HISTORY_TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_registry.applied_migrations (
    request_id  uuid PRIMARY KEY,
    file_name   text NOT NULL,
    checksum    text NOT NULL,
    applied_by  text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)";

/// What an apply or rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyOutcome {
    /// The request id.
    pub request_id: String,
    /// The target database name.
    pub target: String,
    /// Whether this call ran SQL on the target (false when it was already done there and
    /// only the registry side was completed, or nothing was left to do).
    pub ran_sql: bool,
    /// The request's status afterwards.
    pub status: RequestStatus,
}

impl Store {
    /// Applies an approved request's up migration to a target, exactly once.
    ///
    /// The request's row stays locked in one registry transaction from the status check to
    /// the final record, so concurrent appliers queue behind each other and a reviewer
    /// cannot reject the request while its migration runs.
    pub async fn apply(&self, id: &str, target: &str, performed_by: &str) -> Result<ApplyOutcome, StoreError> {
        let id = parse_id(id)?;
        let target_url =
            self.inner.targets.get(target).ok_or_else(|| StoreError::not_found(format!("target \"{target}\"")))?;
        let request = self.get_request(id).await?;
        let checksum = self.checksum(id).await?;
        let body = ddl_gen::pg::transaction_body(&request.migration.up_sql)
            .ok_or_else(|| StoreError::Internal("the stored up migration is not a registry transaction".to_owned()))?;

        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let registry = client.transaction().await?;
        let current = fetch_for_update(&registry, id).await?;
        if !matches!(current, RequestStatus::Approved | RequestStatus::Migrated) {
            return Err(StoreError::InvalidTransition { from: current, to: RequestStatus::Migrated });
        }
        let file_name = request.migration.file_name.as_str();
        let (schema, table) = (request.table_schema.as_str(), request.table_name.as_str());
        let work = async |transaction: &Transaction<'_>| -> Result<bool, StoreError> {
            let recorded = transaction
                .query_opt(
                    "SELECT checksum FROM schema_registry.applied_migrations WHERE request_id = $1::text::uuid",
                    &[&id],
                )
                .await?;
            if let Some(row) = recorded {
                let recorded: String = row.get(0);
                if recorded != checksum {
                    return Err(StoreError::Divergent {
                        target: target.to_owned(),
                        message: format!("checksum {recorded} there, {checksum} here"),
                    });
                }
                return Ok(false);
            }
            // The up migration is idempotent (IF NOT EXISTS), so a table that is already
            // there with another shape would be adopted silently: refuse instead.
            let existing: bool = transaction
                .query_one("SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL", &[&schema, &table])
                .await?
                .get(0);
            if existing {
                return Err(StoreError::MigrationFailed {
                    target: target.to_owned(),
                    message: format!(
                        "table {schema}.{table} already exists there and was not created by this request; the registry does not adopt tables"
                    ),
                });
            }
            if let Err(error) = transaction.batch_execute(body).await {
                return Err(StoreError::MigrationFailed { target: target.to_owned(), message: describe(&error) });
            }
            transaction
                .execute(
                    "INSERT INTO schema_registry.applied_migrations (request_id, file_name, checksum, applied_by)
                     VALUES ($1::text::uuid, $2, $3, $4)",
                    &[&id, &file_name, &checksum, &performed_by],
                )
                .await?;
            Ok(true)
        };
        let failure = Failure {
            registry: &registry,
            key: &self.inner.audit_key,
            request: &request,
            current,
            action: "apply",
            target,
            by: performed_by,
        };
        let ran_sql = match on_target(target_url, &failure, work).await {
            Ok(ran_sql) => ran_sql,
            Err(error) => {
                // Keep the failure's audit entry.
                registry.commit().await?;
                return Err(error);
            }
        };
        let outcome = record_applied(&registry, &request, current, target, performed_by, ran_sql, &self.inner).await?;
        registry.commit().await?;
        Ok(outcome)
    }

    /// Rolls a migrated request back on a target with its down migration; the request
    /// becomes `approved` again when no target has it applied any more.
    pub async fn rollback(&self, id: &str, target: &str, performed_by: &str) -> Result<ApplyOutcome, StoreError> {
        let id = parse_id(id)?;
        let target_url =
            self.inner.targets.get(target).ok_or_else(|| StoreError::not_found(format!("target \"{target}\"")))?;
        let request = self.get_request(id).await?;
        let body = ddl_gen::pg::transaction_body(&request.migration.down_sql).ok_or_else(|| {
            StoreError::Internal("the stored down migration is not a registry transaction".to_owned())
        })?;

        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let registry = client.transaction().await?;
        let current = fetch_for_update(&registry, id).await?;
        if current != RequestStatus::Migrated || !is_live(&registry, id, target).await? {
            return Err(StoreError::InvalidTransition { from: current, to: RequestStatus::Approved });
        }
        let work = async |transaction: &Transaction<'_>| -> Result<bool, StoreError> {
            let recorded = transaction
                .execute("DELETE FROM schema_registry.applied_migrations WHERE request_id = $1::text::uuid", &[&id])
                .await?;
            if recorded == 0 {
                // Already rolled back there; only the registry side is left to do.
                return Ok(false);
            }
            if let Err(error) = transaction.batch_execute(body).await {
                return Err(StoreError::MigrationFailed { target: target.to_owned(), message: describe(&error) });
            }
            Ok(true)
        };
        let failure = Failure {
            registry: &registry,
            key: &self.inner.audit_key,
            request: &request,
            current,
            action: "rollback",
            target,
            by: performed_by,
        };
        let ran_sql = match on_target(target_url, &failure, work).await {
            Ok(ran_sql) => ran_sql,
            Err(error) => {
                // Keep the failure's audit entry.
                registry.commit().await?;
                return Err(error);
            }
        };
        let outcome =
            record_rolled_back(&registry, &request, current, target, performed_by, ran_sql, &self.inner.audit_key)
                .await?;
        registry.commit().await?;
        Ok(outcome)
    }

    async fn checksum(&self, id: &str) -> Result<String, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT checksum FROM registry.migrations WHERE request_id = $1::text::uuid", &[&id])
            .await?;
        Ok(row.get(0))
    }
}

/// Where a failed apply or rollback is audited: the registry transaction holding the
/// request's row, and what was attempted by whom.
struct Failure<'a> {
    registry: &'a Transaction<'a>,
    key: &'a AuditKey,
    request: &'a StoredRequest,
    current: RequestStatus,
    action: &'a str,
    target: &'a str,
    by: &'a str,
}

/// Runs `work` in one transaction on the target, under the apply lock and with the
/// history table in place, and commits it. An error rolls it back and is audited in the
/// registry transaction (the status is unchanged).
async fn on_target(
    target: &Endpoint,
    failure: &Failure<'_>,
    work: impl AsyncFnOnce(&Transaction<'_>) -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    let result: Result<bool, StoreError> = async {
        let mut client = target.connect().await?;
        let transaction = client.transaction().await?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&APPLY_LOCK]).await?;
        ensure_history(&transaction).await?;
        let ran_sql = work(&transaction).await?;
        transaction.commit().await?;
        Ok(ran_sql)
    }
    .await;
    if let Err(error) = &result {
        let message = error.to_string();
        NewAudit {
            request_id: Some(&failure.request.id),
            table_schema: Some(&failure.request.table_schema),
            table_name: Some(&failure.request.table_name),
            action: failure.action,
            performed_by: failure.by,
            from_status: Some(failure.current.as_str()),
            to_status: Some(failure.current.as_str()),
            target: Some(failure.target),
            success: false,
            error: Some(&message),
            ..NewAudit::default()
        }
        .insert(failure.registry, failure.key)
        .await?;
    }
    result
}

async fn record_applied(
    registry: &Transaction<'_>,
    request: &StoredRequest,
    current: RequestStatus,
    target: &str,
    by: &str,
    ran_sql: bool,
    store: &crate::store::Inner,
) -> Result<ApplyOutcome, StoreError> {
    let (naming, key) = (&store.policy.naming, &store.audit_key);
    let outcome = |status| ApplyOutcome { request_id: request.id.clone(), target: target.to_owned(), ran_sql, status };
    let audit = |note: Option<&'static str>| NewAudit {
        request_id: Some(&request.id),
        table_schema: Some(&request.table_schema),
        table_name: Some(&request.table_name),
        action: "apply",
        performed_by: by,
        from_status: Some(current.as_str()),
        to_status: Some(RequestStatus::Migrated.as_str()),
        justification: note,
        target: Some(target),
        sql_executed: ran_sql.then_some(request.migration.up_sql.as_str()),
        checksum: Some(&request.checksum),
        success: true,
        ..NewAudit::default()
    };
    if is_live(registry, &request.id, target).await? {
        if ran_sql {
            // The registry already had it applied there, yet the target did not (an
            // interrupted rollback): it has been applied again.
            audit(Some("applied again: the target had lost this migration")).insert(registry, key).await?;
        }
        return Ok(outcome(current));
    }
    let database_id: i64 = registry
        .query_one(
            "INSERT INTO registry.databases (name) VALUES ($1)
             ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            &[&target],
        )
        .await?
        .get(0);
    registry
        .execute(
            "INSERT INTO registry.migration_applications (migration_id, database_id, applied_by)
             SELECT id, $2, $3 FROM registry.migrations WHERE request_id = $1::text::uuid",
            &[&request.id, &database_id, &by],
        )
        .await?;
    if current != RequestStatus::Migrated {
        registry
            .execute(
                "UPDATE registry.schema_requests SET status = 'migrated', version = version + 1, updated_at = now()
                 WHERE id = $1::text::uuid",
                &[&request.id],
            )
            .await?;
    }
    crate::catalog::record_version(registry, database_id, request, naming).await?;
    let note = (!ran_sql).then_some("completed after an interrupted apply: the target already had this migration");
    audit(note).insert(registry, key).await?;
    Ok(outcome(RequestStatus::Migrated))
}

async fn record_rolled_back(
    registry: &Transaction<'_>,
    request: &StoredRequest,
    current: RequestStatus,
    target: &str,
    by: &str,
    ran_sql: bool,
    key: &AuditKey,
) -> Result<ApplyOutcome, StoreError> {
    registry
        .execute(
            "UPDATE registry.migration_applications a SET rolled_back_at = now(), rolled_back_by = $3
             FROM registry.migrations m, registry.databases d
             WHERE m.id = a.migration_id AND d.id = a.database_id AND m.request_id = $1::text::uuid
               AND d.name = $2 AND a.rolled_back_at IS NULL",
            &[&request.id, &target, &by],
        )
        .await?;
    let still_live: bool = registry
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM registry.migration_applications a JOIN registry.migrations m ON m.id = a.migration_id
                 WHERE m.request_id = $1::text::uuid AND a.rolled_back_at IS NULL)",
            &[&request.id],
        )
        .await?
        .get(0);
    let status = if still_live { RequestStatus::Migrated } else { RequestStatus::Approved };
    registry
        .execute(
            "UPDATE registry.schema_requests SET status = $2, version = version + 1, updated_at = now()
             WHERE id = $1::text::uuid",
            &[&request.id, &status.as_str()],
        )
        .await?;
    crate::catalog::record_dropped(registry, target, request).await?;
    NewAudit {
        request_id: Some(&request.id),
        table_schema: Some(&request.table_schema),
        table_name: Some(&request.table_name),
        action: "rollback",
        performed_by: by,
        from_status: Some(current.as_str()),
        to_status: Some(status.as_str()),
        justification: (!ran_sql).then_some("completed after an interrupted rollback: the target no longer had it"),
        target: Some(target),
        sql_executed: ran_sql.then_some(request.migration.down_sql.as_str()),
        success: true,
        ..NewAudit::default()
    }
    .insert(registry, key)
    .await?;
    Ok(ApplyOutcome { request_id: request.id.clone(), target: target.to_owned(), ran_sql, status })
}

/// Whether the request's migration is applied (and not rolled back) on the target.
async fn is_live(client: &impl tokio_postgres::GenericClient, id: &str, target: &str) -> Result<bool, StoreError> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM registry.migration_applications a
                 JOIN registry.migrations m ON m.id = a.migration_id
                 JOIN registry.databases d ON d.id = a.database_id
                 WHERE m.request_id = $1::text::uuid AND d.name = $2 AND a.rolled_back_at IS NULL)",
            &[&id, &target],
        )
        .await?;
    Ok(row.get(0))
}

async fn fetch_for_update(
    transaction: &tokio_postgres::Transaction<'_>,
    id: &str,
) -> Result<RequestStatus, StoreError> {
    let row = transaction
        .query_opt("SELECT status FROM registry.schema_requests WHERE id = $1::text::uuid FOR UPDATE", &[&id])
        .await?
        .ok_or_else(|| StoreError::not_found(format!("request {id}")))?;
    let status: String = row.get(0);
    status.parse().map_err(StoreError::Invalid)
}

/// Creates the target's history schema and table when they are missing. Creating them needs
/// CREATE on the database (schema) and on the schema (table); a target where they exist
/// needs neither, and the error for a missing one says what to grant.
async fn ensure_history(transaction: &Transaction<'_>) -> Result<(), StoreError> {
    let row = transaction
        .query_one(
            "SELECT to_regnamespace($1) IS NOT NULL, to_regclass($1 || '.applied_migrations') IS NOT NULL",
            &[&HISTORY_SCHEMA],
        )
        .await?;
    let (schema_exists, table_exists): (bool, bool) = (row.get(0), row.get(1));
    if table_exists {
        return Ok(());
    }
    let missing_privilege = |error: tokio_postgres::Error, what: &str| {
        if error.as_db_error().is_some_and(|db| db.code().code() == "42501") {
            StoreError::MigrationFailed {
                target: String::new(),
                message: format!(
                    "the target role may not create {what} (the registry's history of this target); create it once \
                     as an administrator: CREATE SCHEMA {HISTORY_SCHEMA} AUTHORIZATION <target role>"
                ),
            }
        } else {
            error.into()
        }
    };
    if !schema_exists {
        transaction
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {HISTORY_SCHEMA}"))
            .await
            .map_err(|e| missing_privilege(e, &format!("the schema {HISTORY_SCHEMA}")))?;
    }
    transaction
        .batch_execute(HISTORY_TABLE_DDL)
        .await
        .map_err(|e| missing_privilege(e, &format!("the table {HISTORY_SCHEMA}.applied_migrations")))?;
    Ok(())
}
