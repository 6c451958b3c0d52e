//! `statement.volatile-default`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags a column added to an existing table with a default that differs per row (`gen_random_uuid()`, `random()`, `clock_timestamp()`, `nextval(…)`).
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.volatile-default",
    default_severity: Severity::Warning,
    strict_severity: Some(Severity::Error),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a column added to an existing table with a default that differs per row (`gen_random_uuid()`, `random()`, `clock_timestamp()`, `nextval(…)`).",
        why: "PostgreSQL stores a constant (or `now()`) default once, but a volatile one is computed for every row: the whole table is rewritten under an ACCESS EXCLUSIVE lock.",
        fix: "Add the column without a default, set the default for new rows in the same migration, and fill the existing rows in batches.",
    },
    fires: &[Firing { input: "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();", at: &["line 1"] }],
    passes: &[
        "ALTER TABLE users ADD COLUMN active boolean DEFAULT true;",
        "ALTER TABLE users ADD COLUMN seen_at timestamptz DEFAULT now();",
        "CREATE TABLE users (id int);\nALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    if let StatementAction::AddColumn { column, volatile_default: Some(default), .. } = &ctx.statement.action
        && ctx.on_existing_table()
    {
        let message = format!(
            "Column \"{column}\" gets DEFAULT {default}, a value per row: PostgreSQL rewrites {} under an exclusive lock",
            table(ctx)
        );
        ctx.report(
            message,
            "Add it without a default, SET DEFAULT for new rows, then fill the existing rows in batches".to_owned(),
        );
    }
}

fn table(ctx: &StatementContext<'_>) -> String {
    ctx.statement.table.as_deref().map_or_else(|| "the table".to_owned(), |t| format!("table {t}"))
}
