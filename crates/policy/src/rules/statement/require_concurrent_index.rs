//! `statement.require-concurrent-index`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags `CREATE INDEX` without `CONCURRENTLY` on a table that existed before the file.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.require-concurrent-index",
    default_severity: Severity::Warning,
    strict_severity: Some(Severity::Error),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `CREATE INDEX` without `CONCURRENTLY` on a table that existed before the file.",
        why: "A plain index build holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the table waits until it ends, seconds to hours on a big table.",
        fix: "Write `CREATE INDEX CONCURRENTLY` in a migration that does not run in a transaction. An index on a table created in the same file needs nothing: nobody uses that table yet.",
    },
    fires: &[Firing { input: "CREATE INDEX idx_users_email ON users (email);", at: &["line 1"] }],
    passes: &[
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX idx_users_email ON users (email);",
        "CREATE INDEX CONCURRENTLY idx_users_email ON users (email);",
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    if let StatementAction::CreateIndex { concurrently: false, .. } = ctx.statement.action
        && ctx.on_existing_table()
    {
        let message = format!(
            "Building an index on {} without CONCURRENTLY blocks every write to the table until the build ends",
            table(ctx)
        );
        ctx.report(message, "Use CREATE INDEX CONCURRENTLY, in a migration that runs outside a transaction".to_owned());
    }
}

fn table(ctx: &StatementContext<'_>) -> String {
    ctx.statement.table.as_deref().map_or_else(|| "the table".to_owned(), |t| format!("table {t}"))
}
