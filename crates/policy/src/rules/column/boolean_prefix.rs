//! `column.boolean-prefix`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Boolean names read as questions: `is_active`, `has_avatar`.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.boolean-prefix",
    default_severity: Severity::Info,
    strict_severity: None,
    preset: Preset::Strict,
    doc: RuleDoc {
        what: "Flags `boolean` columns whose name does not start with `is_`, `has_`, `can_`, `should_` or `was_`.",
        why: "Seed 002 names flags like `is_active`: a prefix makes the column read as a yes/no question in queries (`WHERE is_active`), tells it apart from a status or timestamp column (`active` vs `activated_at`), and keeps naming uniform across tables.",
        fix: "Rename the column with a question prefix, e.g. `active` to `is_active`, `avatar` to `has_avatar`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "active", "type": "boolean"}]}"#,
            at: &["columns[1].name"],
        },
        Firing {
            input: r#"{"tableName": "users", "schemaJson": {"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "verified", "type": "bool"}]}}"#,
            at: &["schemaJson.columns[1].name"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "is_active", "type": "boolean"}, {"name": "has_avatar", "type": "boolean"}, {"name": "can_post", "type": "boolean"}, {"name": "should_notify", "type": "boolean"}, {"name": "was_migrated", "type": "boolean"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

/// Prefixes that make a boolean read as a question.
const PREFIXES: &[&str] = &["is_", "has_", "can_", "should_", "was_"];

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if column.column_type != ColumnType::Boolean || PREFIXES.iter().any(|p| column.name.starts_with(p)) {
            continue;
        }
        ctx.report(
            ctx.column_path(i, "name"),
            format!("Boolean column \"{}\" does not start with is_, has_, can_, should_ or was_", column.name),
            format!("Rename it to \"is_{}\" (or another question prefix that reads naturally)", column.name),
        );
    }
}
