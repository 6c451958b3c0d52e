//! `statement.concurrently-in-transaction`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags `CREATE INDEX CONCURRENTLY` and `DROP INDEX CONCURRENTLY` inside a transaction.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.concurrently-in-transaction",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `CREATE INDEX CONCURRENTLY` and `DROP INDEX CONCURRENTLY` inside a transaction.",
        why: "PostgreSQL refuses them there (`cannot run inside a transaction block`): the migration fails. Migration tools run each file in a transaction unless told otherwise.",
        fix: "Mark the migration as running outside a transaction (diesel `run_in_transaction = false`, sqlx `-- no-transaction`, dbmate `transaction:false`, goose `-- +goose NO TRANSACTION`) and keep the statement alone in it.",
    },
    fires: &[Firing {
        input: "BEGIN;\nCREATE INDEX CONCURRENTLY idx_users_email ON users (email);\nCOMMIT;",
        at: &["line 2"],
    }],
    passes: &["CREATE INDEX CONCURRENTLY idx_users_email ON users (email);"],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    let concurrently = matches!(
        ctx.statement.action,
        StatementAction::CreateIndex { concurrently: true, .. } | StatementAction::DropIndex { concurrently: true, .. }
    );
    if concurrently && ctx.statement.in_transaction {
        ctx.report(
            format!("{} CONCURRENTLY cannot run inside a transaction block: PostgreSQL refuses it", ctx.statement.kind),
            "Run this migration outside a transaction (its tool's no-transaction marker), with the statement alone in it".to_owned(),
        );
    }
}
