//! `statement.type-change-rewrites`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags `ALTER COLUMN … TYPE` that makes PostgreSQL rewrite the table, judged from the column's type in the earlier files.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.type-change-rewrites",
    default_severity: Severity::Warning,
    strict_severity: Some(Severity::Error),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `ALTER COLUMN … TYPE` that makes PostgreSQL rewrite the table, judged from the column's type in the earlier files.",
        why: "A rewrite copies every row and rebuilds every index under an ACCESS EXCLUSIVE lock; reads and writes wait for all of it. Only some changes are free (`varchar(n)` to a longer `varchar` or `text`, `numeric(p,s)` to a larger precision).",
        fix: "Add a column of the new type, fill it in batches, switch readers over, then drop the old column.",
    },
    fires: &[Firing {
        input: "CREATE TABLE t (id int, n integer);\n-- next file\nALTER TABLE t ALTER COLUMN n TYPE bigint;",
        at: &["line 1"],
    }],
    passes: &["CREATE TABLE t (id int, s varchar(10));\n-- next file\nALTER TABLE t ALTER COLUMN s TYPE varchar(20);"],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    if let StatementAction::ChangeType { column, from: Some(from), to, rewrites: Some(true) } = &ctx.statement.action
        && ctx.on_existing_table()
    {
        let message =
            format!("Changing \"{column}\" from {from} to {to} rewrites {} under an ACCESS EXCLUSIVE lock", table(ctx));
        ctx.report(
            message,
            "Add a column of the new type, backfill it in batches, switch readers, then drop the old one".to_owned(),
        );
    }
}

fn table(ctx: &StatementContext<'_>) -> String {
    ctx.statement.table.as_deref().map_or_else(|| "the table".to_owned(), |t| format!("table {t}"))
}
