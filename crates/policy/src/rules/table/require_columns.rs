//! `table.require-columns`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A table needs at least one column.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.require-columns",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table whose `columns` list is empty.",
        why: "A table without columns cannot hold data, cannot have a primary key and is almost always an incomplete request; the generated migration would create an empty shell that every later change has to rebuild.",
        fix: "Declare the table's columns, starting with a key column such as `{\"name\": \"id\", \"type\": \"uuid\", \"primaryKey\": true, \"defaultValue\": \"gen_random_uuid()\"}`.",
    },
    fires: &[
        Firing { input: r#"{"tableName": "events", "columns": []}"#, at: &["columns"] },
        Firing {
            input: r#"{"tableName": "events", "owner": "analytics", "schemaJson": {"tableName": "events", "columns": []}}"#,
            at: &["schemaJson.columns"],
        },
    ],
    passes: &[r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    if ctx.table.columns.is_empty() {
        ctx.report(
            ctx.path("columns"),
            format!("Table \"{}\" has no columns", ctx.table.table_name),
            "Add the table's columns, starting with {\"name\": \"id\", \"type\": \"uuid\", \"primaryKey\": true, \"defaultValue\": \"gen_random_uuid()\"}".to_owned(),
        );
    }
}
