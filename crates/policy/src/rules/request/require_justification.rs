//! `request.require-justification`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// The audit log records why each table exists.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "request.require-justification",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a request envelope whose `requestMetadata.justification` is missing or blank. Bare table definitions are not checked.",
        why: "Reviewers approve tables on the strength of the stated need, and the audit log keeps the justification next to the migration; without it nobody can later tell why the table exists or whether it can be dropped.",
        fix: "Add `\"requestMetadata\": {\"justification\": \"...\"}` saying which feature needs the table and why existing tables do not suffice.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "events", "owner": "analytics", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}}"#,
            at: &[""],
        },
        Firing {
            input: r#"{"tableName": "events", "owner": "analytics", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}, "requestMetadata": {"requestedBy": "u123"}}"#,
            at: &["requestMetadata"],
        },
        Firing {
            input: r#"{"tableName": "events", "owner": "analytics", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}, "requestMetadata": {"requestedBy": "u123", "justification": "   "}}"#,
            at: &["requestMetadata.justification"],
        },
    ],
    passes: &[
        r#"{"tableName": "events", "owner": "analytics", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}, "requestMetadata": {"requestedBy": "u123", "justification": "Store product analytics events for the funnel dashboard."}}"#,
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(path) = ctx.blank_metadata_field("justification", |m| m.justification.as_deref()) else {
        return;
    };
    ctx.report(
        path,
        format!("Request for table \"{}\" has no justification", ctx.request.table_name),
        "Add requestMetadata.justification saying which feature needs the table and why; it is kept in the audit log"
            .to_owned(),
    );
}
