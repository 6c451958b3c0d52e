//! `statement.set-not-null`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags `SET NOT NULL` on an existing table's column without a validated `CHECK (column IS NOT NULL)`.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.set-not-null",
    default_severity: Severity::Warning,
    strict_severity: Some(Severity::Error),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `SET NOT NULL` on an existing table's column without a validated `CHECK (column IS NOT NULL)`.",
        why: "PostgreSQL scans the whole table to prove there is no NULL while it holds an ACCESS EXCLUSIVE lock; with a validated check of that (PostgreSQL 12+) it skips the scan.",
        fix: "Add `CHECK (column IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it, then `SET NOT NULL` and drop the check.",
    },
    fires: &[Firing { input: "ALTER TABLE users ALTER COLUMN email SET NOT NULL;", at: &["line 1"] }],
    passes: &[
        "ALTER TABLE users ADD CONSTRAINT ck_users_email_not_null CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT ck_users_email_not_null;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    if let StatementAction::SetNotNull { column, proven_by_check: false } = &ctx.statement.action
        && ctx.on_existing_table()
    {
        let message = format!("SET NOT NULL on \"{column}\" scans {} under an ACCESS EXCLUSIVE lock", table(ctx));
        ctx.report(message, format!("Add CHECK ({column} IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL"));
    }
}

fn table(ctx: &StatementContext<'_>) -> String {
    ctx.statement.table.as_deref().map_or_else(|| "the table".to_owned(), |t| format!("table {t}"))
}
