//! `column.uuid-primary-key-default`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A UUID key should generate itself.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.uuid-primary-key-default",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a single-column `uuid` primary key without a `defaultValue`. Keys that are also foreign keys (one-to-one extension tables) and columns of composite keys are skipped.",
        why: "Seed 001 prefers UUID keys with `gen_random_uuid()`. Without a default every writer must generate the key itself; one that forgets gets a NOT NULL violation, and ad-hoc generators produce ids of uneven quality.",
        fix: "Add `\"defaultValue\": \"gen_random_uuid()\"` to the key column.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["columns[0]"],
        },
        Firing {
            input: r#"{"tableName": "users", "schemaJson": {"tableName": "users", "columns": [{"name": "id", "type": "uuid"}], "primaryKey": ["id"]}}"#,
            at: &["schemaJson.columns[0]"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"}]}"#,
        r#"{"tableName": "user_settings", "columns": [{"name": "user_id", "type": "uuid", "primaryKey": true, "references": {"table": "users", "column": "id"}}]}"#,
        r#"{"tableName": "memberships", "columns": [{"name": "user_id", "type": "uuid"}, {"name": "team_id", "type": "uuid"}], "primaryKey": ["user_id", "team_id"]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(key) = &ctx.objects.primary_key else { return };
    let [name] = key.columns.as_slice() else { return };
    // A key that is also a foreign key takes its value from the referenced row.
    if ctx.objects.foreign_keys.iter().any(|fk| fk.columns.contains(name)) {
        return;
    }
    let Some(i) = ctx.table.column_index(name) else { return };
    let column = &ctx.table.columns[i];
    if column.column_type != ColumnType::Uuid || column.default_value.is_some() {
        return;
    }
    ctx.report(
        ctx.column_path(i, ""),
        format!("UUID primary key \"{}\" has no default", column.name),
        "Add \"defaultValue\": \"gen_random_uuid()\"".to_owned(),
    );
}
