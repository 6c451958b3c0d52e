//! `constraint.foreign-key-on-delete`

use schema_model::table::ReferentialAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Every foreign key states what happens when its parent row goes away.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "constraint.foreign-key-on-delete",
    default_severity: Severity::Info,
    strict_severity: Some(Severity::Warning),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a foreign key without `onDelete`, and one whose `onDelete` or `onUpdate` is `SET NULL` (or `SET DEFAULT` with no default) on a column that is NOT NULL.",
        why: "Without `onDelete` PostgreSQL uses NO ACTION, which is rarely a conscious choice: deleting a parent then fails as long as children exist. Seed 002 asks for explicit CASCADE or RESTRICT rules. `SET NULL` on a NOT NULL column is a latent bug: the delete that should detach the children fails with a not-null violation instead.",
        fix: "Set `onDelete` to `CASCADE` when the rows belong to their parent, `RESTRICT` when the parent must not disappear while referenced, or `SET NULL` on a nullable column for an optional link; make the column nullable if it should be set to NULL.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid", "references": {"table": "users", "column": "id"}}]}"#,
            at: &["columns[1].references"],
        },
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid", "nullable": false}], "foreignKeys": [{"columns": ["user_id"], "references": {"table": "users", "columns": ["id"]}, "onDelete": "SET NULL"}]}"#,
            at: &["foreignKeys[0].onDelete"],
        },
    ],
    passes: &[
        r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid", "nullable": false, "references": {"table": "users", "column": "id", "onDelete": "CASCADE"}}, {"name": "coupon_id", "type": "uuid", "references": {"table": "coupons", "column": "id", "onDelete": "SET NULL", "onUpdate": "SET NULL"}}, {"name": "region", "type": "text", "nullable": false, "defaultValue": "'eu'"}], "foreignKeys": [{"columns": ["region"], "references": {"table": "regions", "columns": ["code"]}, "onDelete": "SET DEFAULT"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    let table = ctx.table;
    for fk in &objects.foreign_keys {
        if fk.on_delete.is_none() {
            ctx.report(
                fk.path.clone(),
                format!("Foreign key \"{}\" to \"{}\" has no onDelete action", fk.name, fk.referenced_table),
                "Add \"onDelete\": \"CASCADE\" if the rows belong to their parent, \"RESTRICT\" to protect referenced rows, or \"SET NULL\" for an optional link".to_owned(),
            );
        }
        for (field, action) in [("onDelete", fk.on_delete), ("onUpdate", fk.on_update)] {
            let Some(action) = action else { continue };
            for name in &fk.columns {
                let Some(column) = ctx.column(name) else { continue };
                let broken = match action {
                    ReferentialAction::SetNull => true,
                    ReferentialAction::SetDefault => column.default_value.is_none(),
                    _ => false,
                };
                if !broken || !table.is_not_null(column) {
                    continue;
                }
                ctx.report(
                    format!("{}.{field}", fk.path),
                    format!(
                        "Foreign key \"{}\" uses {field} {action} but column \"{name}\" is NOT NULL, so the referenced row's {} will fail",
                        fk.name,
                        if field == "onDelete" { "deletion" } else { "key update" }
                    ),
                    format!("Make \"{name}\" nullable, or use CASCADE or RESTRICT instead of {action}"),
                );
            }
        }
    }
}
