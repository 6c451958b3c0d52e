//! `table.require-soft-delete`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Strict tables mark rows deleted instead of removing them.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.require-soft-delete",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Strict,
    doc: RuleDoc {
        what: "Flags a table with neither an `is_deleted boolean` nor a `deleted_at timestamptz` column; a column of one of those names with another type is flagged at its type.",
        why: "Seed 002 asks for soft deletes: rows are marked deleted rather than removed, so they can be restored, audited and still satisfy foreign keys from history tables.",
        fix: "Add `{\"name\": \"deleted_at\", \"type\": \"timestamptz\"}` (NULL while the row is live), or `{\"name\": \"is_deleted\", \"type\": \"boolean\", \"nullable\": false, \"defaultValue\": \"false\"}`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "posts", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["columns"],
        },
        Firing {
            input: r#"{"tableName": "posts", "schemaJson": {"tableName": "posts", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "deleted_at", "type": "timestamp"}]}}"#,
            at: &["schemaJson.columns[1].type"],
        },
    ],
    passes: &[
        r#"{"tableName": "posts", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "deleted_at", "type": "timestamptz"}]}"#,
        r#"{"tableName": "posts", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "is_deleted", "type": "bool", "nullable": false, "defaultValue": "false"}]}"#,
        r#"{"tableName": "posts", "columns": []}"#,
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
    let flag = ctx.table.column_index("is_deleted");
    let stamp = ctx.table.column_index("deleted_at");
    let flag_ok = flag.is_some_and(|i| ctx.table.columns[i].column_type == ColumnType::Boolean);
    let stamp_ok = stamp.is_some_and(|i| {
        matches!(ctx.table.columns[i].column_type, ColumnType::Timestamp { with_time_zone: true, .. })
    });
    if flag_ok || stamp_ok {
        return;
    }
    let mut reported = false;
    for (index, name, expected) in [(flag, "is_deleted", "boolean"), (stamp, "deleted_at", "timestamptz")] {
        if let Some(i) = index {
            ctx.report(
                ctx.column_path(i, "type"),
                format!("Soft-delete column \"{name}\" is {}, not {expected}", ctx.table.columns[i].column_type),
                format!("Change the type of \"{name}\" to {expected}"),
            );
            reported = true;
        }
    }
    if !reported {
        ctx.report(
            ctx.path("columns"),
            format!("Table \"{}\" has no soft-delete column", ctx.table.table_name),
            "Add deleted_at TIMESTAMPTZ (NULL while the row is live) or is_deleted BOOLEAN NOT NULL DEFAULT false"
                .to_owned(),
        );
    }
}
