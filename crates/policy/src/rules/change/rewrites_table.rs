//! `change.rewrites-table`

use schema_model::change::Change;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A change that makes PostgreSQL rewrite the table blocks it for as long as that takes.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "change.rewrites-table",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags changes that make PostgreSQL rewrite every row under an exclusive lock although no value is lost: a type change that is not in place (`integer` to `bigint`, `char` to `text`), or a new column with a volatile default (a serial, an identity, `gen_random_uuid()`, `clock_timestamp()`).",
        why: "Nothing can read or write the table while it is rewritten, and on a large table that is minutes to hours; queued queries pile up behind the lock and take the application down with them.",
        fix: "For a type: add a new column, copy in batches, switch, drop the old one. For a new column: add it without a default, set the default in the same change (it applies to new rows only), and fill existing rows in batches.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "events", "columns": [{"name": "id", "type": "bigint", "primaryKey": true}, {"name": "token", "type": "uuid", "defaultValue": "gen_random_uuid()"}]}"#,
        at: &["columns[1]", "columns[0].type"],
    }],
    passes: &[
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "integer", "primaryKey": true}, {"name": "token", "type": "uuid"}]}"#,
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "integer", "primaryKey": true}, {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"}]}"#,
    ],
    environment: None,
    base: Some(r#"{"tableName": "events", "columns": [{"name": "id", "type": "integer", "primaryKey": true}]}"#),
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(view) = ctx.change else { return };
    for change in view.changes {
        match change {
            Change::AddColumn { column, .. }
                if column.column_type.is_serial()
                    || column.identity.is_some()
                    || column.default_value.as_deref().is_some_and(schema_model::expr::is_volatile_default) =>
            {
                ctx.report(
                    ctx.path_of_change(change),
                    format!("New column \"{}\" has a value of its own in every row (a volatile default, a serial or an identity): PostgreSQL rewrites the whole table under an exclusive lock to add it", column.name),
                    "Add the column without a default, set the default in the same change for new rows, and fill the existing rows in batches".to_owned(),
                );
            }
            Change::ChangeType { column, from, to }
                if !from.changes_in_place_to(to) && super::narrows_type::widens(from, to) =>
            {
                ctx.report(
                    ctx.path_of_change(change),
                    format!("Column \"{column}\" changes from {from} to {to}: PostgreSQL rewrites the whole table under an exclusive lock for that"),
                    "Add a new column of the new type, copy in batches, move readers and writers over, then drop the old one".to_owned(),
                );
            }
            _ => {}
        }
    }
}
