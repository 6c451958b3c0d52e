//! `column.ban-char`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// `char(n)` pads with blanks and compares surprisingly.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.ban-char",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `char(n)` / `character(n)` columns, including arrays of them; `char` without a length is `char(1)`.",
        why: "`character(n)` pads values with blanks to n characters and ignores trailing blanks in comparisons but not in `LIKE`, regular expressions or client code, which produces surprising mismatches. It is no faster than `text` in PostgreSQL and still allows shorter values.",
        fix: "Use `text`; if values must have exactly n characters (country or currency codes), add a check constraint such as `\"check\": \"char_length(country) = 2\"`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "addresses", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "country", "type": "char(2)"}]}"#,
            at: &["columns[1].type"],
        },
        Firing {
            input: r#"{"tableName": "addresses", "schemaJson": {"tableName": "addresses", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "flag", "type": "character"}]}}"#,
            at: &["schemaJson.columns[1].type"],
        },
    ],
    passes: &[
        r#"{"tableName": "addresses", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "country", "type": "text", "check": "char_length(country) = 2"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        let ColumnType::Char(length) = column.column_type.element() else { continue };
        let n = length.unwrap_or(1);
        let suggestion = if matches!(column.column_type, ColumnType::Array(_)) {
            "Use text[] instead: character values are blank-padded and compare surprisingly".to_owned()
        } else {
            format!(
                "Use \"type\": \"text\"; if values must have exactly {n} character{}, add \"check\": \"char_length({}) = {n}\"",
                if n == 1 { "" } else { "s" },
                column.name
            )
        };
        ctx.report(
            ctx.column_path(i, "type"),
            format!("Column \"{}\" is {}, which pads values with blanks", column.name, column.column_type),
            suggestion,
        );
    }
}
