//! `statement.add-not-null-column`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags a `NOT NULL` column without a default added to an existing table.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.add-not-null-column",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a `NOT NULL` column without a default added to an existing table.",
        why: "It fails as soon as the table has a row (the new column would be NULL there), so the migration works in development and breaks in production.",
        fix: "Add the column with a constant default, or nullable; backfill; then require NOT NULL in a later migration.",
    },
    fires: &[Firing { input: "ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;", at: &["line 1"] }],
    passes: &[
        "ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL DEFAULT 0;",
        "ALTER TABLE users ADD COLUMN tenant_id bigint;",
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    if let StatementAction::AddColumn { column, not_null_without_default: true, .. } = &ctx.statement.action
        && ctx.on_existing_table()
    {
        let message = format!(
            "Column \"{column}\" is NOT NULL without a default: adding it to {} fails once the table has rows",
            table(ctx)
        );
        ctx.report(
            message,
            "Add it with a constant default, or nullable and backfilled, then SET NOT NULL later".to_owned(),
        );
    }
}

fn table(ctx: &StatementContext<'_>) -> String {
    ctx.statement.table.as_deref().map_or_else(|| "the table".to_owned(), |t| format!("table {t}"))
}
