//! `statement.require-if-exists`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags `CREATE TABLE` and `CREATE INDEX` without `IF NOT EXISTS`, and `DROP TABLE` and `DROP INDEX` without `IF EXISTS`.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.require-if-exists",
    default_severity: Severity::Info,
    strict_severity: Some(Severity::Warning),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `CREATE TABLE` and `CREATE INDEX` without `IF NOT EXISTS`, and `DROP TABLE` and `DROP INDEX` without `IF EXISTS`.",
        why: "A migration that stopped half-way (a lost connection, a file run outside a transaction) cannot simply be run again.",
        fix: "Write `IF NOT EXISTS` / `IF EXISTS`.",
    },
    fires: &[Firing { input: "CREATE TABLE t (id int);\nDROP INDEX i;", at: &["line 1", "line 2"] }],
    passes: &["CREATE TABLE IF NOT EXISTS t (id int);\nDROP INDEX IF EXISTS i;"],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    let missing = match ctx.statement.action {
        StatementAction::CreateTable { if_not_exists: false, .. }
        | StatementAction::CreateIndex { if_not_exists: false, .. } => "IF NOT EXISTS",
        StatementAction::DropTable { if_exists: false, .. } | StatementAction::DropIndex { if_exists: false, .. } => {
            "IF EXISTS"
        }
        _ => return,
    };
    let message = format!("{} without {missing} fails when the migration runs a second time", ctx.statement.kind);
    ctx.report(message, format!("Write {} {missing}", ctx.statement.kind));
}
