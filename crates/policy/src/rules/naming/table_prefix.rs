//! `naming.table-prefix`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// With a configured prefix, table names read `{component}_{entity}` (seed 002).
pub(crate) const RULE: RuleDef = RuleDef {
    id: "naming.table-prefix",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Strict,
    doc: RuleDoc {
        what: "Flags a table whose name does not start with the prefix configured as `table_prefix` in the policy's `[naming]` table, or that is nothing but the prefix. When no prefix is configured the rule does nothing.",
        why: "Seed 002 names tables `{component}_{entity}` (`billing_invoices`), so that the owning component is visible in every query, lock report and dashboard, and two components cannot both create a `settings` table.",
        fix: "Rename the table to start with the configured prefix followed by the entity name, for example `billing_invoices` for the prefix `billing_`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["tableName"],
        },
        Firing {
            input: r#"{"tableName": "app_", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["tableName"],
        },
    ],
    passes: &[r#"{"tableName": "app_users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(prefix) = ctx.naming.table_prefix.as_deref().filter(|p| !p.is_empty()) else {
        return;
    };
    let name = ctx.table.table_name.as_str();
    match name.strip_prefix(prefix) {
        Some(entity) if !entity.is_empty() => {}
        Some(_) => ctx.report(
            ctx.path("tableName"),
            format!("Table name \"{name}\" is only the prefix \"{prefix}\""),
            format!("Add the entity after the prefix, for example \"{prefix}items\""),
        ),
        None => ctx.report(
            ctx.path("tableName"),
            format!("Table name \"{name}\" does not start with the required prefix \"{prefix}\""),
            format!("Rename the table to \"{prefix}{name}\""),
        ),
    }
}
