//! `request.require-owner`

use schema_model::request::InputShape;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Every table has an owning team.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "request.require-owner",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a request envelope whose `owner` is missing or blank. Bare table definitions are not checked.",
        why: "The owner is the team or bot answerable for the table: who is asked before its schema changes, who is paged when it grows, and who decides when it can be dropped. A table without an owner becomes nobody's problem.",
        fix: "Add `\"owner\": \"<team or bot name>\"` to the request envelope.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "events", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}}"#,
            at: &[""],
        },
        Firing {
            input: r#"{"tableName": "events", "owner": " ", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}}"#,
            at: &["owner"],
        },
    ],
    passes: &[
        r#"{"tableName": "events", "owner": "analytics", "schemaJson": {"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}}"#,
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    if ctx.request.shape == InputShape::BareTable {
        return;
    }
    let path = match ctx.request.owner.as_deref() {
        None => String::new(),
        Some(owner) if owner.trim().is_empty() => "owner".to_owned(),
        Some(_) => return,
    };
    ctx.report(
        path,
        format!("Request for table \"{}\" has no owner", ctx.request.table_name),
        "Add \"owner\" naming the team or bot responsible for the table".to_owned(),
    );
}
