//! `statement.unnamed-constraint`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags constraints declared without a name in `CREATE TABLE` or `ALTER TABLE … ADD`.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.unnamed-constraint",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags constraints declared without a name in `CREATE TABLE` or `ALTER TABLE … ADD`.",
        why: "Seed 003's finding: PostgreSQL names them itself (`orders_user_id_fkey`), differently across versions and after renames, so later migrations cannot name them reliably and error messages do not say which rule was broken.",
        fix: "Name every constraint (`CONSTRAINT fk_orders_user_id …`) after the naming convention.",
    },
    fires: &[Firing {
        input: "CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users (id), CHECK (id > 0));",
        at: &["line 1"],
    }],
    passes: &["CREATE TABLE orders (id int, CONSTRAINT pk_orders PRIMARY KEY (id));"],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    match &ctx.statement.action {
        StatementAction::CreateTable { unnamed_constraints, .. } if !unnamed_constraints.is_empty() => {
            let message =
                format!("{} declares constraints without names: {}", table(ctx), unnamed_constraints.join(", "));
            ctx.report(message, "Name each one: CONSTRAINT <name> …".to_owned());
        }
        StatementAction::AddConstraint { kind, name: None, .. } => {
            let message = format!("A {kind} on {} without a name", table(ctx));
            ctx.report(message, "Name it: ADD CONSTRAINT <name> …".to_owned());
        }
        _ => {}
    }
}

fn table(ctx: &StatementContext<'_>) -> String {
    ctx.statement.table.as_deref().map_or_else(|| "the table".to_owned(), |t| format!("table {t}"))
}
