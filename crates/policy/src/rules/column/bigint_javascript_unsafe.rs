//! `column.bigint-javascript-unsafe`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// 64-bit integers do not survive a trip through a JavaScript number.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.bigint-javascript-unsafe",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `bigint` and `bigserial` columns, including arrays of `bigint`.",
        why: "JavaScript numbers are doubles: integers beyond 2^53 (9007199254740992) are silently rounded, so a bigint read by a Node.js or browser client can turn into a different id. Seed 001's type-safety guidance asks for types that survive the round trip.",
        fix: "Serialise the value as a string in the API (node-postgres does this by default), use `text` for ids that come from other systems, or use `integer` when the values fit in 32 bits.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "events", "columns": [{"name": "id", "type": "bigserial", "primaryKey": true}]}"#,
            at: &["columns[0].type"],
        },
        Firing {
            input: r#"{"tableName": "events", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "counters", "type": "int8[]"}]}}"#,
            at: &["schemaJson.columns[1].type"],
        },
    ],
    passes: &[
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "attempts", "type": "integer"}, {"name": "amount", "type": "numeric(12,2)"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if !column.column_type.element().is_bigint() {
            continue;
        }
        ctx.report(
            ctx.column_path(i, "type"),
            format!(
                "Column \"{}\" is {}: values beyond 2^53 lose precision in JavaScript",
                column.name, column.column_type
            ),
            "Serialise the value as a string in the API, use TEXT if it holds external ids, or use integer if the values fit in 32 bits".to_owned(),
        );
    }
}
