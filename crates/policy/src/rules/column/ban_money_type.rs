//! `column.ban-money-type`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// PostgreSQL's `money` type depends on the server locale.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.ban-money-type",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags columns of type `money`, including arrays of it.",
        why: "`money` has a fixed fractional precision taken from the `lc_monetary` setting: input and output are formatted by locale (a dump restored on a server with another locale reads different amounts), it stores no currency, and division and rounding behave unlike `numeric`.",
        fix: "Use `numeric(12,2)` (or an integer number of cents) for the amount, plus a `text` column holding the ISO 4217 currency code.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "invoices", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "amount", "type": "money"}]}"#,
            at: &["columns[1].type"],
        },
        Firing {
            input: r#"{"tableName": "invoices", "schemaJson": {"tableName": "invoices", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "amounts", "type": "money[]"}]}}"#,
            at: &["schemaJson.columns[1].type"],
        },
    ],
    passes: &[
        r#"{"tableName": "invoices", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "amount", "type": "numeric(12,2)"}, {"name": "currency", "type": "text"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if *column.column_type.element() != ColumnType::Money {
            continue;
        }
        ctx.report(
            ctx.column_path(i, "type"),
            format!("Column \"{}\" uses the locale-dependent money type", column.name),
            "Use \"type\": \"numeric(12,2)\" (or integer cents) and a text column with the ISO 4217 currency code"
                .to_owned(),
        );
    }
}
