//! `table.single-primary-key`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A table has one primary key, declared in one place.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.single-primary-key",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table where more than one column has `primaryKey: true`, or where the column flag and the table's `primaryKey` list are both used.",
        why: "A table has exactly one primary key. Flagging several columns reads like several keys, and PostgreSQL rejects `PRIMARY KEY` on more than one column definition; mixing the flag with the table list leaves it unclear which key was meant.",
        fix: "Flag a single column with `primaryKey: true`, or for a composite key remove the column flags and list the key columns in the table's `primaryKey`, e.g. `\"primaryKey\": [\"user_id\", \"team_id\"]`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "memberships", "columns": [{"name": "user_id", "type": "uuid", "primaryKey": true}, {"name": "team_id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["columns[1].primaryKey"],
        },
        Firing {
            input: r#"{"tableName": "memberships", "columns": [{"name": "user_id", "type": "uuid", "primaryKey": true}, {"name": "team_id", "type": "uuid"}], "primaryKey": ["user_id", "team_id"]}"#,
            at: &["primaryKey"],
        },
        Firing {
            input: r#"{"tableName": "memberships", "schemaJson": {"tableName": "memberships", "columns": [{"name": "user_id", "type": "uuid", "primaryKey": true}, {"name": "team_id", "type": "uuid", "primaryKey": true}]}}"#,
            at: &["schemaJson.columns[1].primaryKey"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}]}"#,
        r#"{"tableName": "memberships", "columns": [{"name": "user_id", "type": "uuid"}, {"name": "team_id", "type": "uuid"}], "primaryKey": ["user_id", "team_id"]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let flagged: Vec<(usize, &str)> = ctx
        .table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.primary_key)
        .map(|(i, c)| (i, c.name.as_str()))
        .collect();
    let quoted = |names: &[&str]| names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");

    if !ctx.table.primary_key.is_empty() {
        if !flagged.is_empty() {
            let names: Vec<&str> = flagged.iter().map(|(_, n)| *n).collect();
            let list: Vec<&str> = ctx.table.primary_key.iter().map(String::as_str).collect();
            ctx.report(
                ctx.path("primaryKey"),
                format!(
                    "Table \"{}\" declares its primary key both in \"primaryKey\" ({}) and with the column flag on {}",
                    ctx.table.table_name,
                    quoted(&list),
                    quoted(&names)
                ),
                format!(
                    "Remove \"primaryKey\": true from {} and keep the key in the table's \"primaryKey\" list",
                    quoted(&names)
                ),
            );
        }
        return;
    }

    if let [_, (second, _), ..] = flagged.as_slice() {
        let names: Vec<&str> = flagged.iter().map(|(_, n)| *n).collect();
        let list = quoted(&names);
        ctx.report(
            ctx.column_path(*second, "primaryKey"),
            format!("Table \"{}\" flags {} columns as primary key: {}", ctx.table.table_name, names.len(), quoted(&names)),
            format!(
                "For a composite key remove the column flags and add \"primaryKey\": [{list}] to the table; otherwise keep the flag on one column only"
            ),
        );
    }
}
