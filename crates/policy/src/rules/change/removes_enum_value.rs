//! `change.removes-enum-value`

use schema_model::change::Change;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// PostgreSQL cannot remove or reorder enum labels.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "change.removes-enum-value",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a change that removes a label from an enum type, or changes the order of the labels it keeps.",
        why: "PostgreSQL can add labels to an enum type but never remove or reorder them; rows may hold the label, and there is no safe statement for it.",
        fix: "Keep the label (stop writing it in the application), or move the column to a new enum type: add a column of the new type, copy with a mapping, switch, drop the old column and type.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "tasks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "state", "type": "task_state"}], "enums": [{"name": "task_state", "values": ["open"]}]}"#,
        at: &["enums[0].values"],
    }],
    passes: &[
        r#"{"tableName": "tasks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "state", "type": "task_state"}], "enums": [{"name": "task_state", "values": ["open", "done", "archived"]}]}"#,
    ],
    environment: None,
    base: Some(
        r#"{"tableName": "tasks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "state", "type": "task_state"}], "enums": [{"name": "task_state", "values": ["open", "done"]}]}"#,
    ),
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(view) = ctx.change else { return };
    for change in view.changes {
        if let Change::RemoveEnumValue { type_name, value } = change {
            ctx.report(
                ctx.path_of_change(change),
                format!("Label '{value}' of enum type {type_name} is removed or moved: PostgreSQL cannot remove or reorder enum labels"),
                "Keep the label in place (and stop writing it), or move the column to a new enum type in steps".to_owned(),
            );
        }
    }
}
