//! `column.prefer-jsonb`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// `json` keeps the text and re-parses it on every access; `jsonb` is what queries want.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.prefer-jsonb",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `json` columns, including arrays of `json`.",
        why: "`json` stores the input text verbatim and re-parses it on every operator call; it has no equality operator (so no `DISTINCT`, `GROUP BY` or unique index) and cannot use GIN indexes. `jsonb` is parsed once, supports containment queries and indexing.",
        fix: "Use `jsonb`. Keep `json` only when the exact input text (key order, duplicate keys, white space) must be preserved.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "webhooks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "payload", "type": "json"}]}"#,
            at: &["columns[1].type"],
        },
        Firing {
            input: r#"{"tableName": "webhooks", "schemaJson": {"tableName": "webhooks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "payloads", "type": "json[]"}]}}"#,
            at: &["schemaJson.columns[1].type"],
        },
    ],
    passes: &[
        r#"{"tableName": "webhooks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "payload", "type": "jsonb"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if *column.column_type.element() != ColumnType::Json {
            continue;
        }
        let wanted = if matches!(column.column_type, ColumnType::Array(_)) {
            "\"type\": \"jsonb\" holding a JSON array (or \"jsonb[]\")"
        } else {
            "\"type\": \"jsonb\""
        };
        ctx.report(
            ctx.column_path(i, "type"),
            format!("Column \"{}\" is {}; prefer jsonb", column.name, column.column_type),
            format!(
                "Use {wanted}: it is parsed once, can be indexed with GIN and supports equality; keep json only if the exact input text must be preserved"
            ),
        );
    }
}
