//! `column.external-id-as-text`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Identifiers issued by other systems are opaque strings.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.external-id-as-text",
    default_severity: Severity::Info,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags integer-typed columns whose name looks like an identifier from another system: names ending in `_external_id` or starting with `external_`, or mentioning discord, snowflake, twitter, slack or stripe. Columns with a `references` foreign key are skipped.",
        why: "Seed 001 says to avoid BIGINT for external IDs and use TEXT instead (e.g., Discord IDs): such ids are 64-bit snowflakes that JavaScript rounds, other providers use strings with prefixes, and the format is not ours to rely on.",
        fix: "Declare the column as `text` and store the id exactly as the other system gives it.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "guild_members", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "discord_user_id", "type": "bigint"}]}"#,
            at: &["columns[1].type"],
        },
        Firing {
            input: r#"{"tableName": "customers", "schemaJson": {"tableName": "customers", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "crm_external_id", "type": "integer"}, {"name": "external_ref", "type": "int8"}]}}"#,
            at: &["schemaJson.columns[1].type", "schemaJson.columns[2].type"],
        },
    ],
    passes: &[
        r#"{"tableName": "guild_members", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "discord_user_id", "type": "text"}, {"name": "login_count", "type": "bigint"}]}"#,
        r#"{"tableName": "payments", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "stripe_account_id", "type": "integer", "references": {"table": "stripe_accounts", "column": "id"}}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

/// Provider names whose ids are opaque strings or 64-bit snowflakes.
const PROVIDERS: &[&str] = &["discord", "snowflake", "twitter", "slack", "stripe"];

fn looks_external(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with("_external_id") || name.starts_with("external_") || PROVIDERS.iter().any(|p| name.contains(p))
}

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if !column.column_type.element().is_integer() || column.references.is_some() || !looks_external(&column.name) {
            continue;
        }
        ctx.report(
            ctx.column_path(i, "type"),
            format!("Column \"{}\" looks like an external identifier but is {}", column.name, column.column_type),
            format!(
                "Use \"type\": \"text\" for \"{}\" and store the id exactly as the other system gives it",
                column.name
            ),
        );
    }
}
