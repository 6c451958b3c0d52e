//! `column.duplicate-name`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Column names are unique within a table.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.duplicate-name",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a column whose name was already used by an earlier column of the same table.",
        why: "PostgreSQL refuses `CREATE TABLE` with two columns of the same name (`column specified more than once`), so the migration would fail; and every rule or index that refers to the name would be ambiguous.",
        fix: "Rename or remove the later column so that every column name is unique.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}, {"name": "email", "type": "text", "unique": true}]}"#,
            at: &["columns[2].name"],
        },
        Firing {
            input: r#"{"tableName": "users", "schemaJson": {"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "id", "type": "integer"}]}}"#,
            at: &["schemaJson.columns[1].name"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        let Some(first) = ctx.table.columns[..i].iter().position(|c| c.name == column.name) else {
            continue;
        };
        ctx.report(
            ctx.column_path(i, "name"),
            format!("Column \"{}\" is declared twice (columns[{first}] and columns[{i}])", column.name),
            format!("Rename or remove one of the two \"{}\" columns", column.name),
        );
    }
}
