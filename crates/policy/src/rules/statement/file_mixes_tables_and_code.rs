//! `statement.file-mixes-tables-and-code`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags functions, procedures, triggers and grants in a file that also creates or changes tables.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.file-mixes-tables-and-code",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags functions, procedures, triggers and grants in a file that also creates or changes tables.",
        why: "Seed 003's finding: tables, code and permissions change at different paces and are reviewed by different people; mixed in one file, a function fix re-runs table DDL, and a grant for one environment lands in all of them.",
        fix: "Keep tables in their migrations, and functions, triggers and grants in files (or tools) of their own.",
    },
    fires: &[Firing {
        input: "CREATE TABLE t (id int);\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\nGRANT SELECT ON t TO reporting;",
        at: &["line 2", "line 3"],
    }],
    passes: &["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;"],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    if matches!(ctx.statement.action, StatementAction::Routine | StatementAction::Grant { .. })
        && ctx.statement.file_changes_tables
    {
        let message = format!("{} in a file that also changes tables", ctx.statement.kind);
        ctx.report(message, "Move functions, triggers and grants to files of their own".to_owned());
    }
}
