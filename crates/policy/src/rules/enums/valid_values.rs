//! `enums.valid-values`

use schema_model::naming::MAX_IDENTIFIER_BYTES;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// An enum needs distinct, non-empty labels PostgreSQL accepts.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "enums.valid-values",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags an enum with no values, an empty value, a value repeated, a value longer than 63 bytes, and an enum name that is empty, longer than 63 bytes or declared twice.",
        why: "PostgreSQL rejects each of these at `CREATE TYPE ... AS ENUM`: labels must be 1 to 63 bytes long and unique (`enum labels must be unique`), and a type name can exist once; an enum without values cannot hold data. The migration would fail.",
        fix: "Give every enum a unique name and at least one value; make values unique, non-empty and at most 63 bytes (short lower-case words such as `pending`, `active`).",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "status", "type": "order_status"}], "enums": [{"name": "order_status", "values": ["pending", "paid", "pending", ""]}]}"#,
            at: &["enums[0].values[2]", "enums[0].values[3]"],
        },
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "status", "type": "order_status"}], "enums": [{"name": "order_status", "values": []}]}"#,
            at: &["enums[0].values"],
        },
        Firing {
            input: r#"{"tableName": "orders", "schemaJson": {"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "status", "type": "order_status"}], "enums": [{"name": "order_status", "values": ["pending"]}, {"name": "order_status", "values": ["paid", "this_label_is_far_too_long_for_postgresql_which_allows_sixty_three_bytes"]}]}}"#,
            at: &["schemaJson.enums[1].name", "schemaJson.enums[1].values[1]"],
        },
    ],
    passes: &[
        r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "status", "type": "order_status"}], "enums": [{"name": "order_status", "values": ["pending", "paid", "shipped"]}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, enum_type) in ctx.table.enums.iter().enumerate() {
        let name = &enum_type.name;
        if name.is_empty() {
            ctx.report(
                ctx.path(&format!("enums[{i}].name")),
                "An enum has an empty name".to_owned(),
                "Name the enum after what it classifies, e.g. \"order_status\"".to_owned(),
            );
        } else if name.len() > MAX_IDENTIFIER_BYTES {
            ctx.report(
                ctx.path(&format!("enums[{i}].name")),
                format!("Enum name \"{name}\" is {} bytes; PostgreSQL allows {MAX_IDENTIFIER_BYTES}", name.len()),
                format!("Shorten the enum name to at most {MAX_IDENTIFIER_BYTES} bytes"),
            );
        } else if ctx.table.enums[..i].iter().any(|e| e.name == *name) {
            ctx.report(
                ctx.path(&format!("enums[{i}].name")),
                format!("Enum \"{name}\" is declared twice"),
                format!("Merge the two \"{name}\" declarations into one, or rename one of them"),
            );
        }

        if enum_type.values.is_empty() {
            ctx.report(
                ctx.path(&format!("enums[{i}].values")),
                format!("Enum \"{name}\" has no values"),
                format!("List the values of \"{name}\", e.g. \"values\": [\"pending\", \"active\"]"),
            );
        }
        for (k, value) in enum_type.values.iter().enumerate() {
            let path = ctx.path(&format!("enums[{i}].values[{k}]"));
            if value.is_empty() {
                ctx.report(
                    path,
                    format!("Enum \"{name}\" has an empty value"),
                    "Remove the empty value; enum labels must be 1 to 63 bytes long".to_owned(),
                );
            } else if value.len() > MAX_IDENTIFIER_BYTES {
                ctx.report(
                    path,
                    format!(
                        "Value \"{value}\" of enum \"{name}\" is {} bytes; PostgreSQL allows {MAX_IDENTIFIER_BYTES}",
                        value.len()
                    ),
                    format!("Shorten the value to at most {MAX_IDENTIFIER_BYTES} bytes"),
                );
            } else if enum_type.values[..k].contains(value) {
                ctx.report(
                    path,
                    format!("Enum \"{name}\" lists the value \"{value}\" twice"),
                    format!("Remove the repeated \"{value}\"; enum labels must be unique"),
                );
            }
        }
    }
}
