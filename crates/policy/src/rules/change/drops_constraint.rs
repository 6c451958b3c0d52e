//! `change.drops-constraint`

use schema_model::change::{Change, Constraint};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Without the constraint, duplicates and orphans can come in.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "change.drops-constraint",
    default_severity: Severity::Warning,
    strict_severity: Some(Severity::Error),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a change that drops a unique, primary key or foreign key constraint (one that is not added again under the same name).",
        why: "From then on the database no longer refuses duplicates or rows that point nowhere, and putting the constraint back later fails if any came in; code that relied on the guarantee (upserts, joins) quietly changes meaning.",
        fix: "Make sure nothing relies on the guarantee, or keep the constraint; to change one, change its definition (the registry rebuilds it without a long lock).",
    },
    fires: &[Firing {
        input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}]}"#,
        at: &[""],
    }],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text", "unique": true}]}"#,
    ],
    environment: None,
    base: Some(
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text", "unique": true}]}"#,
    ),
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(view) = ctx.change else { return };
    for change in view.changes {
        let Change::DropConstraint { constraint } = change else { continue };
        if matches!(constraint, Constraint::Check(_)) {
            continue;
        }
        let added_again = view
            .changes
            .iter()
            .any(|c| matches!(c, Change::AddConstraint { constraint: other } if other.name() == constraint.name()));
        if !added_again {
            ctx.report(
                ctx.path_of_change(change),
                format!(
                    "The {} {} is dropped: the database no longer refuses the rows it kept out",
                    constraint.word(),
                    constraint.name()
                ),
                "Keep it unless nothing relies on it; to change it, change its definition instead".to_owned(),
            );
        }
    }
}
