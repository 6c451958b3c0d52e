//! `column.audit-timestamp-shape`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// `created_at` and `updated_at` are `timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP`.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.audit-timestamp-shape",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a `created_at` or `updated_at` column that is not `timestamptz`, not `nullable: false`, or has no `defaultValue`.",
        why: "Audit timestamps are only trustworthy when every row has one: a nullable column or one without a default ends up NULL whenever a writer forgets it, and a `timestamp` without time zone records a wall-clock reading rather than an instant.",
        fix: "Declare the column as `{\"type\": \"timestamptz\", \"nullable\": false, \"defaultValue\": \"CURRENT_TIMESTAMP\"}`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "created_at", "type": "timestamptz"}]}"#,
            at: &["columns[1]"],
        },
        Firing {
            input: r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "updated_at", "type": "timestamp", "nullable": false, "defaultValue": "now()"}]}"#,
            at: &["columns[1].type"],
        },
        Firing {
            input: r#"{"tableName": "events", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "created_at", "type": "timestamptz", "nullable": true, "defaultValue": "now()"}]}}"#,
            at: &["schemaJson.columns[1].nullable"],
        },
    ],
    passes: &[
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "CURRENT_TIMESTAMP"}, {"name": "updated_at", "type": "timestamp with time zone", "nullable": false, "defaultValue": "now()"}]}"#,
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if column.name != "created_at" && column.name != "updated_at" {
            continue;
        }
        let mut problems: Vec<(String, &str)> = Vec::new();
        if !matches!(column.column_type, ColumnType::Timestamp { with_time_zone: true, .. }) {
            problems.push((format!("its type is {}, not timestamptz", column.column_type), "type"));
        }
        if !ctx.table.is_not_null(column) {
            let field = if column.nullable.is_some() { "nullable" } else { "" };
            problems.push(("it allows NULL".to_owned(), field));
        }
        if column.default_value.as_deref().is_none_or(|d| d.trim().is_empty()) {
            let field = if column.default_value.is_some() { "defaultValue" } else { "" };
            problems.push(("it has no default".to_owned(), field));
        }
        let field = match problems.as_slice() {
            [] => continue,
            [(_, field)] => *field,
            _ => "",
        };
        let reasons: Vec<&str> = problems.iter().map(|(reason, _)| reason.as_str()).collect();
        ctx.report(
            ctx.column_path(i, field),
            format!("Audit column \"{}\" is not TIMESTAMPTZ NOT NULL with a default: {}", column.name, reasons.join(", ")),
            format!(
                "Declare {{\"name\": \"{}\", \"type\": \"timestamptz\", \"nullable\": false, \"defaultValue\": \"CURRENT_TIMESTAMP\"}}",
                column.name
            ),
        );
    }
}
