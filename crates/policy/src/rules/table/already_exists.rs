//! `table.already-exists`

use schema_model::environment::{RelationKind, Source};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A create request for a table that is already there cannot do what it says.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.already-exists",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a request to create a table that already exists in its schema, on the live target or in the registry's catalog.",
        why: "`CREATE TABLE IF NOT EXISTS` would leave the existing table as it is, whatever its shape, and report success; the registry never adopts a table silently, so the apply would fail after review, or worse, a rollback would drop a table this request did not create.",
        fix: "Choose another table name, or drop the existing table first if it is an unused leftover. Changing a table the registry manages is a change request, not a create request.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
        at: &["tableName"],
    }],
    passes: &[r#"{"tableName": "accounts", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#],
    environment: Some(
        r#"{"schemaExists": true, "live": true, "relations": {"users": {"kind": "table", "table": null, "source": "live"}}, "constraints": {}, "types": {}}"#,
    ),
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(existing) = ctx.existing else { return };
    let table = ctx.table;
    let Some(found) = existing.relations.get(&table.table_name).filter(|r| r.kind == RelationKind::Table) else {
        return;
    };
    let (message, suggestion) = match found.source {
        Source::Catalog => (
            format!(
                "Table \"{}.{}\" is already managed by the registry on this target",
                table.schema_name(),
                table.table_name
            ),
            "Changes to a managed table come as a change request; to replace it, roll back its request first"
                .to_owned(),
        ),
        Source::Live => (
            format!(
                "Table \"{}.{}\" already exists on the target and was not created by the registry",
                table.schema_name(),
                table.table_name
            ),
            "Choose another table name; the registry does not adopt tables it did not create".to_owned(),
        ),
    };
    ctx.report(ctx.path("tableName"), message, suggestion);
}
