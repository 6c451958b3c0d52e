//! `column.prefer-identity`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Identity columns are the SQL-standard successor of `serial`.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.prefer-identity",
    default_severity: Severity::Info,
    strict_severity: Some(Severity::Warning),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `smallserial`, `serial` and `bigserial` columns.",
        why: "A serial is an integer column with a separately created sequence and a `nextval` default: the sequence needs its own grants, is easily left behind when tables are copied, and explicit inserts silently bypass it and cause later key collisions. Identity columns are SQL standard, own their sequence, and `GENERATED ALWAYS` refuses accidental explicit values.",
        fix: "Declare the column as its integer type with an identity, e.g. `{\"name\": \"id\", \"type\": \"bigint\", \"identity\": \"always\", \"primaryKey\": true}` instead of `bigserial`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "events", "columns": [{"name": "id", "type": "bigserial", "primaryKey": true}]}"#,
            at: &["columns[0].type"],
        },
        Firing {
            input: r#"{"tableName": "events", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "serial4", "primaryKey": true}]}}"#,
            at: &["schemaJson.columns[0].type"],
        },
    ],
    passes: &[
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "bigint", "identity": "always", "primaryKey": true}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        let base = match column.column_type {
            ColumnType::SmallSerial => "smallint",
            ColumnType::Serial => "integer",
            ColumnType::BigSerial => "bigint",
            _ => continue,
        };
        ctx.report(
            ctx.column_path(i, "type"),
            format!("Column \"{}\" uses {}; prefer an identity column", column.name, column.column_type),
            format!("Use \"type\": \"{base}\", \"identity\": \"always\" (SQL standard, owns its sequence, refuses accidental explicit values)"),
        );
    }
}
