//! `index.foreign-key-covered`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Foreign key columns need an index on the referencing side.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "index.foreign-key-covered",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a foreign key whose columns are not the leading columns of a plain BTREE index (without `where`), the primary key or a unique constraint.",
        why: "PostgreSQL indexes the referenced side of a foreign key, not the referencing side. Every delete or key update on the parent table then scans this table to find referencing rows, holding locks while it does, and joins from parent to children scan too. Seeds 001, 002 and 004 all ask for indexes on foreign key columns.",
        fix: "Add an index whose columns start with the foreign key's columns, in the same order, for example `{\"columns\": [\"user_id\"]}`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid", "references": {"table": "users", "column": "id"}}]}"#,
            at: &["columns[1].references"],
        },
        Firing {
            input: r#"{"tableName": "order_items", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "order_id", "type": "uuid"}, {"name": "line", "type": "integer"}], "foreignKeys": [{"columns": ["order_id", "line"], "references": {"table": "order_lines", "columns": ["order_id", "line"]}}], "indexes": [{"columns": ["line", "order_id"]}, {"columns": ["order_id", "line"], "where": "line > 0"}]}"#,
            at: &["foreignKeys[0]"],
        },
    ],
    passes: &[
        r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid", "references": {"table": "users", "column": "id"}}, {"name": "org_id", "type": "uuid", "references": {"table": "orgs", "column": "id"}}, {"name": "parent_id", "type": "uuid", "unique": true, "references": {"table": "orders", "column": "id"}}], "indexes": [{"columns": ["user_id", "id"]}, {"columns": ["org_id"]}]}"#,
        r#"{"tableName": "memberships", "columns": [{"name": "user_id", "type": "uuid", "references": {"table": "users", "column": "id"}}, {"name": "team_id", "type": "uuid"}], "primaryKey": ["user_id", "team_id"]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    for fk in &objects.foreign_keys {
        // An empty column list is `index.require-columns`' business.
        if fk.columns.is_empty() || ctx.is_covered(&fk.columns) {
            continue;
        }
        let quoted = fk.columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        ctx.report(
            fk.path.clone(),
            format!("Foreign key \"{}\" on ({quoted}) has no index starting with its columns", fk.name),
            format!("Add {{\"columns\": [{quoted}]}} to indexes"),
        );
    }
}
