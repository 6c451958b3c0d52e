//! `table.require-audit-user-columns`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Strict tables record who created and who last changed each row.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.require-audit-user-columns",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Strict,
    doc: RuleDoc {
        what: "Flags a table that lacks a `created_by` or an `updated_by` column, once per missing column.",
        why: "Seed 002's audit trail requirements ask every table to record which user or service created each row and which one changed it last; timestamps alone say when, not who.",
        fix: "Add `{\"name\": \"created_by\", \"type\": \"uuid\", \"nullable\": false}` and `{\"name\": \"updated_by\", \"type\": \"uuid\"}` (or `text` when actors are not users with UUIDs), and fill them from the application.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "invoices", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["columns", "columns"],
        },
        Firing {
            input: r#"{"tableName": "invoices", "schemaJson": {"tableName": "invoices", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "created_by", "type": "uuid", "nullable": false}]}}"#,
            at: &["schemaJson.columns"],
        },
    ],
    passes: &[
        r#"{"tableName": "invoices", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "created_by", "type": "uuid", "nullable": false}, {"name": "updated_by", "type": "uuid"}]}"#,
        r#"{"tableName": "invoices", "columns": []}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    // An empty table is `table.require-columns`' finding.
    if ctx.table.columns.is_empty() {
        return;
    }
    for (name, role) in [("created_by", "created each row"), ("updated_by", "last changed each row")] {
        if ctx.column(name).is_none() {
            ctx.report(
                ctx.path("columns"),
                format!("Table \"{}\" is missing the {name} audit column", ctx.table.table_name),
                format!(
                    "Add {{\"name\": \"{name}\", \"type\": \"uuid\"{}}} recording which user or service {role}",
                    if name == "created_by" { ", \"nullable\": false" } else { "" }
                ),
            );
        }
    }
}
