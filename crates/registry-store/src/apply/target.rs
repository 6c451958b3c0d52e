//! The target side of an apply or rollback: one bounded transaction under the target's apply
//! lock, with the target's own history table as the record of what ran.

use std::sync::atomic::{AtomicBool, Ordering};

use schema_model::environment::{ExistingObjects, GenerationInputs, RelationKind};
use schema_model::objects::TableObjects;
use schema_model::request::SchemaRequest;
use tokio_postgres::Transaction;

use super::DataAtRisk;
use super::lease::ApplyLimits;
use crate::connect::Endpoint;
use crate::error::{StoreError, describe, is_transient};
use crate::requests::StoredRequest;

/// Advisory lock key the registry takes on a target while it applies or rolls back (it
/// shows in `pg_locks` as objid/classid of this number).
pub const APPLY_LOCK: i64 = 0x7265_6769_7374_7279;

/// The target's history schema; [`ensure_history`] creates it only when it is missing, so a
/// target role without CREATE on the database can apply once a DBA made the schema.
pub const HISTORY_SCHEMA: &str = "schema_registry";

/// Rows counted at most when measuring what a rollback would destroy.
const COUNT_CAP: i64 = 1_000_000;

pub(crate) const HISTORY_TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_registry.applied_migrations (
    request_id  uuid PRIMARY KEY,
    file_name   text NOT NULL,
    checksum    text NOT NULL,
    applied_by  text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)";

/// How the target side of an operation failed.
#[derive(Debug)]
pub(crate) enum TargetFailure {
    /// Nothing was committed on the target.
    Definite(StoreError),
    /// COMMIT was sent and its answer never came: the target may or may not have committed.
    Unclear(StoreError),
}

/// Runs `work` in one transaction on the target, under the apply lock and with the history
/// table in place, and commits it; everything bounded by `limits`. `Ok` carries what `work`
/// returned after the target committed.
pub(crate) async fn run<T>(
    target_name: &str,
    endpoint: &Endpoint,
    limits: &ApplyLimits,
    work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, TargetFailure> {
    let commit_sent = AtomicBool::new(false);
    let attempt = async {
        let mut client = connect(target_name, endpoint, limits).await?;
        let transaction = client.transaction().await?;
        lock(&transaction, target_name, limits).await?;
        ensure_history(&transaction).await?;
        let result = work(&transaction).await?;
        commit_sent.store(true, Ordering::SeqCst);
        transaction.commit().await?;
        Ok::<T, StoreError>(result)
    };
    match tokio::time::timeout(limits.timeout, attempt).await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(error)) if commit_sent.load(Ordering::SeqCst) && !answered(&error) => Err(TargetFailure::Unclear(error)),
        Ok(Err(error)) => Err(TargetFailure::Definite(error)),
        Err(_) => {
            let error = StoreError::Busy(format!(
                "target \"{target_name}\" did not finish within {} s",
                limits.timeout.as_secs_f64()
            ));
            if commit_sent.load(Ordering::SeqCst) {
                Err(TargetFailure::Unclear(error))
            } else {
                Err(TargetFailure::Definite(error))
            }
        }
    }
}

/// Whether the server answered (a database error), as opposed to the connection failing.
fn answered(error: &StoreError) -> bool {
    !matches!(error, StoreError::Unavailable(_))
}

/// A connection to the target within the connect timeout (the startup exchange included,
/// which tokio-postgres's own timeout does not cover), with the operation's timeouts set.
pub(crate) async fn connect(
    target_name: &str,
    endpoint: &Endpoint,
    limits: &ApplyLimits,
) -> Result<tokio_postgres::Client, StoreError> {
    let bound = endpoint.config.get_connect_timeout().copied().unwrap_or(limits.timeout).min(limits.timeout);
    let client = tokio::time::timeout(bound, endpoint.connect()).await.map_err(|_| {
        StoreError::Unavailable(format!("target \"{target_name}\" did not answer within {} s", bound.as_secs_f64()))
    })??;
    let millis = limits.timeout.as_millis();
    // A transaction this process stops driving (a timeout) must not hold the target's locks.
    client
        .batch_execute(&format!(
            "SET statement_timeout = {millis}; SET idle_in_transaction_session_timeout = {millis}; \
             SET application_name = 'schema-registry-apply'"
        ))
        .await?;
    Ok(client)
}

/// The target's apply lock, waited for at most `limits.lock_wait`.
async fn lock(transaction: &Transaction<'_>, target_name: &str, limits: &ApplyLimits) -> Result<(), StoreError> {
    transaction.batch_execute(&format!("SET LOCAL lock_timeout = {}", limits.lock_wait.as_millis())).await?;
    match transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&APPLY_LOCK]).await {
        Ok(_) => Ok(()),
        Err(error) if error.as_db_error().is_some_and(|db| db.code().code() == "55P03") => {
            Err(StoreError::Busy(format!(
                "another session holds target \"{target_name}\"'s apply lock (another apply or rollback there) for longer \
             than {} s; nothing was changed, retry",
                limits.lock_wait.as_secs_f64()
            )))
        }
        Err(error) => Err(error.into()),
    }
}

/// A failure of the migration's own SQL: a lock or timeout is a retryable `Busy`, anything
/// else PostgreSQL's refusal.
pub(crate) fn sql_failure(target_name: &str, error: &tokio_postgres::Error) -> StoreError {
    if is_transient(error) {
        StoreError::Busy(format!("target \"{target_name}\": {}; nothing was changed, retry", describe(error)))
    } else {
        StoreError::MigrationFailed { target: target_name.to_owned(), message: describe(error) }
    }
}

/// The checksum the target's history records for the request, if it records one.
pub(crate) async fn recorded_checksum(transaction: &Transaction<'_>, id: &str) -> Result<Option<String>, StoreError> {
    let row = transaction
        .query_opt("SELECT checksum FROM schema_registry.applied_migrations WHERE request_id = $1::text::uuid", &[&id])
        .await?;
    Ok(row.map(|row| row.get(0)))
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

/// Every name the migration would create that the target already has, and every shared
/// type it does not have as the request declares it, each in a sentence.
pub(crate) fn names_in_the_way(
    model: &SchemaRequest,
    inputs: &GenerationInputs,
    live: &ExistingObjects,
) -> Vec<String> {
    let table = &model.schema_json;
    let schema = table.schema_name();
    let objects = TableObjects::of(model, &inputs.naming);
    let mut out = Vec::new();
    let describe = |name: &str| match live.relations.get(name) {
        Some(r) => match (&r.kind, &r.table) {
            (RelationKind::Index, Some(on)) => format!("an index on table {on}"),
            (kind, _) => format!("a {}", kind.word()),
        },
        None => "an object".to_owned(),
    };
    if live.relations.contains_key(&table.table_name) {
        out.push(format!(
            "{schema}.{} already exists there ({}) and was not created by this request",
            table.table_name,
            describe(&table.table_name)
        ));
    }
    let mut relations: Vec<&str> = objects.indexes.iter().map(|i| i.name.as_str()).collect();
    relations.extend(objects.primary_key.iter().map(|p| p.name.as_str()));
    relations.extend(objects.uniques.iter().map(|u| u.name.as_str()));
    for name in relations {
        if live.relations.contains_key(name) {
            out.push(format!("the name {schema}.{name} is taken there by {}", describe(name)));
        }
    }
    for name in objects.foreign_keys.iter().map(|f| &f.name).chain(objects.checks.iter().map(|c| &c.name)) {
        if let Some(other) = live.constraints.get(name).and_then(|list| list.first()) {
            out.push(format!("the constraint name {name} is taken there by table {}", other.table));
        }
    }
    for declared in &table.enums {
        let found = live.types.get(&declared.name);
        if inputs.shared_enums.contains(&declared.name) {
            if found.and_then(|t| t.enum_values.as_ref()) != Some(&declared.values) {
                out.push(format!(
                    "the shared enum type {schema}.{} is not there with the labels [{}]",
                    declared.name,
                    declared.values.join(", ")
                ));
            }
        } else if found.is_some() {
            out.push(format!("the type {schema}.{} already exists there", declared.name));
        }
    }
    out
}

/// Rows the down migration would destroy: the table's rows (counted up to the cap). With
/// `lock`, the table is locked first (in the transaction that will drop it).
pub(crate) async fn measure_data_at_risk(
    client: &impl tokio_postgres::GenericClient,
    request: &StoredRequest,
    lock: bool,
) -> Result<DataAtRisk, StoreError> {
    let (schema, table) = (&request.table_schema, &request.table_name);
    let exists: bool = client
        .query_one("SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL", &[schema, table])
        .await?
        .get(0);
    let mut at_risk = DataAtRisk::default();
    if !exists {
        return Ok(at_risk);
    }
    let qualified = ddl_gen::pg::qualified(Some(schema), table);
    if lock {
        // Within the apply lock's transaction, so its lock timeout bounds the wait.
        client.batch_execute(&format!("LOCK TABLE {qualified} IN ACCESS EXCLUSIVE MODE")).await?;
    }
    let rows: i64 = client
        .query_one(&format!("SELECT count(*) FROM (SELECT 1 FROM {qualified} LIMIT {}) AS sample", COUNT_CAP + 1), &[])
        .await?
        .get(0);
    at_risk.capped = rows > COUNT_CAP;
    at_risk.rows.insert(format!("{schema}.{table}"), rows.min(COUNT_CAP));
    Ok(at_risk)
}

/// Counts what a rollback would destroy, on a connection of its own within `limits`.
pub(crate) async fn data_at_risk(
    target_name: &str,
    endpoint: &Endpoint,
    limits: &ApplyLimits,
    request: &StoredRequest,
) -> Result<DataAtRisk, StoreError> {
    let count = async {
        let client = connect(target_name, endpoint, limits).await?;
        measure_data_at_risk(&client, request, false).await
    };
    tokio::time::timeout(limits.timeout, count).await.map_err(|_| {
        StoreError::Busy(format!("target \"{target_name}\" did not answer within {} s", limits.timeout.as_secs_f64()))
    })?
}
