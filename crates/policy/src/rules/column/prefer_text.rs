//! `column.prefer-text`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// In PostgreSQL `varchar(n)` is `text` with a length check that is hard to change.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.prefer-text",
    default_severity: Severity::Info,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `varchar(n)` / `character varying` columns, including arrays of them.",
        why: "Seed 001 says to use TEXT instead of VARCHAR. In PostgreSQL both are stored the same way and perform the same; the length limit is usually an arbitrary guess (255), and raising it later is an `ALTER COLUMN ... TYPE` that locks the table.",
        fix: "Use `text`. If the limit is a real business rule, keep it explicit and cheap to change with a check constraint such as `\"check\": \"char_length(code) <= 16\"`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "varchar(255)"}]}"#,
            at: &["columns[1].type"],
        },
        Firing {
            input: r#"{"tableName": "users", "schemaJson": {"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "tags", "type": "character varying[]"}]}}"#,
            at: &["schemaJson.columns[1].type"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text", "check": "char_length(email) <= 320"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

/// The same array shape with `text` elements.
fn as_text(column_type: &ColumnType) -> String {
    match column_type {
        ColumnType::Array(inner) => format!("{}[]", as_text(inner)),
        _ => "text".to_owned(),
    }
}

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        let ColumnType::Varchar(length) = column.column_type.element() else { continue };
        let suggestion = match (length, &column.column_type) {
            (Some(n), ColumnType::Varchar(_)) => format!(
                "Use \"type\": \"text\"; if {n} characters is a business rule, add \"check\": \"char_length({}) <= {n}\"",
                column.name
            ),
            _ => format!("Use \"type\": \"{}\"", as_text(&column.column_type)),
        };
        ctx.report(
            ctx.column_path(i, "type"),
            format!("Column \"{}\" is {}; prefer text", column.name, column.column_type),
            suggestion,
        );
    }
}
