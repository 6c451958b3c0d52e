//! `table.require-primary-key`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Every table needs a primary key.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.require-primary-key",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table with no primary key: no column has `primaryKey: true` and the table has no `primaryKey` list.",
        why: "Without a primary key rows cannot be addressed reliably, logical replication cannot replicate updates and deletes, and ORMs and foreign keys have nothing to point at.",
        fix: "Add a key column, preferably `{\"name\": \"id\", \"type\": \"uuid\", \"primaryKey\": true, \"defaultValue\": \"gen_random_uuid()\"}`, or list the key columns in the table's `primaryKey`.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "events", "columns": [{"name": "payload", "type": "jsonb"}]}"#,
        at: &["columns"],
    }],
    passes: &[
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
        r#"{"tableName": "memberships", "columns": [{"name": "user_id", "type": "uuid"}, {"name": "team_id", "type": "uuid"}], "primaryKey": ["user_id", "team_id"]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    if ctx.objects.primary_key.is_none() && !ctx.table.columns.is_empty() {
        ctx.report(
            ctx.path("columns"),
            format!("Table \"{}\" has no primary key", ctx.table.table_name),
            "Add an `id` column of type UUID with `primaryKey: true` and default `gen_random_uuid()`".to_owned(),
        );
    }
}
