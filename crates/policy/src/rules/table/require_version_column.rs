//! `table.require-version-column`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Strict tables carry a row version for optimistic locking.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.require-version-column",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Strict,
    doc: RuleDoc {
        what: "Flags a table without a `version` column, and a `version` column that is not a plain `integer`/`bigint`/`smallint` or that allows NULL.",
        why: "Seed 002 asks for optimistic locking: every update checks and increments `version`, so two writers cannot silently overwrite each other. A nullable or non-integer version breaks the `version = version + 1` comparison.",
        fix: "Add `{\"name\": \"version\", \"type\": \"integer\", \"nullable\": false, \"defaultValue\": \"1\"}` and update with `... SET version = version + 1 WHERE id = $1 AND version = $2`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["columns"],
        },
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "version", "type": "text", "nullable": false}]}"#,
            at: &["columns[1].type"],
        },
        Firing {
            input: r#"{"tableName": "orders", "schemaJson": {"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "version", "type": "integer"}]}}"#,
            at: &["schemaJson.columns[1]"],
        },
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "version", "type": "integer", "nullable": true}]}"#,
            at: &["columns[1].nullable"],
        },
    ],
    passes: &[
        r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "version", "type": "integer", "nullable": false, "defaultValue": "1"}]}"#,
        r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "version", "type": "int8", "nullable": false}]}"#,
        r#"{"tableName": "orders", "columns": []}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    // An empty table is `table.require-columns`' finding.
    if ctx.table.columns.is_empty() {
        return;
    }
    let Some(i) = ctx.table.column_index("version") else {
        ctx.report(
            ctx.path("columns"),
            format!("Table \"{}\" has no version column for optimistic locking", ctx.table.table_name),
            "Add version INTEGER NOT NULL DEFAULT 1 and increment it on every update".to_owned(),
        );
        return;
    };
    let column = &ctx.table.columns[i];
    if !matches!(column.column_type, ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt) {
        ctx.report(
            ctx.column_path(i, "type"),
            format!("Version column \"version\" is {}, not an integer", column.column_type),
            "Use \"type\": \"integer\" (a plain counter, not a serial or identity)".to_owned(),
        );
    }
    if !ctx.table.is_not_null(column) {
        let path = ctx.column_path(i, if column.nullable.is_some() { "nullable" } else { "" });
        ctx.report(
            path,
            "Version column \"version\" allows NULL".to_owned(),
            "Set \"nullable\": false and \"defaultValue\": \"1\" so every row starts at version 1".to_owned(),
        );
    }
}
