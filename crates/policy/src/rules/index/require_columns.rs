//! `index.require-columns`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Indexes, unique constraints and foreign keys need at least one column.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "index.require-columns",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags an index, table-level unique constraint or table-level foreign key whose `columns` list is empty.",
        why: "PostgreSQL has no syntax for an index or key over zero columns, so the generated DDL would be rejected; an empty list is usually a half-finished edit.",
        fix: "List the columns the object covers, or remove the object.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}], "indexes": [{"columns": []}]}"#,
            at: &["indexes[0].columns"],
        },
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}], "uniques": [{"columns": []}], "foreignKeys": [{"columns": [], "references": {"table": "orgs", "columns": []}}]}"#,
            at: &["uniques[0].columns", "foreignKeys[0].columns"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true, "unique": true}, {"name": "org_id", "type": "uuid"}], "indexes": [{"columns": ["org_id"]}], "uniques": [{"columns": ["id", "org_id"]}], "foreignKeys": [{"columns": ["org_id"], "references": {"table": "orgs", "columns": ["id"]}}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    let empty = objects
        .indexes
        .iter()
        .filter(|o| o.columns.is_empty())
        .map(|o| ("Index", &o.name, &o.path))
        .chain(objects.uniques.iter().filter(|o| o.columns.is_empty()).map(|o| ("Unique constraint", &o.name, &o.path)))
        .chain(objects.foreign_keys.iter().filter(|o| o.columns.is_empty()).map(|o| ("Foreign key", &o.name, &o.path)));
    for (kind, name, path) in empty {
        ctx.report(
            format!("{path}.columns"),
            format!("{kind} \"{name}\" has no columns"),
            "List at least one column of the table in `columns`, or remove it".to_owned(),
        );
    }
}
