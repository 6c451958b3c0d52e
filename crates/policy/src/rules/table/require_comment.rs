//! `table.require-comment`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Strict tables say what they are for.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.require-comment",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Strict,
    doc: RuleDoc {
        what: "Flags a table without a `comment`, or with a blank one.",
        why: "A `COMMENT ON TABLE` travels with the database: it shows up in `\\d+`, schema browsers and generated documentation, and tells the next engineer what a row stands for and who owns the data, long after the request is forgotten.",
        fix: "Add `\"comment\": \"...\"` to the table definition, saying what one row represents and which service writes it.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "sessions", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &[""],
        },
        Firing {
            input: r#"{"tableName": "sessions", "schemaJson": {"tableName": "sessions", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}], "comment": "  "}}"#,
            at: &["schemaJson"],
        },
    ],
    passes: &[
        r#"{"tableName": "sessions", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}], "comment": "One login session per row; written by the auth service."}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    if ctx.table.comment.as_deref().is_some_and(|c| !c.trim().is_empty()) {
        return;
    }
    ctx.report(
        ctx.path(""),
        format!("Table \"{}\" has no comment", ctx.table.table_name),
        "Add \"comment\": \"<what one row represents and which service writes it>\" to the table definition".to_owned(),
    );
}
