//! `statement.require-lock-timeout`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags a statement that locks an existing table when no `SET lock_timeout` ran earlier in the file.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.require-lock-timeout",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a statement that locks an existing table when no `SET lock_timeout` ran earlier in the file.",
        why: "A statement waiting for a lock blocks every query that comes after it on the table: behind one long report query, a one-millisecond ALTER TABLE stalls the application for as long as the report runs.",
        fix: "Start the migration with `SET lock_timeout = '5s';` (or `SET LOCAL` in its transaction) and retry it when it times out.",
    },
    fires: &[Firing { input: "ALTER TABLE users ADD COLUMN nickname text;", at: &["line 1"] }],
    passes: &[
        "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN nickname text;",
        "CREATE TABLE users (id int);\nALTER TABLE users ADD COLUMN nickname text;",
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    if ctx.statement.action.locks_table() && ctx.on_existing_table() && !ctx.statement.lock_timeout_set {
        let message = format!(
            "{} on {} waits for its lock without a lock_timeout, and every query on the table queues behind it",
            ctx.statement.kind,
            table(ctx)
        );
        ctx.report(
            message,
            "Begin the migration with SET lock_timeout = '5s' and retry it when it times out".to_owned(),
        );
    }
}

fn table(ctx: &StatementContext<'_>) -> String {
    ctx.statement.table.as_deref().map_or_else(|| "the table".to_owned(), |t| format!("table {t}"))
}
