//! `column.primary-key-not-null`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A primary key column cannot be nullable.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.primary-key-not-null",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a primary key column (flagged with `primaryKey: true` or listed in the table's `primaryKey`) that is declared `nullable: true`.",
        why: "PostgreSQL makes every primary key column NOT NULL regardless, so `nullable: true` is a contradiction: either the author expects NULL keys that will be rejected at insert time, or the column was not meant to be part of the key.",
        fix: "Remove `\"nullable\": true` from the key column (or set it to `false`), or take the column out of the primary key.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true, "nullable": true}]}"#,
            at: &["columns[0].nullable"],
        },
        Firing {
            input: r#"{"tableName": "memberships", "schemaJson": {"tableName": "memberships", "columns": [{"name": "user_id", "type": "uuid"}, {"name": "team_id", "type": "uuid", "nullable": true}], "primaryKey": ["user_id", "team_id"]}}"#,
            at: &["schemaJson.columns[1].nullable"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "nickname", "type": "text", "nullable": true}]}"#,
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true, "nullable": false}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        let in_key = column.primary_key || ctx.table.primary_key.contains(&column.name);
        if in_key && column.nullable == Some(true) {
            ctx.report(
                ctx.column_path(i, "nullable"),
                format!("Primary key column \"{}\" is declared nullable", column.name),
                format!("Remove \"nullable\": true from \"{}\": primary key columns are always NOT NULL", column.name),
            );
        }
    }
}
