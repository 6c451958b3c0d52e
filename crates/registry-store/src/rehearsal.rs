//! Rehearsal: PostgreSQL itself says whether it accepts a migration, before anyone reviews
//! it.
//!
//! In a scratch database, inside one transaction that is always rolled back, the tables the
//! request's foreign keys reference and the enum types it shares are created first, then
//! the up migration runs, every constant default is evaluated the way an insert evaluates
//! it (a column too short for its default fails only then), the table is read back and
//! compared with the request, and the down migration runs and must leave nothing behind.
//! PostgreSQL's refusal at any step becomes an error violation with its own message and
//! SQLSTATE. What the catalog showed after the up migration is kept: an apply compares the
//! live table with it before COMMIT.

use std::fmt::Write as _;

use schema_model::environment::GenerationInputs;
use schema_model::expr::{ExprContext, parse_safe};
use schema_model::objects::TableObjects;
use schema_model::request::SchemaRequest;
use schema_model::table::{Column, TableSchema, UniqueConstraint};
use schema_model::violation::{MigrationPreview, Severity, Violation};

use pg_introspect::live::LiveTable;

use crate::error::StoreError;

/// The rule id of PostgreSQL's refusals.
pub const REFUSED_RULE: &str = "postgres.refused";
/// The rule id of a table that PostgreSQL made differently from the request.
pub const MISMATCH_RULE: &str = "postgres.mismatch";
/// The rule id of what could not be rehearsed faithfully.
pub const INCOMPLETE_RULE: &str = "postgres.rehearsal-incomplete";

/// What exists around the table, to be created before the migration runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stage {
    /// Enum types the migration shares: (schema, name, labels).
    pub shared_enums: Vec<(String, String, Vec<String>)>,
    /// The tables its foreign keys reference, as the catalog or the target has them.
    pub referenced: Vec<TableSchema>,
    /// Referenced tables found nowhere: rehearsed against a stand-in (the command line), or
    /// an error (the server, which knows the target).
    pub missing: Vec<(String, String)>,
    /// Whether missing referenced tables get a stand-in instead of an error.
    pub stand_ins: bool,
}

impl Stage {
    /// A stage for a request checked without a registry: every table its foreign keys
    /// reference is a stand-in.
    pub fn with_stand_ins(request: &SchemaRequest, inputs: &GenerationInputs) -> Self {
        let table = &request.schema_json;
        let schema = table.schema_name();
        let mut missing: Vec<(String, String)> = TableObjects::of(request, &inputs.naming)
            .foreign_keys
            .iter()
            .map(|fk| (fk.referenced_schema.clone().unwrap_or_else(|| schema.to_owned()), fk.referenced_table.clone()))
            .filter(|(s, t)| !(s == schema && *t == table.table_name))
            .collect();
        missing.sort();
        missing.dedup();
        Self { missing, stand_ins: true, ..Self::default() }
    }
}

/// What the rehearsal found.
#[derive(Debug, Clone, PartialEq)]
pub struct Rehearsal {
    /// PostgreSQL's refusals and any difference from the request (errors), or notes.
    pub violations: Vec<Violation>,
    /// The table as the catalog showed it after the up migration, when it ran.
    pub expected: Option<LiveTable>,
}

/// Runs the rehearsal on `client` (a scratch database where the role may create schemas,
/// types, tables and temporary tables). Nothing it does is committed.
pub async fn rehearse(
    client: &mut tokio_postgres::Client,
    request: &SchemaRequest,
    preview: &MigrationPreview,
    inputs: &GenerationInputs,
    stage: &Stage,
) -> Result<Rehearsal, StoreError> {
    let transaction = client.transaction().await?;
    let result = run(&transaction, request, preview, inputs, stage).await;
    // Never committed, whatever happened.
    let _ = transaction.rollback().await;
    result
}

async fn run(
    transaction: &tokio_postgres::Transaction<'_>,
    request: &SchemaRequest,
    preview: &MigrationPreview,
    inputs: &GenerationInputs,
    stage: &Stage,
) -> Result<Rehearsal, StoreError> {
    let table = &request.schema_json;
    let schema = table.schema_name();
    let root = request.table_path().to_owned();
    let mut violations = Vec::new();
    transaction
        .batch_execute(
            "SET LOCAL statement_timeout = '15s'; SET LOCAL lock_timeout = '5s'; SET LOCAL search_path = public",
        )
        .await?;

    // The stage: schemas, shared types, referenced tables (or stand-ins).
    let mut schemas: Vec<&str> = vec![schema];
    schemas.extend(stage.referenced.iter().map(TableSchema::schema_name));
    schemas.extend(stage.shared_enums.iter().map(|(s, _, _)| s.as_str()));
    schemas.extend(stage.missing.iter().map(|(s, _)| s.as_str()));
    schemas.sort_unstable();
    schemas.dedup();
    for name in schemas {
        let sql = format!("CREATE SCHEMA IF NOT EXISTS {}", ddl_gen::pg::quote_ident(name));
        if let Err(error) = transaction.batch_execute(&sql).await {
            return Err(setup_error(&error, &sql));
        }
    }
    for (type_schema, name, labels) in &stage.shared_enums {
        let sql = ddl_gen::pg::create_enum_guarded(Some(type_schema), name, labels);
        if let Err(error) = transaction.batch_execute(&sql).await {
            return Err(setup_error(&error, &sql));
        }
    }
    let mut referenced: Vec<TableSchema> = stage.referenced.iter().map(without_foreign_keys).collect();
    for (table_schema, table_name) in &stage.missing {
        if stage.stand_ins {
            referenced.push(stand_in(request, table_schema, table_name));
            violations.push(Violation {
                severity: Severity::Warning,
                message: format!(
                    "Table {table_schema}.{table_name}, which a foreign key references, was not known here; the rehearsal used a stand-in with the referenced columns"
                ),
                suggestion: "Rehearse against the registry (POST /api/validate), which knows the target's tables".to_owned(),
                rule: INCOMPLETE_RULE.to_owned(),
                path: root.clone(),
            });
        } else {
            violations.push(Violation {
                severity: Severity::Error,
                message: format!(
                    "Table {table_schema}.{table_name}, which a foreign key references, exists neither on the target nor in the registry's catalog"
                ),
                suggestion: "Create or request the referenced table first, or correct the reference".to_owned(),
                rule: REFUSED_RULE.to_owned(),
                path: root.clone(),
            });
        }
    }
    if violations.iter().any(|v| v.severity == Severity::Error) {
        return Ok(Rehearsal { violations, expected: None });
    }
    for other in &referenced {
        let wrapper = SchemaRequest::from_value(serde_json::to_value(other).unwrap_or_default())
            .map_err(|e| StoreError::Internal(format!("a referenced table's definition does not read back: {e}")))?;
        let migration = ddl_gen::generate(&wrapper, &inputs.naming)
            .map_err(|e| StoreError::Internal(format!("a referenced table cannot be generated: {e}")))?;
        let body = ddl_gen::pg::transaction_body(&migration.up_sql).unwrap_or_default();
        if let Err(error) = transaction.batch_execute(body).await {
            return Err(setup_error(&error, body));
        }
    }

    // The migration itself.
    let up = ddl_gen::pg::transaction_body(&preview.up_sql)
        .ok_or_else(|| StoreError::Internal("the up migration is not a registry transaction".to_owned()))?;
    if let Err(error) = transaction.batch_execute(up).await {
        violations.push(refusal(&error, "the up migration", up, request)?);
        return Ok(Rehearsal { violations, expected: None });
    }
    violations.extend(probe_defaults(transaction, request).await?);
    transaction.batch_execute("SET LOCAL search_path = public").await?;
    let expected = pg_introspect::read::table(transaction, schema, &table.table_name).await?;
    let Some(expected) = expected else {
        violations.push(Violation {
            severity: Severity::Error,
            message: format!("The up migration ran, yet table {schema}.{} does not exist afterwards", table.table_name),
            suggestion: "Report this: the generated SQL does not create the table it should".to_owned(),
            rule: MISMATCH_RULE.to_owned(),
            path: root,
        });
        return Ok(Rehearsal { violations, expected: None });
    };
    for difference in pg_introspect::compare::conformance(request, inputs, &expected) {
        violations.push(Violation {
            severity: Severity::Error,
            message: format!("PostgreSQL made the table differently from the request: {difference}"),
            suggestion: "Report this: the generated SQL does not say what the request says".to_owned(),
            rule: MISMATCH_RULE.to_owned(),
            path: root.clone(),
        });
    }

    let down = ddl_gen::pg::transaction_body(&preview.down_sql)
        .ok_or_else(|| StoreError::Internal("the down migration is not a registry transaction".to_owned()))?;
    if let Err(error) = transaction.batch_execute(down).await {
        violations.push(refusal(&error, "the down migration", down, request)?);
        return Ok(Rehearsal { violations, expected: Some(expected) });
    }
    let left: bool = transaction
        .query_one("SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL", &[&schema, &table.table_name])
        .await?
        .get(0);
    if left {
        violations.push(Violation {
            severity: Severity::Error,
            message: format!("The down migration left table {schema}.{} behind", table.table_name),
            suggestion: "Report this: the generated down migration does not undo the up migration".to_owned(),
            rule: MISMATCH_RULE.to_owned(),
            path: root,
        });
    }
    Ok(Rehearsal { violations, expected: Some(expected) })
}

/// Every constant-free or constant default, evaluated as an insert evaluates it (an
/// assignment to the column's type): one temporary table with the defaulted columns, one
/// row of defaults; on failure, column by column to say which one.
async fn probe_defaults(
    transaction: &tokio_postgres::Transaction<'_>,
    request: &SchemaRequest,
) -> Result<Vec<Violation>, StoreError> {
    let table = &request.schema_json;
    let mut probes: Vec<(usize, String)> = Vec::new();
    for (i, column) in table.columns.iter().enumerate() {
        let Some(default) = &column.default_value else { continue };
        if column.identity.is_some() || column.column_type.is_serial() {
            continue;
        }
        let Ok(vetted) = parse_safe(default, ExprContext::Default) else { continue };
        let type_sql = ddl_gen::type_sql(table.schema_name(), &column.column_type);
        probes.push((i, format!("{} {type_sql} DEFAULT ({})", ddl_gen::pg::quote_ident(&column.name), vetted.sql)));
    }
    if probes.is_empty() {
        return Ok(Vec::new());
    }
    let probe = |columns: &[String]| {
        format!(
            "CREATE TEMP TABLE registry_rehearsal_defaults ({}) ON COMMIT DROP;
             INSERT INTO registry_rehearsal_defaults DEFAULT VALUES;
             DROP TABLE registry_rehearsal_defaults",
            columns.join(", ")
        )
    };
    let all: Vec<String> = probes.iter().map(|(_, sql)| sql.clone()).collect();
    transaction.batch_execute("SAVEPOINT registry_defaults").await?;
    match transaction.batch_execute(&probe(&all)).await {
        Ok(()) => {
            transaction.batch_execute("RELEASE SAVEPOINT registry_defaults").await?;
            return Ok(Vec::new());
        }
        Err(error) if crate::error::is_transient(&error) => return Err(unfinished(&error)),
        Err(_) => {}
    }
    transaction.batch_execute("ROLLBACK TO SAVEPOINT registry_defaults").await?;
    let mut violations = Vec::new();
    for (i, sql) in &probes {
        let column: &Column = &table.columns[*i];
        if let Err(error) = transaction.batch_execute(&probe(std::slice::from_ref(sql))).await {
            if crate::error::is_transient(&error) {
                return Err(unfinished(&error));
            }
            let (code, message) = sqlstate_and_message(&error);
            violations.push(Violation {
                severity: Severity::Error,
                message: format!(
                    "PostgreSQL refuses the default of column \"{}\" when a row uses it (SQLSTATE {code}): {message}",
                    column.name
                ),
                suggestion: "Use a default the column can hold; every insert that relies on this one would fail"
                    .to_owned(),
                rule: REFUSED_RULE.to_owned(),
                path: schema_model::request::join_path(request.table_path(), &format!("columns[{i}].defaultValue")),
            });
        }
        transaction.batch_execute("ROLLBACK TO SAVEPOINT registry_defaults").await?;
    }
    transaction.batch_execute("RELEASE SAVEPOINT registry_defaults").await?;
    Ok(violations)
}

/// A referenced table without its own foreign keys (only it is needed, not its neighbours).
fn without_foreign_keys(table: &TableSchema) -> TableSchema {
    let mut table = table.clone();
    table.foreign_keys.clear();
    for column in &mut table.columns {
        column.references = None;
    }
    table
}

/// A stand-in for a referenced table nobody knows: the referenced columns, typed like the
/// columns that reference them, unique together.
fn stand_in(request: &SchemaRequest, schema: &str, name: &str) -> TableSchema {
    let table = &request.schema_json;
    let objects = TableObjects::of(request, &schema_model::naming::NamingOptions::default());
    let mut columns: Vec<Column> = Vec::new();
    let mut uniques = Vec::new();
    for fk in objects.foreign_keys.iter().filter(|fk| {
        fk.referenced_table == name && fk.referenced_schema.as_deref().unwrap_or(table.schema_name()) == schema
    }) {
        for (referencing, referenced) in fk.columns.iter().zip(&fk.referenced_columns) {
            if columns.iter().any(|c| &c.name == referenced) {
                continue;
            }
            let column_type =
                table.column(referencing).map_or(schema_model::types::ColumnType::Text, |c| match &c.column_type {
                    t if t.is_serial() => schema_model::types::ColumnType::Integer,
                    t => t.clone(),
                });
            columns.push(Column::new(referenced.clone(), column_type));
        }
        uniques.push(UniqueConstraint { name: None, columns: fk.referenced_columns.clone(), renamed_from: None });
    }
    TableSchema {
        schema: Some(schema.to_owned()),
        table_name: name.to_owned(),
        columns,
        indexes: Vec::new(),
        primary_key: Vec::new(),
        foreign_keys: Vec::new(),
        checks: Vec::new(),
        uniques,
        enums: table.enums.clone(),
        comment: None,
        renamed_from: None,
        primary_key_name: None,
    }
}

fn sqlstate_and_message(error: &tokio_postgres::Error) -> (String, String) {
    match error.as_db_error() {
        Some(db) => {
            let mut message = db.message().to_owned();
            if let Some(detail) = db.detail() {
                let _ = write!(message, " ({detail})");
            }
            if let Some(hint) = db.hint() {
                let _ = write!(message, "; hint: {hint}");
            }
            (db.code().code().to_owned(), message)
        }
        None => ("-----".to_owned(), error.to_string()),
    }
}

/// A rehearsal that met a fault of the moment (no answer, a lock another rehearsal of the
/// same names held too long, a timeout): the submission is not judged; the caller may retry.
fn unfinished(error: &tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "the rehearsal could not finish ({}); nothing was stored, submit again",
        crate::error::describe(error)
    ))
}

/// PostgreSQL's refusal of a migration as an error violation: its message and SQLSTATE, the
/// statement it refused, and the column it names when it names one of the table's. A fault
/// that says nothing about the migration is an error of the store instead.
fn refusal(
    error: &tokio_postgres::Error,
    what: &str,
    script: &str,
    request: &SchemaRequest,
) -> Result<Violation, StoreError> {
    if crate::error::is_transient(error) {
        return Err(unfinished(error));
    }
    let (code, message) = sqlstate_and_message(error);
    let statement = error
        .as_db_error()
        .and_then(|db| match db.position() {
            Some(tokio_postgres::error::ErrorPosition::Original(at)) => usize::try_from(*at).ok(),
            _ => None,
        })
        .and_then(|at| statement_at(script, at.saturating_sub(1)))
        .map(|s| format!("; in: {}", shorten(&s.split_whitespace().collect::<Vec<_>>().join(" "), 300)))
        .unwrap_or_default();
    let table = &request.schema_json;
    let path = table.columns.iter().position(|c| message.contains(&format!("column \"{}\"", c.name))).map_or_else(
        || request.table_path().to_owned(),
        |i| schema_model::request::join_path(request.table_path(), &format!("columns[{i}]")),
    );
    Ok(Violation {
        severity: Severity::Error,
        message: format!("PostgreSQL refuses {what} (SQLSTATE {code}): {message}{statement}"),
        suggestion: "Change the definition so that PostgreSQL accepts it; its message says what it objects to"
            .to_owned(),
        rule: REFUSED_RULE.to_owned(),
        path,
    })
}

/// The statement of `script` (statements end with `;\n`) that holds byte `at`.
fn statement_at(script: &str, at: usize) -> Option<String> {
    let mut start = 0;
    for piece in script.split_inclusive(";\n") {
        let end = start + piece.len();
        if at < end {
            return Some(piece.trim().to_owned());
        }
        start = end;
    }
    None
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A failure while setting the stage is the registry's, not the request's.
fn setup_error(error: &tokio_postgres::Error, sql: &str) -> StoreError {
    StoreError::Internal(format!(
        "the rehearsal could not prepare its database ({}) running: {}",
        crate::error::describe(error),
        shorten(sql, 200)
    ))
}

/// Rehearses a change to a managed table: in a transaction that is always rolled back, the
/// current version is created (with stand-ins for the tables its foreign keys reference and
/// its enum types), the steps up run (an index that the apply builds concurrently is built
/// plainly here, inside the transaction), the table is read back and must be the new
/// definition; then the steps back run and it must be the current version again (but for
/// enum labels, which PostgreSQL cannot remove). PostgreSQL's refusal of a step is an error
/// violation with its message and SQLSTATE.
pub async fn rehearse_change(
    client: &mut tokio_postgres::Client,
    current: &TableSchema,
    inputs: &GenerationInputs,
    request: &SchemaRequest,
    steps: &schema_model::change::StepPlan,
) -> Result<Vec<Violation>, StoreError> {
    let transaction = client.transaction().await?;
    let result = run_change(&transaction, current, inputs, request, steps).await;
    let _ = transaction.rollback().await;
    result
}

async fn run_change(
    transaction: &tokio_postgres::Transaction<'_>,
    current: &TableSchema,
    inputs: &GenerationInputs,
    request: &SchemaRequest,
    steps: &schema_model::change::StepPlan,
) -> Result<Vec<Violation>, StoreError> {
    let root = request.table_path().to_owned();
    let new = &request.schema_json;
    transaction
        .batch_execute(
            "SET LOCAL statement_timeout = '15s'; SET LOCAL lock_timeout = '5s'; SET LOCAL search_path = public",
        )
        .await?;
    // The current version, with stand-ins for what its foreign keys (and the new ones)
    // reference.
    let current_request = SchemaRequest::from_value(serde_json::to_value(current).unwrap_or_default())
        .map_err(|e| StoreError::Internal(format!("the current version does not read back: {e}")))?;
    let mut stand_ins: Vec<(String, String, TableSchema)> = Vec::new();
    for source in [&current_request, request] {
        for (schema, name) in Stage::with_stand_ins(source, inputs).missing {
            let known = stand_ins.iter().any(|(s, n, _)| *s == schema && *n == name);
            let itself = name == current.table_name && schema == current.schema_name();
            if !known && !itself {
                let table = stand_in(source, &schema, &name);
                stand_ins.push((schema, name, table));
            }
        }
    }
    let mut schemas: Vec<&str> = vec![current.schema_name()];
    schemas.extend(stand_ins.iter().map(|(s, _, _)| s.as_str()));
    schemas.sort_unstable();
    schemas.dedup();
    for name in schemas {
        let sql = format!("CREATE SCHEMA IF NOT EXISTS {}", ddl_gen::pg::quote_ident(name));
        transaction.batch_execute(&sql).await.map_err(|e| setup_error(&e, &sql))?;
    }
    for (_, _, table) in &stand_ins {
        let wrapper = SchemaRequest::from_value(serde_json::to_value(table).unwrap_or_default())
            .map_err(|e| StoreError::Internal(format!("a stand-in does not read back: {e}")))?;
        let migration = ddl_gen::generate(&wrapper, &inputs.naming)
            .map_err(|e| StoreError::Internal(format!("a stand-in cannot be generated: {e}")))?;
        let body = ddl_gen::pg::transaction_body(&migration.up_sql).unwrap_or_default();
        transaction.batch_execute(body).await.map_err(|e| setup_error(&e, body))?;
    }
    let migration = ddl_gen::generate_with(&current_request, inputs)
        .map_err(|e| StoreError::Internal(format!("the current version cannot be generated: {e}")))?;
    let body = ddl_gen::pg::transaction_body(&migration.up_sql).unwrap_or_default();
    transaction.batch_execute(body).await.map_err(|e| setup_error(&e, body))?;

    let mut violations = Vec::new();
    for (direction, list, expected, table_name) in
        [("up", &steps.up, new, &new.table_name), ("down", &steps.down, current, &current.table_name)]
    {
        for (i, step) in list.iter().enumerate() {
            let sql = match step.mode {
                schema_model::change::TransactionMode::Transaction => step.sql.clone(),
                // A transaction holds the rehearsal: build and drop plainly.
                schema_model::change::TransactionMode::Alone => step.sql.replace("INDEX CONCURRENTLY", "INDEX"),
            };
            if let Err(error) = transaction.batch_execute(&sql).await {
                if crate::error::is_transient(&error) {
                    return Err(unfinished(&error));
                }
                let (code, message) = sqlstate_and_message(&error);
                violations.push(Violation {
                    severity: Severity::Error,
                    message: format!(
                        "PostgreSQL refuses step {} of the way {direction} ({}) (SQLSTATE {code}): {message}",
                        i + 1,
                        step.description
                    ),
                    suggestion: "Change the definition so that PostgreSQL accepts the change; its message says what it objects to".to_owned(),
                    rule: REFUSED_RULE.to_owned(),
                    path: root.clone(),
                });
                return Ok(violations);
            }
        }
        transaction.batch_execute("SET LOCAL search_path = public").await?;
        let live = pg_introspect::read::table(transaction, expected.schema_name(), table_name).await?;
        let Some(live) = live else {
            violations.push(Violation {
                severity: Severity::Error,
                message: format!(
                    "After the steps {direction}, table {}.{table_name} does not exist",
                    expected.schema_name()
                ),
                suggestion: "Report this: the generated steps do not make the table they should".to_owned(),
                rule: MISMATCH_RULE.to_owned(),
                path: root.clone(),
            });
            return Ok(violations);
        };
        let found = live.to_model().table;
        let left: Vec<schema_model::change::Change> = schema_diff::diff(expected, &found, &inputs.naming)
            .map_err(|e| StoreError::Internal(format!("the rehearsed table does not compare: {e}")))?
            .into_iter()
            .filter(|c| direction == "up" || !matches!(c, schema_model::change::Change::AddEnumValue { .. }))
            .collect();
        for change in left {
            violations.push(Violation {
                severity: Severity::Error,
                message: format!(
                    "After the steps {direction}, the table is not as it should be: it still needs to {}",
                    change.describe()
                ),
                suggestion: "Report this: the generated steps do not say what the request says".to_owned(),
                rule: MISMATCH_RULE.to_owned(),
                path: root.clone(),
            });
        }
    }
    Ok(violations)
}
