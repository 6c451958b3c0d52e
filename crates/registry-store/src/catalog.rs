//! The catalog: every table the registry manages in every target database, each version
//! of its schema with its columns, indexes and constraints (seed 000's shape).

use schema_model::change::Compatibility;
use schema_model::environment::GenerationInputs;
use schema_model::expr::{ExprContext, parse_safe};
use schema_model::naming::NamingOptions;
use schema_model::objects::TableObjects;
use schema_model::table::TableSchema;
use serde::Serialize;
use tokio_postgres::Transaction;

use crate::error::StoreError;
use crate::requests::{StoredRequest, timestamp_sql};
use crate::store::Store;

/// A target database and how many live tables the registry manages there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseInfo {
    /// Target name.
    pub name: String,
    /// Managed tables that are not rolled back.
    pub tables: i64,
}

/// A managed table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableInfo {
    /// Target database name.
    pub database: String,
    /// PostgreSQL schema.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Current version; `None` once rolled back.
    pub current_version: Option<i32>,
}

/// One column of a table version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnInfo {
    /// Name.
    pub name: String,
    /// Type as PostgreSQL reports it.
    pub data_type: String,
    /// NOT NULL.
    pub not_null: bool,
    /// Default expression.
    pub default_value: Option<String>,
    /// Comment.
    pub comment: Option<String>,
}

/// One index of a table version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexInfo {
    /// Name.
    pub name: String,
    /// Access method.
    pub method: String,
    /// Key columns.
    pub columns: Vec<String>,
    /// Unique.
    pub unique: bool,
    /// Partial index predicate.
    pub predicate: Option<String>,
    /// Covering columns.
    pub include: Vec<String>,
}

/// One constraint of a table version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConstraintInfo {
    /// Name.
    pub name: String,
    /// `primary key`, `foreign key`, `unique`, `check`.
    pub kind: String,
    /// Constrained columns.
    pub columns: Vec<String>,
    /// The constraint as SQL.
    pub definition: String,
}

/// One version of a table's schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableVersion {
    /// Version number, from 1.
    pub version: i32,
    /// The request that produced it (none for an adopted table's first version).
    pub request_id: Option<String>,
    /// Who adopted the table, for a version recorded by adoption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted_by: Option<String>,
    /// The table's compatibility level from this version on.
    pub compatibility: String,
    /// When it was applied (RFC 3339, UTC).
    pub applied_at: String,
    /// The table definition as requested.
    pub definition: serde_json::Value,
    /// Columns in order.
    pub columns: Vec<ColumnInfo>,
    /// Indexes.
    pub indexes: Vec<IndexInfo>,
    /// Constraints.
    pub constraints: Vec<ConstraintInfo>,
}

/// A table with all its versions, newest last.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableDetail {
    /// The table.
    #[serde(flatten)]
    pub table: TableInfo,
    /// Every version.
    pub versions: Vec<TableVersion>,
}

impl Store {
    /// Target databases known to the registry.
    pub async fn databases(&self) -> Result<Vec<DatabaseInfo>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT d.name, count(t.id) FILTER (WHERE t.current_version IS NOT NULL)
                 FROM registry.databases d LEFT JOIN registry.tables t ON t.database_id = d.id
                 GROUP BY d.name ORDER BY d.name",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|row| DatabaseInfo { name: row.get(0), tables: row.get(1) }).collect())
    }

    /// Managed tables, of one database or of all.
    pub async fn tables(&self, database: Option<&str>) -> Result<Vec<TableInfo>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT d.name, t.schema_name, t.name, t.current_version
                 FROM registry.tables t JOIN registry.databases d ON d.id = t.database_id
                 WHERE $1::text IS NULL OR d.name = $1 ORDER BY d.name, t.schema_name, t.name",
                &[&database],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| TableInfo {
                database: row.get(0),
                schema: row.get(1),
                name: row.get(2),
                current_version: row.get(3),
            })
            .collect())
    }

    /// One table's current schema and all its versions.
    pub async fn table(&self, database: &str, schema: &str, name: &str) -> Result<TableDetail, StoreError> {
        let client = self.client().await?;
        let table = client
            .query_opt(
                "SELECT t.id, t.current_version FROM registry.tables t JOIN registry.databases d ON d.id = t.database_id
                 WHERE d.name = $1 AND t.schema_name = $2 AND t.name = $3",
                &[&database, &schema, &name],
            )
            .await?
            .ok_or_else(|| StoreError::not_found(format!("table {schema}.{name} in \"{database}\"")))?;
        let table_id: i64 = table.get(0);
        let versions = client
            .query(
                &format!(
                    "SELECT id, version, request_id::text, {}, definition, adopted_by, compatibility
                     FROM registry.table_versions WHERE table_id = $1 ORDER BY version",
                    timestamp_sql("applied_at")
                ),
                &[&table_id],
            )
            .await?;
        let mut detail = TableDetail {
            table: TableInfo {
                database: database.to_owned(),
                schema: schema.to_owned(),
                name: name.to_owned(),
                current_version: table.get(1),
            },
            versions: Vec::with_capacity(versions.len()),
        };
        for row in versions {
            let version_id: i64 = row.get(0);
            let columns = client
                .query(
                    "SELECT name, data_type, not_null, default_value, comment FROM registry.columns
                     WHERE table_version_id = $1 ORDER BY position",
                    &[&version_id],
                )
                .await?
                .iter()
                .map(|c| ColumnInfo {
                    name: c.get(0),
                    data_type: c.get(1),
                    not_null: c.get(2),
                    default_value: c.get(3),
                    comment: c.get(4),
                })
                .collect();
            let indexes = client
                .query(
                    "SELECT name, method, columns, is_unique, predicate, include FROM registry.indexes
                     WHERE table_version_id = $1 ORDER BY id",
                    &[&version_id],
                )
                .await?
                .iter()
                .map(|i| IndexInfo {
                    name: i.get(0),
                    method: i.get(1),
                    columns: i.get(2),
                    unique: i.get(3),
                    predicate: i.get(4),
                    include: i.get(5),
                })
                .collect();
            let constraints = client
                .query(
                    "SELECT name, kind, columns, definition FROM registry.constraints WHERE table_version_id = $1 ORDER BY id",
                    &[&version_id],
                )
                .await?
                .iter()
                .map(|c| ConstraintInfo { name: c.get(0), kind: c.get(1), columns: c.get(2), definition: c.get(3) })
                .collect();
            detail.versions.push(TableVersion {
                version: row.get(1),
                request_id: row.get(2),
                adopted_by: row.get(5),
                compatibility: row.get(6),
                applied_at: row.get(3),
                definition: row.get(4),
                columns,
                indexes,
                constraints,
            });
        }
        Ok(detail)
    }
}

/// Where a version comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin<'a> {
    /// The request (its id) whose migration made it.
    Request(&'a str),
    /// A table that existed before the registry, adopted by this principal.
    Adoption(&'a str),
}

/// Records a new version of a table in a database: after a request's apply (a new table, or
/// the next version of one the registry manages, renamed when the request says so), or when
/// an existing table is adopted. The definition is stored without `renamedFrom` markers (they
/// describe one change, not the table), with the generation inputs and the compatibility
/// level. Returns the new version number.
pub(crate) async fn record_version(
    transaction: &Transaction<'_>,
    database_id: i64,
    table: &TableSchema,
    origin: Origin<'_>,
    inputs: &GenerationInputs,
    compatibility: Compatibility,
) -> Result<i32, StoreError> {
    let naming = &inputs.naming;
    if let Some(old) = &table.renamed_from {
        // The same table under its new name: its versions stay with it.
        transaction
            .execute(
                "UPDATE registry.tables SET name = $4 WHERE database_id = $1 AND schema_name = $2 AND name = $3",
                &[&database_id, &table.schema_name(), old, &table.table_name],
            )
            .await?;
    }
    let table = &table.without_renames();
    let table_id: i64 = transaction
        .query_one(
            "INSERT INTO registry.tables (database_id, schema_name, name) VALUES ($1, $2, $3)
             ON CONFLICT (database_id, schema_name, name) DO UPDATE SET dropped_at = NULL RETURNING id",
            &[&database_id, &table.schema_name(), &table.table_name],
        )
        .await?
        .get(0);
    let definition = serde_json::to_value(table).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let generation = serde_json::to_value(inputs).map_err(|e| StoreError::Internal(e.to_string()))?;
    let (request_id, adopted_by) = match origin {
        Origin::Request(id) => (Some(id), None),
        Origin::Adoption(by) => (None, Some(by)),
    };
    let row = transaction
        .query_one(
            "INSERT INTO registry.table_versions (table_id, version, request_id, definition, generation, compatibility, adopted_by)
             SELECT $1, coalesce(max(version), 0) + 1, $2::text::uuid, $3, $4, $5, $6 FROM registry.table_versions WHERE table_id = $1
             RETURNING id, version",
            &[&table_id, &request_id, &definition, &generation, &compatibility.as_str(), &adopted_by],
        )
        .await?;
    let version_id: i64 = row.get(0);
    let version: i32 = row.get(1);
    transaction
        .execute("UPDATE registry.tables SET current_version = $2 WHERE id = $1", &[&table_id, &version])
        .await?;

    for (position, column) in (1i32..).zip(&table.columns) {
        let default = column
            .default_value
            .as_deref()
            .map(|text| parse_safe(text, ExprContext::Default).map_or_else(|_| text.to_owned(), |e| e.sql));
        transaction
            .execute(
                "INSERT INTO registry.columns (table_version_id, position, name, data_type, not_null, default_value, comment)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &version_id,
                    &position,
                    &column.name,
                    &column.column_type.catalog_name(),
                    &table.is_not_null(column),
                    &default,
                    &column.comment,
                ],
            )
            .await?;
    }
    let objects = TableObjects::of_table(table, "", naming);
    for index in &objects.indexes {
        let predicate = index
            .predicate
            .as_deref()
            .map(|text| parse_safe(text, ExprContext::IndexPredicate).map_or_else(|_| text.to_owned(), |e| e.sql));
        transaction
            .execute(
                "INSERT INTO registry.indexes (table_version_id, name, method, columns, is_unique, predicate, include)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &version_id,
                    &index.name,
                    &index.method.sql(),
                    &index.columns,
                    &index.unique,
                    &predicate,
                    &index.include,
                ],
            )
            .await?;
    }
    let mut constraints: Vec<(String, &str, Vec<String>, String)> = Vec::new();
    if let Some(pk) = &objects.primary_key {
        constraints.push((
            pk.name.clone(),
            "primary key",
            pk.columns.clone(),
            format!("PRIMARY KEY ({})", pk.columns.join(", ")),
        ));
    }
    for fk in &objects.foreign_keys {
        let definition = format!(
            "FOREIGN KEY ({}) REFERENCES {}{} ({}){}{}",
            fk.columns.join(", "),
            fk.referenced_schema.as_deref().map(|s| format!("{s}.")).unwrap_or_default(),
            fk.referenced_table,
            fk.referenced_columns.join(", "),
            fk.on_delete.map(|a| format!(" ON DELETE {a}")).unwrap_or_default(),
            fk.on_update.map(|a| format!(" ON UPDATE {a}")).unwrap_or_default(),
        );
        constraints.push((fk.name.clone(), "foreign key", fk.columns.clone(), definition));
    }
    for unique in &objects.uniques {
        constraints.push((
            unique.name.clone(),
            "unique",
            unique.columns.clone(),
            format!("UNIQUE ({})", unique.columns.join(", ")),
        ));
    }
    for check in &objects.checks {
        let vetted = parse_safe(&check.expression, ExprContext::Check);
        let (sql, columns) = vetted.map_or_else(|_| (check.expression.clone(), Vec::new()), |e| (e.sql, e.columns));
        constraints.push((check.name.clone(), "check", columns, format!("CHECK ({sql})")));
    }
    for (name, kind, columns, definition) in constraints {
        transaction
            .execute(
                "INSERT INTO registry.constraints (table_version_id, name, kind, columns, definition) VALUES ($1, $2, $3, $4, $5)",
                &[&version_id, &name, &kind, &columns, &definition],
            )
            .await?;
    }
    Ok(version)
}

/// Marks the request's table as no longer present in a database after its rollback, when
/// the table's current version is the one this request made. A table another request
/// created again since (after this rollback ran on the target and before it was recorded)
/// keeps its current version: versions are matched by the request that made them, never
/// by the table's name alone.
pub(crate) async fn record_dropped(
    transaction: &Transaction<'_>,
    database: &str,
    stored: &StoredRequest,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "UPDATE registry.tables t SET current_version = NULL, dropped_at = now()
             FROM registry.databases d, registry.table_versions v
             WHERE d.id = t.database_id AND d.name = $1 AND t.schema_name = $2 AND t.name = $3
               AND v.table_id = t.id AND v.version = t.current_version AND v.request_id = $4::text::uuid",
            &[&database, &stored.table_schema, &stored.table_name, &stored.id],
        )
        .await?;
    Ok(())
}

/// A managed table's current version, as a change request is planned against it.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentVersion {
    /// The version number.
    pub version: i32,
    /// Its definition.
    pub definition: TableSchema,
    /// What its migrations were generated with (naming).
    pub inputs: GenerationInputs,
    /// Its compatibility level.
    pub compatibility: Compatibility,
}

/// The current version of `schema.name` on `database`, when the registry manages that table
/// and it is not rolled back.
pub(crate) async fn current_version(
    client: &impl tokio_postgres::GenericClient,
    database: &str,
    schema: &str,
    name: &str,
    fallback_naming: &NamingOptions,
) -> Result<Option<CurrentVersion>, StoreError> {
    version_row(client, database, schema, name, None, fallback_naming).await
}

/// Version `version` of `schema.name` on `database` (the current one when `None`).
pub(crate) async fn version_row(
    client: &impl tokio_postgres::GenericClient,
    database: &str,
    schema: &str,
    name: &str,
    version: Option<i32>,
    fallback_naming: &NamingOptions,
) -> Result<Option<CurrentVersion>, StoreError> {
    let row = client
        .query_opt(
            "SELECT v.version, v.definition, coalesce(v.generation, m.generation), v.compatibility
             FROM registry.tables t
             JOIN registry.databases d ON d.id = t.database_id
             JOIN registry.table_versions v ON v.table_id = t.id
                  AND v.version = coalesce($4::int, t.current_version)
             LEFT JOIN registry.migrations m ON m.request_id = v.request_id
             WHERE d.name = $1 AND t.schema_name = $2 AND t.name = $3 AND t.current_version IS NOT NULL",
            &[&database, &schema, &name, &version],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let definition: serde_json::Value = row.get(1);
    let definition: TableSchema = serde_json::from_value(definition)
        .map_err(|e| StoreError::Internal(format!("the catalog's definition of {schema}.{name}: {e}")))?;
    let generation: Option<serde_json::Value> = row.get(2);
    let inputs = match generation {
        Some(value) => serde_json::from_value(value)
            .map_err(|e| StoreError::Internal(format!("the generation inputs of {schema}.{name}: {e}")))?,
        None => GenerationInputs::with_naming(fallback_naming),
    };
    let compatibility: String = row.get(3);
    Ok(Some(CurrentVersion {
        version: row.get(0),
        definition,
        inputs,
        compatibility: compatibility.parse().map_err(StoreError::Internal)?,
    }))
}

/// Puts a table back at version `base` after the rollback of the change that made its
/// current version (only if that change did: a table changed again since keeps its version),
/// under the name it had then.
pub(crate) async fn record_reverted(
    transaction: &Transaction<'_>,
    database: &str,
    stored: &StoredRequest,
    base: i32,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "UPDATE registry.tables t SET current_version = $3,
                    name = (SELECT b.definition->>'tableName' FROM registry.table_versions b WHERE b.table_id = t.id AND b.version = $3)
             FROM registry.databases d, registry.table_versions v
             WHERE d.id = t.database_id AND d.name = $1
               AND v.table_id = t.id AND v.version = t.current_version AND v.request_id = $2::text::uuid",
            &[&database, &stored.id, &base],
        )
        .await?;
    Ok(())
}

/// Whether a managed table matches its live table on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// True when the live table is the registry's current version.
    pub in_sync: bool,
    /// The version compared with.
    pub version: i32,
    /// Each difference, as the change that would bring the live table to the registry's
    /// version.
    pub differences: Vec<registry_core::drift::Difference>,
}

impl Store {
    /// Compares a managed table's current version with the live table on its target.
    pub async fn drift(&self, database: &str, schema: &str, name: &str) -> Result<Drift, StoreError> {
        let target =
            self.inner.targets.get(database).ok_or_else(|| StoreError::not_found(format!("target \"{database}\"")))?;
        let current = {
            let client = self.client().await?;
            current_version(&**client, database, schema, name, &self.policy().naming).await?
        }
        .ok_or_else(|| StoreError::not_found(format!("managed table {schema}.{name} in \"{database}\"")))?;
        let reader = target.readers.get().await?;
        let live = pg_introspect::read::table(&**reader, schema, name).await?;
        let differences = match live {
            None => vec![registry_core::drift::Difference::missing_table(schema, name)],
            Some(live) => {
                registry_core::drift::differences(&current.definition, &live.to_model().table, &current.inputs.naming)
            }
        };
        Ok(Drift { in_sync: differences.is_empty(), version: current.version, differences })
    }

    /// Takes a table that exists on a target but not in the registry under its management:
    /// records the live table as version 1 (its indexes and constraints under the names they
    /// have) and audits it. A table the model cannot describe fully (an expression index, a
    /// partitioned table, ...) is refused with what is missing.
    pub async fn adopt(&self, database: &str, schema: &str, name: &str, by: &str) -> Result<TableDetail, StoreError> {
        let target =
            self.inner.targets.get(database).ok_or_else(|| StoreError::not_found(format!("target \"{database}\"")))?;
        let (live, owner) = {
            let reader = target.readers.get().await?;
            let live = pg_introspect::read::table(&**reader, schema, name).await?;
            (live, table_owner(&reader, schema, name).await?)
        };
        let live =
            live.ok_or_else(|| StoreError::not_found(format!("table {schema}.{name} on target \"{database}\"")))?;
        if let Some(TableOwner { owner, applier, may_alter: false }) = owner {
            // Every change of a managed table is an ALTER TABLE, which only the owner may run:
            // adopting a table the registry cannot alter would accept changes it can never apply.
            return Err(StoreError::Conflict(format!(
                "table {schema}.{name} is owned by {owner}, and the registry applies changes on target \"{database}\" \
                 as {applier}, which may only alter tables it owns (or whose owner role it is a member of): run \
                 `ALTER TABLE {} OWNER TO {}` as {owner} or a superuser, then adopt it again",
                ddl_gen::pg::qualified(Some(schema), name),
                ddl_gen::pg::quote_ident(&applier)
            )));
        }
        let mapped = live.to_model();
        if !mapped.unsupported.is_empty() {
            return Err(StoreError::Invalid(format!(
                "table {schema}.{name} has what the registry cannot describe, so it cannot manage it: {}",
                mapped.unsupported.join("; ")
            )));
        }
        let inputs = GenerationInputs::with_naming(&self.policy().naming);
        let level = self.policy().compatibility.level_of(schema, name);
        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let transaction = client.transaction().await?;
        if current_version(&transaction, database, schema, name, &inputs.naming).await?.is_some() {
            return Err(StoreError::Conflict(format!(
                "table {schema}.{name} in \"{database}\" is managed by the registry already"
            )));
        }
        let database_id: i64 = transaction
            .query_one(
                "INSERT INTO registry.databases (name) VALUES ($1)
                 ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                &[&database],
            )
            .await?
            .get(0);
        let version =
            record_version(&transaction, database_id, &mapped.table, Origin::Adoption(by), &inputs, level).await?;
        let details = serde_json::json!({"adopted": true, "version": version}).to_string();
        crate::audit::NewAudit {
            table_schema: Some(schema),
            table_name: Some(name),
            action: "adopt",
            performed_by: by,
            target: Some(database),
            success: true,
            details: Some(&details),
            ..crate::audit::NewAudit::default()
        }
        .insert(&transaction, &self.inner.audit_key)
        .await?;
        transaction.commit().await?;
        self.table(database, schema, name).await
    }
}

/// Who owns a table on a target, and whether the role the registry applies changes as may
/// alter it.
struct TableOwner {
    owner: String,
    applier: String,
    may_alter: bool,
}

async fn table_owner(
    client: &tokio_postgres::Client,
    schema: &str,
    name: &str,
) -> Result<Option<TableOwner>, StoreError> {
    let row = client
        .query_opt(
            "SELECT pg_catalog.pg_get_userbyid(c.relowner), current_user::text,
                    pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema, &name],
        )
        .await?;
    Ok(row.map(|row| TableOwner { owner: row.get(0), applier: row.get(1), may_alter: row.get(2) }))
}
