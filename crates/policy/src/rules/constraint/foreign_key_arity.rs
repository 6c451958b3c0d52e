//! `constraint.foreign-key-arity`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A foreign key pairs each referencing column with one referenced column.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "constraint.foreign-key-arity",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table-level foreign key whose `columns` and `references.columns` lists differ in length.",
        why: "Referencing and referenced columns are matched pairwise, in order; PostgreSQL rejects a foreign key with unequal lists (`number of referencing and referenced columns for foreign key disagree`), so the table is not created.",
        fix: "List one referenced column for every referencing column, in the same order, usually the full primary key of the referenced table.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "order_items", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "order_id", "type": "uuid"}, {"name": "line", "type": "integer"}], "foreignKeys": [{"columns": ["order_id", "line"], "references": {"table": "order_lines", "columns": ["order_id"]}}]}"#,
        at: &["foreignKeys[0].references.columns"],
    }],
    passes: &[
        r#"{"tableName": "order_items", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "order_id", "type": "uuid"}, {"name": "line", "type": "integer"}], "foreignKeys": [{"columns": ["order_id", "line"], "references": {"table": "order_lines", "columns": ["order_id", "line"]}}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    for (i, fk) in ctx.table.foreign_keys.iter().enumerate() {
        let (from, to) = (fk.columns.len(), fk.references.columns.len());
        if from == to {
            continue;
        }
        // Table-level foreign keys follow the column references in `objects`.
        let name = objects
            .foreign_keys
            .iter()
            .find(|o| o.path == ctx.path(&format!("foreignKeys[{i}]")))
            .map_or(fk.references.table.as_str(), |o| o.name.as_str());
        ctx.report(
            ctx.path(&format!("foreignKeys[{i}].references.columns")),
            format!("Foreign key \"{name}\" has {from} referencing column(s) but {to} referenced column(s)"),
            format!(
                "List exactly {from} column(s) of \"{}\" in `references.columns`, matching {} in order",
                fk.references.table,
                fk.columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
            ),
        );
    }
}
