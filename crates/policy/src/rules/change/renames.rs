//! `change.renames`

use schema_model::change::Change;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A rename breaks every query that uses the old name.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "change.renames",
    default_severity: Severity::Warning,
    strict_severity: Some(Severity::Error),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a change that renames a table or a column.",
        why: "The rename itself is instant, but every query, view, report and application version that names the old name fails from the moment it commits; readers and writers cannot move over gradually.",
        fix: "Add the new column next to the old one, write both, move readers over, then drop the old one in a later change; or rename together with a deploy that is ready for it.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "login", "type": "text", "renamedFrom": "email"}]}"#,
            at: &["columns[1].renamedFrom"],
        },
        Firing {
            input: r#"{"tableName": "accounts", "renamedFrom": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}]}"#,
            at: &["renamedFrom"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}, {"name": "login", "type": "text"}]}"#,
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
        let (what, from, to) = match change {
            Change::RenameColumn { from, to } => ("Column", from, to),
            Change::RenameTable { from, to } => ("Table", from, to),
            _ => continue,
        };
        ctx.report(
            ctx.path_of_change(change),
            format!("{what} \"{from}\" is renamed to \"{to}\": every query that uses the old name fails from then on"),
            "Add the new name alongside, move readers and writers over, then drop the old one; or deploy code that uses the new name together with this change".to_owned(),
        );
    }
}
