//! `table.require-updated-at`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Every row should record when it last changed.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.require-updated-at",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table with no `updated_at` column.",
        why: "Without a modification timestamp there is no cheap way to find recently changed rows for caches, incremental syncs or incident investigation. Seed 001's example answer reports exactly this warning.",
        fix: "Add `{\"name\": \"updated_at\", \"type\": \"timestamptz\", \"nullable\": false, \"defaultValue\": \"CURRENT_TIMESTAMP\"}` and set it on every update (in the application or a trigger).",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "created_at", "type": "timestamptz"}]}"#,
            at: &["columns"],
        },
        Firing {
            input: r#"{"tableName": "events", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}}"#,
            at: &["schemaJson.columns"],
        },
    ],
    passes: &[
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "updated_at", "type": "timestamptz", "nullable": false, "defaultValue": "CURRENT_TIMESTAMP"}]}"#,
        r#"{"tableName": "events", "columns": []}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    // An empty table is `table.require-columns`' finding.
    if ctx.table.columns.is_empty() || ctx.column("updated_at").is_some() {
        return;
    }
    ctx.report(
        ctx.path("columns"),
        "Table is missing updated_at timestamp column".to_owned(),
        "Add updated_at TIMESTAMPTZ for tracking changes".to_owned(),
    );
}
