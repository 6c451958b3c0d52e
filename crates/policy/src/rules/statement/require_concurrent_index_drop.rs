//! `statement.require-concurrent-index-drop`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags `DROP INDEX` without `CONCURRENTLY`, unless the index's table was created in the same file.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.require-concurrent-index-drop",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `DROP INDEX` without `CONCURRENTLY`, unless the index's table was created in the same file.",
        why: "A plain DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table: while it waits for running queries, every new query on the table queues behind it.",
        fix: "Write `DROP INDEX CONCURRENTLY`, in a migration that runs outside a transaction.",
    },
    fires: &[Firing { input: "DROP INDEX idx_users_email;", at: &["line 1"] }],
    passes: &[
        "DROP INDEX CONCURRENTLY IF EXISTS idx_users_email;",
        "CREATE TABLE t (id int);\nCREATE INDEX i ON t (id);\nDROP INDEX i;",
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    if let StatementAction::DropIndex { concurrently: false, .. } = ctx.statement.action
        && !ctx.statement.table_created_in_file
    {
        ctx.report(
            "Dropping an index without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table; every query queues behind it".to_owned(),
            "Use DROP INDEX CONCURRENTLY, in a migration that runs outside a transaction".to_owned(),
        );
    }
}
