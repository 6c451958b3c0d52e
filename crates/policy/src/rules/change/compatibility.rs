//! `change.compatibility`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// The table's compatibility level says which changes keep applications working.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "change.compatibility",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags each change the table's compatibility level forbids: under `BACKWARD` (the default) anything the application version before the change would trip over (dropped or renamed columns, narrower or rewritten types, new NOT NULL, new constraints, removed labels, dropped defaults); under `FORWARD` anything the application version after the change would rely on (the way back must be backward compatible); under `FULL` both; `NONE` allows everything.",
        why: "Applications are deployed while the table changes under them: with a level, a team states once how its readers and writers move, and the registry holds every change to it instead of a reviewer remembering.",
        fix: "Split the change into steps the level allows (add, migrate, then remove in a later change), or, when a breaking change is intended, lower the table's level in the request (`\"compatibility\": \"NONE\"`) so reviewers see that too.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text", "nullable": false}]}"#,
        at: &["columns[1].nullable"],
    }],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}, {"name": "nickname", "type": "text"}], "indexes": [{"columns": ["email"]}]}"#,
        r#"{"tableName": "users", "compatibility": "NONE", "schemaJson": {"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text", "nullable": false}]}}"#,
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
    let level = view.level;
    for change in view.changes {
        if let Some(why) = change.incompatible_at(level) {
            ctx.report(
                ctx.path_of_change(change),
                format!("Not allowed at compatibility level {}: {} is {why}", level.as_str(), change.describe()),
                "Split the change into steps the level allows, or lower the table's level in the request (\"compatibility\") so that reviewers see it".to_owned(),
            );
        }
    }
}
