//! SQL generation: a request's table becomes an idempotent, transactional up migration
//! and its exact reverse, built through sea-query.
//!
//! What sea-query builds: `CREATE TABLE` (columns, named primary key, foreign keys,
//! unique and check constraints), `CREATE INDEX`, `CREATE TYPE ... AS ENUM`, and the
//! `DROP`s. What [`pg`] writes by hand, with sea-query's quoting: the guard around
//! `CREATE TYPE` (PostgreSQL has no `IF NOT EXISTS` for types), `COMMENT ON` (sea-query's
//! PostgreSQL backend drops comments), identity columns and the transaction frame.
//!
//! Free SQL (defaults, checks, index predicates) is re-printed from a vetted syntax tree
//! ([`schema_model::expr`]); a fragment outside the safe subset is a [`GenError`], never
//! text in the output. Output is deterministic: the file name comes from the request's
//! `requestedAt`, and nothing depends on a clock or a hash map's order.

pub mod alter;
pub mod outline;
pub mod pg;

use schema_model::environment::GenerationInputs;
use schema_model::expr::{ExprContext, parse_safe};
use schema_model::naming::{MAX_IDENTIFIER_BYTES, NamingOptions};
use schema_model::objects::TableObjects;
use schema_model::request::SchemaRequest;
use schema_model::table::{Identity, ReferentialAction};
use schema_model::types::ColumnType;
use schema_model::violation::MigrationPreview;
use sea_query::{
    Alias, ColumnDef, Expr, ForeignKey, ForeignKeyAction, Index, PostgresQueryBuilder, Table, TableCreateStatement,
};

use crate::pg::{quote_ident, single_line, string_literal};

/// Why no migration can be generated for a request the model accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenError {
    /// A default, check or index predicate outside the safe subset.
    #[error("at {path}: {message}")]
    UnsafeExpression {
        /// JSON path of the fragment.
        path: String,
        /// Why it was refused.
        message: String,
    },
    /// An identifier PostgreSQL would reject or silently truncate.
    #[error("at {path}: invalid identifier \"{name}\": {reason}")]
    InvalidIdentifier {
        /// JSON path of the identifier.
        path: String,
        /// The identifier, with control characters escaped.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Text PostgreSQL cannot store (a NUL character) or an enum label over 63 bytes.
    #[error("at {path}: {reason}")]
    InvalidText {
        /// JSON path of the text.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A table without columns.
    #[error("the table has no columns")]
    NoColumns,
    /// A change the generator will not make to a table that holds data, because PostgreSQL
    /// would block its readers and writers for as long as the table is large (or fail).
    #[error("{change}: {reason}; instead, {suggestion}")]
    UnsafeChange {
        /// The change, in words.
        change: String,
        /// What PostgreSQL would do.
        reason: String,
        /// The safe way there.
        suggestion: String,
    },
}

/// The migration's file name: `YYYYMMDD_HHMMSS_create_<table>` from `requestedAt` in UTC
/// (the Unix epoch when the request has no time, so output stays deterministic).
pub fn file_name(request: &SchemaRequest) -> String {
    let seconds = request.request_metadata.as_ref().and_then(|m| m.requested_at).unwrap_or(0);
    let table: String = request
        .schema_json
        .table_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c.to_ascii_lowercase() } else { '_' })
        .collect();
    format!("{}_create_{table}", pg::utc_stamp(seconds))
}

/// Generates the up and down migrations for a request's table, with nothing around it
/// assumed to exist (see [`generate_with`]).
pub fn generate(request: &SchemaRequest, naming: &NamingOptions) -> Result<MigrationPreview, GenError> {
    generate_with(request, &GenerationInputs::with_naming(naming))
}

/// Generates the up and down migrations for a request's table.
///
/// Enum types in `inputs.shared_enums` exist already with the declared labels: the
/// migration references them and never creates or drops them. The down migration drops the
/// table (its indexes and constraints go with it; dropping them by name could hit another
/// table's object of that name) and then its own enum types, each only if no other table
/// uses it by then.
pub fn generate_with(request: &SchemaRequest, inputs: &GenerationInputs) -> Result<MigrationPreview, GenError> {
    let naming = &inputs.naming;
    let table = &request.schema_json;
    if table.columns.is_empty() {
        return Err(GenError::NoColumns);
    }
    validate_identifiers(request)?;
    let objects = TableObjects::of(request, naming);
    for (name, path) in objects.names() {
        check_identifier(path, name)?;
    }
    // Always qualified: an unqualified name lands in the first schema of the target's
    // search_path, which may not be the schema the registry checks and records.
    let schema = Some(table.schema_name());
    let table_ref = pg::qualified(schema, &table.table_name);
    let name = file_name(request);

    let mut up: Vec<String> = Vec::new();
    let mut down: Vec<String> = Vec::new();

    let own_enums: Vec<&schema_model::table::EnumType> =
        table.enums.iter().filter(|e| !inputs.shared_enums.contains(&e.name)).collect();
    for enum_type in &own_enums {
        up.push(pg::create_enum_guarded(schema, &enum_type.name, &enum_type.values));
    }

    up.push(pg::pretty_create_table(&create_table(request, &objects)?.to_string(PostgresQueryBuilder)));
    for fk in objects.foreign_keys.iter().filter(|fk| fk.deferrable.is_some()) {
        let definition = alter::foreign_key_definition(fk, table.schema_name());
        up.push(pg::add_constraint_guarded(&table_ref, &fk.name, &definition));
    }
    for unique in objects.uniques.iter().filter(|u| repeats_primary_key(u, &objects)) {
        let columns: Vec<String> = unique.columns.iter().map(|c| quote_ident(c)).collect();
        up.push(pg::add_constraint_guarded(&table_ref, &unique.name, &format!("UNIQUE ({})", columns.join(", "))));
    }

    for index in &objects.indexes {
        up.push(alter::index_sql(index, &table_ref, false)?);
    }

    // PostgreSQL stores an empty comment as no comment at all.
    if let Some(comment) = table.comment.as_ref().filter(|c| !c.is_empty()) {
        up.push(format!("COMMENT ON TABLE {table_ref} IS {}", string_literal(comment)));
    }
    for column in &table.columns {
        if let Some(comment) = column.comment.as_ref().filter(|c| !c.is_empty()) {
            up.push(format!(
                "COMMENT ON COLUMN {table_ref}.{} IS {}",
                quote_ident(&column.name),
                string_literal(comment)
            ));
        }
    }

    down.push(format!("DROP TABLE IF EXISTS {table_ref}"));
    for enum_type in own_enums.iter().rev() {
        down.push(pg::drop_enum_unless_used(schema, &enum_type.name));
    }

    let header = header(request, &name);
    Ok(MigrationPreview {
        up_sql: pg::transaction(&header, "up", &up),
        down_sql: pg::transaction(&header, "down", &down),
        file_name: name,
    })
}

/// A unique constraint on exactly the primary key's columns. PostgreSQL drops such a
/// constraint from a CREATE TABLE as redundant, so it is added after the table, where it
/// is kept (a dump of an existing table can have one).
fn repeats_primary_key(unique: &schema_model::objects::UniqueDef, objects: &TableObjects) -> bool {
    objects.primary_key.as_ref().is_some_and(|pk| pk.columns == unique.columns)
}

/// The comment lines a migration starts with: its file name, who asked and the issue.
pub fn header(request: &SchemaRequest, file_name: &str) -> String {
    let mut lines = vec![format!("-- {file_name}")];
    if let Some(metadata) = &request.request_metadata {
        if let Some(by) = &metadata.requested_by {
            lines.push(format!("-- requested by: {}", single_line(by)));
        }
        if let Some(issue) = &metadata.related_issue {
            lines.push(format!("-- related issue: {}", single_line(issue)));
        }
    }
    lines.join("\n")
}

fn table_iden(schema: Option<&str>, table: &str) -> sea_query::TableRef {
    use sea_query::IntoTableRef;
    match schema {
        Some(schema) => (Alias::new(schema.to_owned()), Alias::new(table.to_owned())).into_table_ref(),
        None => Alias::new(table.to_owned()).into_table_ref(),
    }
}

fn create_table(request: &SchemaRequest, objects: &TableObjects) -> Result<TableCreateStatement, GenError> {
    let table = &request.schema_json;
    let schema = Some(table.schema_name());
    let mut statement = Table::create();
    statement.if_not_exists().table(table_iden(schema, &table.table_name));

    for (i, column) in table.columns.iter().enumerate() {
        let type_sql = type_sql(table.schema_name(), &column.column_type);
        let mut def = ColumnDef::new_with_type(
            Alias::new(column.name.clone()),
            sea_query::ColumnType::custom(Alias::new(type_sql)),
        );
        if table.is_not_null(column) {
            def.not_null();
        }
        if let Some(default) = &column.default_value {
            let vetted = parse_safe(default, ExprContext::Default).map_err(|e| GenError::UnsafeExpression {
                path: request_path(request, &format!("columns[{i}].defaultValue")),
                message: e.to_string(),
            })?;
            def.default(Expr::cust(vetted.sql));
        }
        match column.identity {
            Some(Identity::Always) => {
                def.extra("GENERATED ALWAYS AS IDENTITY");
            }
            Some(Identity::ByDefault) => {
                def.extra("GENERATED BY DEFAULT AS IDENTITY");
            }
            None => {}
        }
        statement.col(def);
    }

    if let Some(pk) = &objects.primary_key {
        let mut index = Index::create();
        index.name(pk.name.clone());
        for column in &pk.columns {
            index.col(Alias::new(column.clone()));
        }
        statement.primary_key(&mut index);
    }
    for unique in objects.uniques.iter().filter(|u| !repeats_primary_key(u, objects)) {
        let mut index = Index::create();
        index.unique().name(unique.name.clone());
        for column in &unique.columns {
            index.col(Alias::new(column.clone()));
        }
        statement.index(&mut index);
    }
    // A deferrable key is added after the table (sea-query cannot write DEFERRABLE).
    for fk in objects.foreign_keys.iter().filter(|fk| fk.deferrable.is_none()) {
        let mut key = ForeignKey::create();
        key.name(fk.name.clone());
        let referenced_schema = fk.referenced_schema.as_deref().or(schema);
        key.to_tbl(table_iden(referenced_schema, &fk.referenced_table));
        for column in &fk.columns {
            key.from_col(Alias::new(column.clone()));
        }
        for column in &fk.referenced_columns {
            key.to_col(Alias::new(column.clone()));
        }
        if let Some(action) = fk.on_delete {
            key.on_delete(action_of(action));
        }
        if let Some(action) = fk.on_update {
            key.on_update(action_of(action));
        }
        statement.foreign_key(&mut key);
    }
    for check in &objects.checks {
        let vetted = parse_safe(&check.expression, ExprContext::Check)
            .map_err(|e| GenError::UnsafeExpression { path: check.path.clone(), message: e.to_string() })?;
        statement.check((Alias::new(check.name.clone()), Expr::cust(vetted.sql)));
    }
    Ok(statement)
}

/// A column type as generated DDL writes it: enum types (and arrays of them) qualified with
/// the table's schema, so they never resolve through a session's `search_path`.
pub fn type_sql(schema: &str, column_type: &ColumnType) -> String {
    match column_type.element() {
        ColumnType::Named(name) => {
            let depth = column_type.sql().matches("[]").count();
            format!("{}{}", pg::qualified(Some(schema), name), "[]".repeat(depth))
        }
        _ => column_type.sql(),
    }
}

fn action_of(action: ReferentialAction) -> ForeignKeyAction {
    match action {
        ReferentialAction::NoAction => ForeignKeyAction::NoAction,
        ReferentialAction::Restrict => ForeignKeyAction::Restrict,
        ReferentialAction::Cascade => ForeignKeyAction::Cascade,
        ReferentialAction::SetNull => ForeignKeyAction::SetNull,
        ReferentialAction::SetDefault => ForeignKeyAction::SetDefault,
    }
}

fn request_path(request: &SchemaRequest, rest: &str) -> String {
    schema_model::request::join_path(request.table_path(), rest)
}

/// Refuses identifiers PostgreSQL would reject (NUL, empty) or silently truncate (over
/// 63 bytes): a truncated name would make the down migration miss its object.
fn validate_identifiers(request: &SchemaRequest) -> Result<(), GenError> {
    let table = &request.schema_json;
    let mut names: Vec<(String, &str)> = vec![(request_path(request, "tableName"), table.table_name.as_str())];
    if let Some(schema) = &table.schema {
        names.push((request_path(request, "schema"), schema));
    }
    for (i, column) in table.columns.iter().enumerate() {
        names.push((request_path(request, &format!("columns[{i}].name")), &column.name));
        if let Some(reference) = &column.references {
            names.push((request_path(request, &format!("columns[{i}].references.table")), &reference.table));
            names.push((request_path(request, &format!("columns[{i}].references.column")), &reference.column));
            if let Some(name) = &reference.name {
                names.push((request_path(request, &format!("columns[{i}].references.name")), name));
            }
        }
    }
    for (i, index) in table.indexes.iter().enumerate() {
        if let Some(name) = &index.name {
            names.push((request_path(request, &format!("indexes[{i}].name")), name));
        }
        for column in index.columns.iter().chain(&index.include) {
            names.push((request_path(request, &format!("indexes[{i}].columns")), column));
        }
        for (j, options) in index.column_options.iter().enumerate() {
            if let Some(class) = &options.operator_class {
                names.push((request_path(request, &format!("indexes[{i}].columns[{j}].operatorClass")), class));
            }
        }
    }
    for (i, fk) in table.foreign_keys.iter().enumerate() {
        let path = request_path(request, &format!("foreignKeys[{i}]"));
        for name in fk.name.iter().chain(&fk.columns).chain(&fk.references.columns).chain([&fk.references.table]) {
            names.push((path.clone(), name));
        }
    }
    for (i, unique) in table.uniques.iter().enumerate() {
        for name in unique.name.iter().chain(&unique.columns) {
            names.push((request_path(request, &format!("uniques[{i}]")), name));
        }
    }
    for (i, check) in table.checks.iter().enumerate() {
        if let Some(name) = &check.name {
            names.push((request_path(request, &format!("checks[{i}].name")), name));
        }
    }
    for (i, enum_type) in table.enums.iter().enumerate() {
        names.push((request_path(request, &format!("enums[{i}].name")), &enum_type.name));
        for (k, label) in enum_type.values.iter().enumerate() {
            let path = request_path(request, &format!("enums[{i}].values[{k}]"));
            if label.contains('\0') {
                return Err(GenError::InvalidText { path, reason: "an enum label cannot contain a NUL character" });
            }
            if label.len() > MAX_IDENTIFIER_BYTES {
                return Err(GenError::InvalidText { path, reason: "an enum label is at most 63 bytes" });
            }
        }
    }
    let comments = table.comment.iter().map(|c| (request_path(request, "comment"), c)).chain(
        table.columns.iter().enumerate().filter_map(|(i, c)| {
            c.comment.as_ref().map(|comment| (request_path(request, &format!("columns[{i}].comment")), comment))
        }),
    );
    for (path, comment) in comments {
        if comment.contains('\0') {
            return Err(GenError::InvalidText { path, reason: "a comment cannot contain a NUL character" });
        }
    }
    for name in &table.primary_key {
        names.push((request_path(request, "primaryKey"), name));
    }
    for (path, name) in names {
        check_identifier(&path, name)?;
    }
    Ok(())
}

/// One identifier: not empty, no NUL, no double quote, at most 63 bytes.
///
/// Double quotes are refused outright: sea-query writes index and constraint names given
/// as strings between quotes without doubling embedded ones, so a quote in a name (or in
/// a column name that a generated name repeats) could end the identifier early.
fn check_identifier(path: &str, name: &str) -> Result<(), GenError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.contains('\0') {
        Some("it contains a NUL character")
    } else if name.contains('"') {
        Some("it contains a double quote")
    } else if name.len() > MAX_IDENTIFIER_BYTES {
        Some("it is longer than 63 bytes")
    } else {
        None
    };
    match reason {
        Some(reason) => {
            Err(GenError::InvalidIdentifier { path: path.to_owned(), name: name.escape_debug().to_string(), reason })
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
