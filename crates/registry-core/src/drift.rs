//! Drift: how a live table (read through `pg-introspect` and mapped into the model) differs
//! from the version the registry has for it, compared in PostgreSQL's terms. Each
//! difference names the object, what the registry expects of it, what the live table has,
//! and the change that would bring the live table back to the registry's version.

use schema_model::change::{Change, Constraint};
use schema_model::naming::NamingOptions;
use schema_model::objects::IndexDef;
use schema_model::table::{Column, Identity, TableSchema};
use serde::Serialize;
use std::fmt::Write as _;

/// One way the live table differs from the registry's version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    /// What differs: `column email`, `index idx_users_email`, `type status`, `table`.
    pub object: String,
    /// What the registry's version has (`absent` when it has no such object).
    pub expected: String,
    /// What the live table has (`absent` when it has no such object).
    pub live: String,
    /// The change that would bring the live table to the registry's version.
    pub change: String,
}

const ABSENT: &str = "absent";

impl Difference {
    /// The whole table is missing on the target.
    pub fn missing_table(schema: &str, name: &str) -> Self {
        Self {
            object: "table".to_owned(),
            expected: format!("{schema}.{name}"),
            live: absent(),
            change: format!("create table {schema}.{name}"),
        }
    }
}

/// Every difference between the registry's version `expected` and the `live` table (empty
/// when they are the same table). `naming` is what the version's migrations were generated
/// with.
pub fn differences(expected: &TableSchema, live: &TableSchema, naming: &NamingOptions) -> Vec<Difference> {
    if live.table_name != expected.table_name {
        return vec![Difference {
            object: "table".to_owned(),
            expected: expected.table_name.clone(),
            live: live.table_name.clone(),
            change: format!("rename table {} to {}", live.table_name, expected.table_name),
        }];
    }
    // The live table has no renames to declare: compare it as the same table.
    let mut live = live.clone();
    live.renamed_from = None;
    match schema_diff::diff(&live, &expected.without_renames(), naming) {
        Ok(changes) => changes.iter().map(difference).collect(),
        Err(error) => vec![Difference {
            object: "table".to_owned(),
            expected: expected.table_name.clone(),
            live: ABSENT.to_owned(),
            change: error.to_string(),
        }],
    }
}

/// A change from the live table to the registry's version, said as a difference: what the
/// change leads to is expected, what it starts from is live.
fn difference(change: &Change) -> Difference {
    let (object, expected, live) = match change {
        Change::RenameTable { from, to } => ("table".to_owned(), to.clone(), from.clone()),
        Change::AddColumn { column, not_null } => {
            (column_object(&column.name), column_sql(column, *not_null), absent())
        }
        Change::DropColumn { column, not_null } => {
            (column_object(&column.name), absent(), column_sql(column, *not_null))
        }
        Change::RenameColumn { from, to } => (column_object(to), format!("named {to}"), format!("named {from}")),
        Change::ChangeType { column, from, to } => {
            (column_object(column), format!("type {to}"), format!("type {from}"))
        }
        Change::ChangeDefault { column, from, to } => {
            (column_object(column), default_text(to.as_deref()), default_text(from.as_deref()))
        }
        Change::ChangeNullability { column, nullable } => {
            (column_object(column), nullability(*nullable).to_owned(), nullability(!nullable).to_owned())
        }
        Change::ChangeIdentity { column, from, to } => {
            (column_object(column), identity_text(*to), identity_text(*from))
        }
        Change::ChangeColumnComment { column, from, to } => {
            (format!("comment on column {column}"), comment_text(to.as_deref()), comment_text(from.as_deref()))
        }
        Change::ChangeTableComment { from, to } => {
            ("comment on the table".to_owned(), comment_text(to.as_deref()), comment_text(from.as_deref()))
        }
        Change::AddIndex { index } => (format!("index {}", index.name), index_text(index), absent()),
        Change::DropIndex { index } => (format!("index {}", index.name), absent(), index_text(index)),
        Change::RenameIndex { from, to } => (format!("index {to}"), format!("named {to}"), format!("named {from}")),
        Change::AddConstraint { constraint } => (constraint_object(constraint), constraint_text(constraint), absent()),
        Change::DropConstraint { constraint } => (constraint_object(constraint), absent(), constraint_text(constraint)),
        Change::RenameConstraint { from, to } => {
            (format!("constraint {to}"), format!("named {to}"), format!("named {from}"))
        }
        Change::AddEnumType { enum_type } => (format!("type {}", enum_type.name), labels(&enum_type.values), absent()),
        Change::DropEnumType { enum_type } => (format!("type {}", enum_type.name), absent(), labels(&enum_type.values)),
        Change::AddEnumValue { type_name, value, .. } => {
            (format!("type {type_name}"), format!("has the label '{value}'"), format!("has no label '{value}'"))
        }
        Change::RemoveEnumValue { type_name, value } => {
            (format!("type {type_name}"), format!("has no label '{value}'"), format!("has the label '{value}'"))
        }
    };
    Difference { object, expected, live, change: change.describe() }
}

fn absent() -> String {
    ABSENT.to_owned()
}

fn column_object(name: &str) -> String {
    format!("column {name}")
}

fn column_sql(column: &Column, not_null: bool) -> String {
    let mut text = format!("{} {}", column.name, column.column_type);
    if not_null {
        text.push_str(" NOT NULL");
    }
    if let Some(default) = &column.default_value {
        text.push_str(" DEFAULT ");
        text.push_str(default);
    }
    if let Some(identity) = column.identity {
        text.push(' ');
        text.push_str(&identity_text(Some(identity)));
    }
    text
}

fn nullability(nullable: bool) -> &'static str {
    if nullable { "NULL allowed" } else { "NOT NULL" }
}

fn default_text(default: Option<&str>) -> String {
    default.map_or_else(|| "no default".to_owned(), |d| format!("DEFAULT {d}"))
}

fn identity_text(identity: Option<Identity>) -> String {
    match identity {
        None => "not an identity column".to_owned(),
        Some(Identity::Always) => "GENERATED ALWAYS AS IDENTITY".to_owned(),
        Some(Identity::ByDefault) => "GENERATED BY DEFAULT AS IDENTITY".to_owned(),
    }
}

fn comment_text(comment: Option<&str>) -> String {
    comment.map_or_else(|| "no comment".to_owned(), |c| format!("'{c}'"))
}

fn index_text(index: &IndexDef) -> String {
    let mut text = format!(
        "{}index USING {} ({})",
        if index.unique { "unique " } else { "" },
        index.method.sql(),
        index.columns.join(", ")
    );
    if !index.include.is_empty() {
        let _ = write!(text, " INCLUDE ({})", index.include.join(", "));
    }
    if let Some(predicate) = &index.predicate {
        let _ = write!(text, " WHERE {predicate}");
    }
    text
}

fn constraint_object(constraint: &Constraint) -> String {
    format!("{} {}", constraint.word(), constraint.name())
}

fn constraint_text(constraint: &Constraint) -> String {
    match constraint {
        Constraint::PrimaryKey(pk) => format!("PRIMARY KEY ({})", pk.columns.join(", ")),
        Constraint::Unique(unique) => format!("UNIQUE ({})", unique.columns.join(", ")),
        Constraint::Check(check) => format!("CHECK ({})", check.expression),
        Constraint::ForeignKey(fk) => {
            let table = match &fk.referenced_schema {
                Some(schema) => format!("{schema}.{}", fk.referenced_table),
                None => fk.referenced_table.clone(),
            };
            let mut text = format!(
                "FOREIGN KEY ({}) REFERENCES {table} ({})",
                fk.columns.join(", "),
                fk.referenced_columns.join(", ")
            );
            if let Some(action) = fk.on_delete {
                let _ = write!(text, " ON DELETE {action}");
            }
            if let Some(action) = fk.on_update {
                let _ = write!(text, " ON UPDATE {action}");
            }
            text
        }
    }
}

fn labels(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    format!("ENUM ({})", quoted.join(", "))
}
