//! `statement.grant-to-named-user`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags `GRANT … TO` a role whose name looks like a person's or one environment's (`dev`, `test`, `local`, a dotted or e-mail-like name).
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.grant-to-named-user",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `GRANT … TO` a role whose name looks like a person's or one environment's (`dev`, `test`, `local`, a dotted or e-mail-like name).",
        why: "Seed 003's finding: a grant to a developer's own user in a migration reaches every environment the migration runs in, production included.",
        fix: "Grant to roles that exist in every environment (`app_reader`, `app_writer`) and give people membership outside the migrations.",
    },
    fires: &[Firing { input: "GRANT ALL ON accounts TO dev_john;", at: &["line 1"] }],
    passes: &["GRANT SELECT ON accounts TO app_reader;"],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    let StatementAction::Grant { grantees } = &ctx.statement.action else { return };
    let personal: Vec<String> = grantees
        .iter()
        .filter(|g| {
            let name = g.to_ascii_lowercase();
            name.contains('.')
                || name.contains('@')
                || ["dev", "test", "local", "tmp", "temp", "staging"].iter().any(|w| name.contains(w))
        })
        .cloned()
        .collect();
    if !personal.is_empty() {
        let message =
            format!("GRANT to {}, which looks like a person's or one environment's role", personal.join(", "));
        ctx.report(
            message,
            "Grant to roles every environment has, and manage people's membership outside migrations".to_owned(),
        );
    }
}
