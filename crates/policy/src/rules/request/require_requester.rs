//! `request.require-requester`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// The audit log records who asked for each table.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "request.require-requester",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a request envelope whose `requestMetadata.requestedBy` is missing or blank. Bare table definitions are not checked.",
        why: "The audit log must say who asked for each schema change, so reviewers know whom to ask and a later investigation can trace the change to a person or bot.",
        fix: "Add `\"requestMetadata\": {\"requestedBy\": \"<user or bot id>\"}` to the request envelope.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "events", "owner": "analytics", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}}"#,
            at: &[""],
        },
        Firing {
            input: r#"{"tableName": "events", "owner": "analytics", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}, "requestMetadata": {"justification": "Funnel dashboard."}}"#,
            at: &["requestMetadata"],
        },
        Firing {
            input: r#"{"tableName": "events", "owner": "analytics", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}, "requestMetadata": {"requestedBy": ""}}"#,
            at: &["requestMetadata.requestedBy"],
        },
    ],
    passes: &[
        r#"{"tableName": "events", "owner": "analytics", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}, "requestMetadata": {"requestedBy": "123456789012345678"}}"#,
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(path) = ctx.blank_metadata_field("requestedBy", |m| m.requested_by.as_deref()) else {
        return;
    };
    ctx.report(
        path,
        format!("Request for table \"{}\" does not say who requested it", ctx.request.table_name),
        "Add requestMetadata.requestedBy with the id of the requesting user or bot".to_owned(),
    );
}
