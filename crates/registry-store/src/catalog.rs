//! The catalog: every table the registry manages in every target database, each version
//! of its schema with its columns, indexes and constraints (seed 000's shape).

use schema_model::expr::{ExprContext, parse_safe};
use schema_model::naming::NamingOptions;
use schema_model::objects::TableObjects;
use schema_model::request::SchemaRequest;
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
    /// The request that produced it.
    pub request_id: String,
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
                    "SELECT id, version, request_id::text, {}, definition FROM registry.table_versions
                     WHERE table_id = $1 ORDER BY version",
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

/// Records a new version of the request's table in a database after its apply.
pub(crate) async fn record_version(
    transaction: &Transaction<'_>,
    database_id: i64,
    stored: &StoredRequest,
    naming: &NamingOptions,
) -> Result<(), StoreError> {
    let request = SchemaRequest::from_value(stored.request.clone())
        .map_err(|e| StoreError::Internal(format!("stored request {}: {e}", stored.id)))?;
    let table = &request.schema_json;
    let table_id: i64 = transaction
        .query_one(
            "INSERT INTO registry.tables (database_id, schema_name, name) VALUES ($1, $2, $3)
             ON CONFLICT (database_id, schema_name, name) DO UPDATE SET dropped_at = NULL RETURNING id",
            &[&database_id, &table.schema_name(), &table.table_name],
        )
        .await?
        .get(0);
    let definition = serde_json::to_value(table).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let row = transaction
        .query_one(
            "INSERT INTO registry.table_versions (table_id, version, request_id, definition)
             SELECT $1, coalesce(max(version), 0) + 1, $2::text::uuid, $3 FROM registry.table_versions WHERE table_id = $1
             RETURNING id, version",
            &[&table_id, &stored.id, &definition],
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
    let objects = TableObjects::of(&request, naming);
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
    Ok(())
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
