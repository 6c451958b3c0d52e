//! The target side of a change to a managed table: its steps, each in a transaction of its
//! own or alone, with every finished step recorded on the target
//! (`schema_registry.applied_steps`), so that an apply interrupted between two steps (a
//! crash, `kill -9`, a lock timeout) resumes at the first unfinished one and never runs a
//! finished one again. The whole run holds the target's apply lock (a session lock, taken
//! with a bounded wait). A step that meets a lock held elsewhere past `lock_timeout` is
//! tried again a few times with a growing pause before the apply gives up (retryably).

use std::time::Duration;

use registry_core::drift::Difference;
use schema_model::change::{Change, Step, TransactionMode};
use schema_model::naming::NamingOptions;
use schema_model::table::TableSchema;

use super::target::{APPLY_LOCK, TargetFailure};
use super::{ApplyLimits, DataAtRisk};
use crate::connect::Endpoint;
use crate::error::{StoreError, describe, is_transient};
use crate::store::Store;

/// The first pause between two tries of a step that met a lock timeout (doubled each time).
const FIRST_PAUSE: Duration = Duration::from_millis(500);

const STEPS_TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_registry.applied_steps (
    request_id  uuid NOT NULL,
    direction   text NOT NULL,
    step        integer NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, direction, step)
)";

/// Which way a change runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Up,
    Down,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// What a run needs besides the steps.
pub(crate) struct Run<'a> {
    pub(crate) target: &'a str,
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) limits: &'a ApplyLimits,
    pub(crate) id: &'a str,
    pub(crate) checksum: &'a str,
    pub(crate) file_name: &'a str,
    pub(crate) by: &'a str,
    pub(crate) direction: Direction,
    pub(crate) steps: &'a [Step],
    /// The table before the steps (drift is checked against it before the first one).
    pub(crate) before: &'a TableSchema,
    /// The table the steps must leave.
    pub(crate) after: &'a TableSchema,
    pub(crate) naming: &'a NamingOptions,
    /// For the way back: the columns its steps drop (values at risk), and whether losing
    /// them was approved.
    pub(crate) drops: Vec<String>,
    pub(crate) loss_approved: bool,
}

/// Runs the steps not yet recorded; `Ok` says whether any ran and, for the way back, what
/// it dropped.
pub(crate) async fn run(store: &Store, run: &Run<'_>) -> Result<(bool, DataAtRisk), TargetFailure> {
    let definite = TargetFailure::Definite;
    let client = super::target::connect(run.target, run.endpoint, run.limits).await.map_err(definite)?;
    lock(&client, run).await.map_err(definite)?;
    let result = run_locked(store, &client, run).await;
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&APPLY_LOCK]).await;
    result
}

/// The target's apply lock for the whole run, waited for at most `lock_wait`.
async fn lock(client: &tokio_postgres::Client, run: &Run<'_>) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + run.limits.lock_wait;
    loop {
        let got: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&APPLY_LOCK]).await?.get(0);
        if got {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Busy(format!(
                "another session holds target \"{}\"'s apply lock (another apply or rollback there) for longer than \
                 {} s; nothing was changed, retry",
                run.target,
                run.limits.lock_wait.as_secs_f64()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run_locked(
    store: &Store,
    client: &tokio_postgres::Client,
    run: &Run<'_>,
) -> Result<(bool, DataAtRisk), TargetFailure> {
    let definite = TargetFailure::Definite;
    ensure_tables(client).await.map_err(definite)?;
    let history = client
        .query_opt(
            "SELECT checksum FROM schema_registry.applied_migrations WHERE request_id = $1::text::uuid",
            &[&run.id],
        )
        .await
        .map_err(|e| definite(e.into()))?;
    match (run.direction, history) {
        (Direction::Up, Some(row)) => {
            let recorded: String = row.get(0);
            if recorded != run.checksum {
                return Err(definite(StoreError::Divergent {
                    target: run.target.to_owned(),
                    message: format!("checksum {recorded} there, {} here", run.checksum),
                }));
            }
            return Ok((false, DataAtRisk::default()));
        }
        (Direction::Down, None) => return Ok((false, DataAtRisk::default())),
        _ => {}
    }
    let done: Vec<i32> = client
        .query(
            "SELECT step FROM schema_registry.applied_steps WHERE request_id = $1::text::uuid AND direction = $2",
            &[&run.id, &run.direction.as_str()],
        )
        .await
        .map_err(|e| definite(e.into()))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut lost = DataAtRisk::default();
    if done.is_empty() {
        // Nothing of this run happened yet: the table must be the version the steps start from.
        let differences = drift(client, run.before, run.naming).await.map_err(definite)?;
        if !differences.is_empty() {
            return Err(definite(StoreError::Drift { target: run.target.to_owned(), differences }));
        }
        if !run.drops.is_empty() {
            lost = values_at_risk(client, run.before, &run.drops).await.map_err(definite)?;
            if !lost.is_empty() && !run.loss_approved {
                return Err(definite(StoreError::DataLoss { target: run.target.to_owned(), at_risk: lost }));
            }
        }
    }
    let mut ran = false;
    for (i, step) in run.steps.iter().enumerate() {
        let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
        if done.contains(&number) {
            continue;
        }
        store.still_holding(run.id).await.map_err(definite)?;
        run_step(client, run, number, step).await.map_err(definite)?;
        ran = true;
        let action = match run.direction {
            Direction::Up => "apply",
            Direction::Down => "rollback",
        };
        store.inner.operations.fault(&format!("{action}:step-{number}-done")).map_err(definite)?;
    }
    finish(client, run).await?;
    Ok((ran || !done.is_empty(), lost))
}

async fn ensure_tables(client: &tokio_postgres::Client) -> Result<(), StoreError> {
    let row = client
        .query_one(
            "SELECT to_regnamespace('schema_registry') IS NOT NULL,
                    to_regclass('schema_registry.applied_migrations') IS NOT NULL,
                    to_regclass('schema_registry.applied_steps') IS NOT NULL",
            &[],
        )
        .await?;
    let (schema, history, steps): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if !schema {
        client.batch_execute("CREATE SCHEMA IF NOT EXISTS schema_registry").await.map_err(missing_privilege)?;
    }
    if !history {
        client.batch_execute(super::target::HISTORY_TABLE_DDL).await.map_err(missing_privilege)?;
    }
    if !steps {
        client.batch_execute(STEPS_TABLE_DDL).await.map_err(missing_privilege)?;
    }
    Ok(())
}

fn missing_privilege(error: tokio_postgres::Error) -> StoreError {
    if error.as_db_error().is_some_and(|db| db.code().code() == "42501") {
        StoreError::MigrationFailed {
            target: String::new(),
            message: "the target role may not create the registry's history of this target; create it once as an \
                      administrator: CREATE SCHEMA schema_registry AUTHORIZATION <target role>"
                .to_owned(),
        }
    } else {
        error.into()
    }
}

/// How the live table differs from `expected`.
async fn drift(
    client: &tokio_postgres::Client,
    expected: &TableSchema,
    naming: &NamingOptions,
) -> Result<Vec<Difference>, StoreError> {
    let live = pg_introspect::read::table(client, expected.schema_name(), &expected.table_name).await?;
    let Some(live) = live else {
        return Ok(vec![Difference::missing_table(expected.schema_name(), &expected.table_name)]);
    };
    Ok(registry_core::drift::differences(expected, &live.to_model().table, naming))
}

/// [`values_at_risk`] on a connection of its own, within the limits.
pub(crate) async fn values_at_risk_on(
    target: &str,
    endpoint: &Endpoint,
    limits: &ApplyLimits,
    table: &TableSchema,
    columns: &[String],
) -> Result<DataAtRisk, StoreError> {
    if columns.is_empty() {
        return Ok(DataAtRisk::default());
    }
    let run = async {
        let client = endpoint.connect().await?;
        values_at_risk(&client, &table.without_renames(), columns).await
    };
    tokio::time::timeout(limits.timeout, run).await.map_err(|_| {
        StoreError::Busy(format!("target \"{target}\" did not answer within {} s", limits.timeout.as_secs_f64()))
    })?
}

/// Non-NULL values in the columns the way back drops.
async fn values_at_risk(
    client: &tokio_postgres::Client,
    table: &TableSchema,
    columns: &[String],
) -> Result<DataAtRisk, StoreError> {
    let qualified = ddl_gen::pg::qualified(Some(table.schema_name()), &table.table_name);
    let mut at_risk = DataAtRisk::default();
    for column in columns {
        let count: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM (SELECT 1 FROM {qualified} WHERE {} IS NOT NULL LIMIT 1000001) AS sample",
                    ddl_gen::pg::quote_ident(column)
                ),
                &[],
            )
            .await?
            .get(0);
        at_risk.capped |= count > 1_000_000;
        at_risk.rows.insert(format!("{}.{}.{column}", table.schema_name(), table.table_name), count.min(1_000_000));
    }
    Ok(at_risk)
}

/// One step, recorded when it finished; a lock timeout is tried again after a pause.
async fn run_step(client: &tokio_postgres::Client, run: &Run<'_>, number: i32, step: &Step) -> Result<(), StoreError> {
    let mut pause = FIRST_PAUSE;
    let tries = run.limits.step_tries.max(1);
    for attempt in 1..=tries {
        let result = match step.mode {
            TransactionMode::Transaction => transactional(client, run, number, step).await,
            TransactionMode::Alone => alone(client, run, number, step).await,
        };
        match result {
            Ok(()) => return Ok(()),
            Err(error) if error.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) => {
                // The statement ran into the target session's statement timeout: trying again
                // would take as long again (and an index build starts over).
                return Err(StoreError::Busy(format!(
                    "step {number} ({}) of the change on target \"{}\" was cancelled: it ran into the apply timeout \
                     ({} s; a table this large needs a longer one, apply_timeout_seconds) or someone cancelled it; \
                     the steps before it are done, apply again to go on{}",
                    step.description,
                    run.target,
                    run.limits.timeout.as_secs_f64(),
                    left_invalid(client, run, step).await
                )));
            }
            Err(error) if is_transient(&error) && attempt < tries => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(error) if is_transient(&error) => {
                return Err(StoreError::Busy(format!(
                    "step {number} ({}) of the change on target \"{}\" met {} {tries} times; the steps before it \
                     are done, apply again to go on{}",
                    step.description,
                    run.target,
                    describe(&error),
                    left_invalid(client, run, step).await
                )));
            }
            Err(error) => {
                return Err(StoreError::MigrationFailed {
                    target: run.target.to_owned(),
                    message: format!(
                        "step {number} ({}) failed: {}; the steps before it are done",
                        step.description,
                        describe(&error)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// For a step that runs alone and gave up: the indexes of the table it leaves invalid, said
/// in words. `DROP INDEX CONCURRENTLY` commits the index's invalidation before it waits for
/// the table's users, and an interrupted `CREATE INDEX CONCURRENTLY` leaves its index behind:
/// either way the index is no longer used by queries but still maintained by every write,
/// until the step runs again (or someone rebuilds it).
async fn left_invalid(client: &tokio_postgres::Client, run: &Run<'_>, step: &Step) -> String {
    if step.mode != TransactionMode::Alone {
        return String::new();
    }
    let invalid = client
        .query(
            "SELECT c.relname::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = to_regclass($1) AND NOT i.indisvalid ORDER BY 1",
            &[&ddl_gen::pg::qualified(Some(run.before.schema_name()), &run.before.table_name)],
        )
        .await;
    match invalid {
        Ok(rows) if !rows.is_empty() => {
            let names: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
            format!(
                "; meanwhile the table has invalid indexes ({}): queries do not use them and writes still maintain \
                 them until the step finishes",
                names.join(", ")
            )
        }
        _ => String::new(),
    }
}

async fn transactional(
    client: &tokio_postgres::Client,
    run: &Run<'_>,
    number: i32,
    step: &Step,
) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!("BEGIN; SET LOCAL lock_timeout = {}", run.limits.table_lock_timeout.as_millis()))
        .await?;
    let result = async {
        client.batch_execute(&step.sql).await?;
        record(client, run, number).await
    }
    .await;
    match result {
        Ok(()) => client.batch_execute("COMMIT").await,
        Err(error) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(error)
        }
    }
}

async fn alone(
    client: &tokio_postgres::Client,
    run: &Run<'_>,
    number: i32,
    step: &Step,
) -> Result<(), tokio_postgres::Error> {
    let applies = match &step.only_if {
        Some(condition) => client.query_one(&format!("SELECT ({condition})"), &[]).await?.get::<_, bool>(0),
        None => true,
    };
    if applies {
        if let Some((schema, index)) = &step.rebuilds_invalid_index {
            let invalid = client.query_opt(&ddl_gen::alter::invalid_index_query(schema, index), &[]).await?.is_some();
            if invalid {
                client
                    .batch_execute(&format!(
                        "DROP INDEX CONCURRENTLY IF EXISTS {}",
                        ddl_gen::pg::qualified(Some(schema), index)
                    ))
                    .await?;
            }
        }
        client.batch_execute(&format!("SET lock_timeout = {}", run.limits.table_lock_timeout.as_millis())).await?;
        let result = client.batch_execute(&step.sql).await;
        let _ = client.batch_execute("RESET lock_timeout").await;
        result?;
    }
    record(client, run, number).await
}

async fn record(client: &tokio_postgres::Client, run: &Run<'_>, number: i32) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO schema_registry.applied_steps (request_id, direction, step) VALUES ($1::text::uuid, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&run.id, &run.direction.as_str(), &number],
        )
        .await?;
    Ok(())
}

/// The last transaction: the table must be what the steps promised; then the history row
/// (way up) or its removal with the step records (way back).
async fn finish(client: &tokio_postgres::Client, run: &Run<'_>) -> Result<(), TargetFailure> {
    let definite = TargetFailure::Definite;
    let mut differences = drift(client, run.after, run.naming).await.map_err(definite)?;
    if run.direction == Direction::Down {
        // PostgreSQL cannot remove enum labels: the ones the change added stay.
        differences.retain(|d| !d.change.starts_with("remove value"));
    }
    if !differences.is_empty() {
        let differences = differences
            .into_iter()
            .map(|d| format!("{}: expected {}, found {}", d.object, d.expected, d.live))
            .collect();
        return Err(definite(StoreError::Verification { target: run.target.to_owned(), differences }));
    }
    let sql = match run.direction {
        Direction::Up => format!(
            "INSERT INTO schema_registry.applied_migrations (request_id, file_name, checksum, applied_by) VALUES \
             ({}, {}, {}, {})",
            ddl_gen::pg::string_literal(run.id),
            ddl_gen::pg::string_literal(run.file_name),
            ddl_gen::pg::string_literal(run.checksum),
            ddl_gen::pg::string_literal(run.by)
        ),
        Direction::Down => format!(
            "DELETE FROM schema_registry.applied_migrations WHERE request_id = {id}; \
             DELETE FROM schema_registry.applied_steps WHERE request_id = {id}",
            id = ddl_gen::pg::string_literal(run.id)
        ),
    };
    match client.batch_execute(&format!("BEGIN; {sql}; COMMIT")).await {
        Ok(()) => Ok(()),
        Err(error) if error.as_db_error().is_none() => Err(TargetFailure::Unclear(error.into())),
        Err(error) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(definite(error.into()))
        }
    }
}

/// The columns the way back of `changes` drops: those the change added.
pub(crate) fn added_columns(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|change| match change {
            Change::AddColumn { column, .. } => Some(column.name.clone()),
            _ => None,
        })
        .collect()
}
