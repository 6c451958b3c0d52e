//! `change.not-null-without-default`

use schema_model::change::Change;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A new NOT NULL column needs a value for the rows that are there.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "change.not-null-without-default",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a new NOT NULL column without a default on an existing table.",
        why: "The rows the table already has would hold NULL in it, so PostgreSQL refuses the change as soon as the table has a row; and inserts from application versions that do not know the column are refused too.",
        fix: "Give it a constant default, or add it allowing NULL, fill it in batches, and require NOT NULL in a later change (which the registry does without a long lock).",
    },
    fires: &[Firing {
        input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "country", "type": "text", "nullable": false}]}"#,
        at: &["columns[1]"],
    }],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "country", "type": "text", "nullable": false, "defaultValue": "'CH'"}]}"#,
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "country", "type": "text"}]}"#,
    ],
    environment: None,
    base: Some(r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#),
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(view) = ctx.change else { return };
    for change in view.changes {
        if let Change::AddColumn { column, not_null: true } = change
            && column.default_value.is_none()
            && column.identity.is_none()
            && !column.column_type.is_serial()
        {
            ctx.report(
                ctx.path_of_change(change),
                format!("New column \"{}\" is NOT NULL without a default: the rows the table has would hold NULL, so PostgreSQL refuses it once the table has a row", column.name),
                "Give it a constant default, or add it allowing NULL, fill it, and require NOT NULL in a later change".to_owned(),
            );
        }
    }
}
