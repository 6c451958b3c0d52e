//! `table.missing-schema`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// The registry creates tables, not schemas.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.missing-schema",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table whose schema does not exist on the target database.",
        why: "`CREATE TABLE` in a missing schema fails at apply, after review; schemas carry ownership and privileges that belong to the database's administrators, so the registry never creates one on its own.",
        fix: "Create the schema on the target first (`CREATE SCHEMA billing`, with the target role allowed to create in it), or use an existing schema.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "invoices", "schema": "billing", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
        at: &["schema"],
    }],
    passes: &[r#"{"tableName": "invoices", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#],
    environment: Some(r#"{"schemaExists": false, "live": true, "relations": {}, "constraints": {}, "types": {}}"#),
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(existing) = ctx.existing else { return };
    if existing.schema_exists != Some(false) || ctx.table.schema.is_none() {
        return;
    }
    let schema = ctx.table.schema_name();
    ctx.report(
        ctx.path("schema"),
        format!("Schema \"{schema}\" does not exist on the target"),
        format!("Create it on the target first (CREATE SCHEMA {schema}), or use an existing schema"),
    );
}
