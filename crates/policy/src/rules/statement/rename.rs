//! `statement.rename`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags renaming a column or a table that existed before the file.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.rename",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags renaming a column or a table that existed before the file.",
        why: "Every reader and writer that uses the old name fails from the moment the migration commits until it is deployed anew; the application version before cannot run beside the one after.",
        fix: "Add the new name (a column, or a view for a table), write both, move readers over, then drop the old one.",
    },
    fires: &[Firing {
        input: "ALTER TABLE users RENAME COLUMN email TO email_address;\nALTER TABLE users RENAME TO accounts;",
        at: &["line 1", "line 2"],
    }],
    passes: &["CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;"],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    let message = match &ctx.statement.action {
        StatementAction::RenameColumn { from, to } => format!(
            "Renaming column \"{from}\" of {} to \"{to}\" breaks every query that uses the old name",
            table(ctx)
        ),
        StatementAction::RenameTable { to } => {
            format!("Renaming {} to \"{to}\" breaks every query that uses the old name", table(ctx))
        }
        _ => return,
    };
    if ctx.on_existing_table() {
        ctx.report(
            message,
            "Add the new name beside the old one, move readers and writers over, then drop the old name".to_owned(),
        );
    }
}

fn table(ctx: &StatementContext<'_>) -> String {
    ctx.statement.table.as_deref().map_or_else(|| "the table".to_owned(), |t| format!("table {t}"))
}
