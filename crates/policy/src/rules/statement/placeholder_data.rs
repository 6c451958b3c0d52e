//! `statement.placeholder-data`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags `INSERT`/`UPDATE` with placeholder values (`example.com`, `test`, `lorem`, `TODO`, `changeme`, `xxx`).
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.placeholder-data",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `INSERT`/`UPDATE` with placeholder values (`example.com`, `test`, `lorem`, `TODO`, `changeme`, `xxx`).",
        why: "Seed 003's finding: sample rows written into schema files end up in production, sometimes with working credentials.",
        fix: "Keep seed data in seed scripts that only development runs.",
    },
    fires: &[Firing {
        input: "INSERT INTO users (email, password) VALUES ('admin@example.com', 'changeme');",
        at: &["line 1"],
    }],
    passes: &["INSERT INTO currencies (code) VALUES ('EUR'), ('USD');"],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    let StatementAction::Data { literals } = &ctx.statement.action else { return };
    let found: Vec<&String> = literals
        .iter()
        .filter(|l| {
            let text = l.to_ascii_lowercase();
            [
                "example.com",
                "example.org",
                "lorem",
                "todo",
                "changeme",
                "xxx",
                "dummy",
                "foobar",
                "test@",
                "password123",
            ]
            .iter()
            .any(|p| text.contains(p))
                || text == "test"
        })
        .collect();
    if let Some(first) = found.first() {
        let message = format!("Placeholder data ('{first}') in a schema migration");
        ctx.report(message, "Move sample rows to a development-only seed script".to_owned());
    }
}
