//! `change.drops-column`

use schema_model::change::Change;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A dropped column takes its values with it.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "change.drops-column",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a change that drops a column of an existing table (a column missing from the new definition without a `renamedFrom` pointing at it).",
        why: "The column's values are gone the moment the change commits, and the way back can only add an empty column again. Application versions that still read or write it fail.",
        fix: "If the column was renamed, say so with `\"renamedFrom\"`. Otherwise stop using it first, keep what you need elsewhere, and drop it in a change of its own; turn this rule to a warning in the policy for tables where dropping is routine.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
        at: &["columns"],
    }],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}]}"#,
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "login", "type": "text", "renamedFrom": "email"}]}"#,
    ],
    environment: None,
    base: Some(
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}]}"#,
    ),
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(view) = ctx.change else { return };
    for change in view.changes {
        if let Change::DropColumn { column, .. } = change {
            ctx.report(
                ctx.path_of_change(change),
                format!("Column \"{}\" is dropped with all its values; the way back cannot restore them", column.name),
                "If it was renamed, add \"renamedFrom\" to the new column; otherwise drop it in a change of its own once nothing uses it".to_owned(),
            );
        }
    }
}
