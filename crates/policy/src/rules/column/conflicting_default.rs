//! `column.conflicting-default`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Identity, serial and an explicit default are three ways to fill a column; pick one.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.conflicting-default",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a column with both `identity` and a `defaultValue`, a serial column with a `defaultValue`, an `identity` on a serial type, and an `identity` on a type other than `smallint`, `integer` or `bigint`.",
        why: "PostgreSQL rejects all of these at `CREATE TABLE`: an identity or a serial already supplies the default (`both default and identity specified`, `multiple default values specified`), and identity columns must be `smallint`, `integer` or `bigint`. The migration would fail.",
        fix: "Keep one way of filling the column: remove the `defaultValue`, or use a plain integer type with `identity`, or drop the `identity`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "t", "columns": [{"name": "id", "type": "bigint", "identity": "always", "primaryKey": true, "defaultValue": "1"}]}"#,
            at: &["columns[0].defaultValue"],
        },
        Firing {
            input: r#"{"tableName": "t", "columns": [{"name": "id", "type": "serial", "primaryKey": true, "defaultValue": "0"}]}"#,
            at: &["columns[0].defaultValue"],
        },
        Firing {
            input: r#"{"tableName": "t", "columns": [{"name": "id", "type": "bigserial", "identity": "byDefault", "primaryKey": true}]}"#,
            at: &["columns[0].identity"],
        },
        Firing {
            input: r#"{"tableName": "t", "schemaJson": {"tableName": "t", "columns": [{"name": "id", "type": "uuid", "identity": "always", "primaryKey": true}]}}"#,
            at: &["schemaJson.columns[0].identity"],
        },
    ],
    passes: &[
        r#"{"tableName": "t", "columns": [{"name": "id", "type": "bigint", "identity": "always", "primaryKey": true}, {"name": "n", "type": "integer", "defaultValue": "0"}, {"name": "s", "type": "serial"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        let ty = &column.column_type;
        if column.identity.is_some() {
            if ty.is_serial() {
                ctx.report(
                    ctx.column_path(i, "identity"),
                    format!("Column \"{}\" is {ty} and also an identity column", column.name),
                    format!("Use \"type\": \"{}\" with the identity, or drop \"identity\"", ty.catalog_name()),
                );
            } else if !matches!(ty, ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt) {
                ctx.report(
                    ctx.column_path(i, "identity"),
                    format!(
                        "Identity column \"{}\" has type {ty}; identity requires smallint, integer or bigint",
                        column.name
                    ),
                    if *ty == ColumnType::Uuid {
                        "Remove \"identity\" and use \"defaultValue\": \"gen_random_uuid()\"".to_owned()
                    } else {
                        "Change the type to bigint (or integer), or remove \"identity\"".to_owned()
                    },
                );
            }
        }
        if column.default_value.is_some() {
            let source = if column.identity.is_some() {
                "an identity column"
            } else if ty.is_serial() {
                "a serial column"
            } else {
                continue;
            };
            ctx.report(
                ctx.column_path(i, "defaultValue"),
                format!("Column \"{}\" is {source} and also has a defaultValue", column.name),
                format!("Remove \"defaultValue\" from \"{}\": the sequence already supplies the value", column.name),
            );
        }
    }
}
