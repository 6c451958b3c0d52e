//! `table.name-mismatch`

use schema_model::request::InputShape;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// The envelope's `tableName` and the definition's `tableName` must agree.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "table.name-mismatch",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a request envelope whose `tableName` differs from `schemaJson.tableName`.",
        why: "The envelope's name is what reviewers see and what the registry records, while the definition's name is what the migration creates. If they differ, the approved request and the created table do not match, and the audit log points at the wrong table.",
        fix: "Use the same table name in the envelope's `tableName` and in `schemaJson.tableName`.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "user_profiles", "owner": "accounts", "schemaJson": {"tableName": "profiles", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}}"#,
        at: &["tableName"],
    }],
    passes: &[
        r#"{"tableName": "user_profiles", "owner": "accounts", "schemaJson": {"tableName": "user_profiles", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}}"#,
        r#"{"tableName": "user_profiles", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    if ctx.request.shape != InputShape::Envelope || ctx.request.table_name == ctx.table.table_name {
        return;
    }
    ctx.report(
        "tableName".to_owned(),
        format!(
            "Request tableName \"{}\" differs from schemaJson.tableName \"{}\"",
            ctx.request.table_name, ctx.table.table_name
        ),
        format!(
            "Use the same name in both places: set tableName to \"{}\" or schemaJson.tableName to \"{}\"",
            ctx.table.table_name, ctx.request.table_name
        ),
    );
}
