//! `table.require-created-at`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Every row should record when it was created.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.require-created-at",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table with no `created_at` column.",
        why: "Knowing when a row was inserted is needed for debugging, auditing, data retention and incremental exports, and it cannot be recovered after the fact. Seed 001 asks for creation timestamps on every table.",
        fix: "Add `{\"name\": \"created_at\", \"type\": \"timestamptz\", \"nullable\": false, \"defaultValue\": \"CURRENT_TIMESTAMP\"}`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["columns"],
        },
        Firing {
            input: r#"{"tableName": "events", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "createdAt", "type": "timestamptz"}]}}"#,
            at: &["schemaJson.columns"],
        },
    ],
    passes: &[
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "CURRENT_TIMESTAMP"}]}"#,
        r#"{"tableName": "events", "columns": []}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    // An empty table is `table.require-columns`' finding.
    if ctx.table.columns.is_empty() || ctx.column("created_at").is_some() {
        return;
    }
    ctx.report(
        ctx.path("columns"),
        "Table is missing created_at timestamp column".to_owned(),
        "Add created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP".to_owned(),
    );
}
