//! `safety.unsafe-default`

use schema_model::expr::{ExprContext, parse_safe};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Defaults are SQL text; only a vetted subset may reach a migration.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "safety.unsafe-default",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a `defaultValue` that is not a single expression of the safe subset: literals, casts to built-in types, arithmetic and comparison operators, and the value generators `gen_random_uuid()`, `now()`, `CURRENT_TIMESTAMP`, `CURRENT_DATE` and the like.",
        why: "A default is pasted into generated DDL. Anything beyond a plain expression (a second statement, a subquery, an arbitrary function such as `pg_sleep` or `dblink`, a dollar-quoted string) could run code with the migration's privileges or break the migration.",
        fix: "Write a literal (`'pending'`, `0`, `true`, `'{}'::jsonb`) or one of the allowed functions; compute anything else in the application or a reviewed trigger.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "t", "columns": [{"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid(); DROP TABLE users"}]}"#,
            at: &["columns[0].defaultValue"],
        },
        Firing {
            input: r#"{"tableName": "t", "columns": [{"name": "id", "type": "integer", "primaryKey": true, "defaultValue": "(SELECT max(id) FROM t)"}]}"#,
            at: &["columns[0].defaultValue"],
        },
        Firing {
            input: r#"{"tableName": "t", "columns": [{"name": "id", "type": "integer", "primaryKey": true}, {"name": "n", "type": "integer", "defaultValue": "pg_sleep(100)"}]}"#,
            at: &["columns[1].defaultValue"],
        },
    ],
    passes: &[
        r#"{"tableName": "t", "columns": [{"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"}, {"name": "status", "type": "text", "defaultValue": "'pending'"}, {"name": "data", "type": "jsonb", "defaultValue": "'{}'::jsonb"}, {"name": "at", "type": "timestamptz", "defaultValue": "CURRENT_TIMESTAMP"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        let Some(default) = &column.default_value else { continue };
        if let Err(error) = parse_safe(default, ExprContext::Default) {
            ctx.report(
                ctx.column_path(i, "defaultValue"),
                format!("Default of column \"{}\" is not allowed: {error}", column.name),
                "Use a literal, a cast literal such as '{}'::jsonb, or gen_random_uuid(), now(), CURRENT_TIMESTAMP"
                    .to_owned(),
            );
        }
    }
}
