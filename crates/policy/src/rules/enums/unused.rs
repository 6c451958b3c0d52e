//! `enums.unused`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// An enum declared with a table should be used by it.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "enums.unused",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags an enum in `enums` that no column of the table uses as its type (directly or as an array element).",
        why: "The migration would create a type nobody uses; it then has to be dropped by hand, and it blocks the name for a later enum. Usually it means a column's `type` was misspelt or forgotten.",
        fix: "Use the enum as a column's `type`, or remove it from `enums`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "status", "type": "text"}], "enums": [{"name": "order_status", "values": ["pending", "paid"]}]}"#,
            at: &["enums[0]"],
        },
        Firing {
            input: r#"{"tableName": "orders", "schemaJson": {"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "status", "type": "order_status"}], "enums": [{"name": "order_status", "values": ["pending"]}, {"name": "order_kind", "values": ["retail"]}]}}"#,
            at: &["schemaJson.enums[1]"],
        },
    ],
    passes: &[
        r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "status", "type": "order_status"}, {"name": "tags", "type": "order_tag[]"}], "enums": [{"name": "order_status", "values": ["pending", "paid"]}, {"name": "order_tag", "values": ["gift"]}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, enum_type) in ctx.table.enums.iter().enumerate() {
        let used = ctx
            .table
            .columns
            .iter()
            .any(|c| matches!(c.column_type.element(), ColumnType::Named(name) if *name == enum_type.name));
        if used {
            continue;
        }
        ctx.report(
            ctx.path(&format!("enums[{i}]")),
            format!("Enum \"{}\" is declared but no column uses it", enum_type.name),
            format!("Set a column's \"type\" to \"{}\", or remove the enum", enum_type.name),
        );
    }
}
