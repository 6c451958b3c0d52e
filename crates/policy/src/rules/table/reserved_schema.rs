//! `table.reserved-schema`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Schemas that belong to PostgreSQL or to the registry itself.
pub(crate) const RESERVED: &[&str] = &["information_schema", "registry", "schema_registry"];

/// System schemas and the registry's own are not places for tables.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.reserved-schema",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table in a system schema (`pg_catalog`, any `pg_*` schema such as `pg_temp` or `pg_toast`, `information_schema`) or in the registry's own schemas (`registry`, and `schema_registry`, its history on every target).",
        why: "System schemas are PostgreSQL's: a table in `pg_temp` vanishes with the session that made it (the apply would report a table that never exists), `pg_catalog` refuses user tables. The registry's own schemas hold its audit trail and history, which requests must never touch.",
        fix: "Put the table in `public` or in a schema of the application's own.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "sessions", "schema": "pg_temp", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["schema"],
        },
        Firing {
            input: r#"{"tableName": "audit_log", "schemaJson": {"tableName": "audit_log", "schema": "registry", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}}"#,
            at: &["schemaJson.schema"],
        },
    ],
    passes: &[
        r#"{"tableName": "sessions", "schema": "app", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(schema) = ctx.table.schema.as_deref() else { return };
    let folded = schema.to_lowercase();
    if folded.starts_with("pg_") || RESERVED.contains(&folded.as_str()) {
        let whose = if folded.starts_with("pg_") || folded == "information_schema" {
            "PostgreSQL's"
        } else {
            "the registry's own"
        };
        ctx.report(
            ctx.path("schema"),
            format!("Schema \"{schema}\" is {whose}; tables cannot be requested there"),
            "Use public or a schema of the application's own".to_owned(),
        );
    }
}
