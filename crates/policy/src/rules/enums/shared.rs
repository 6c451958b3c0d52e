//! `enums.shared`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// An enum that exists already with exactly these labels is used, not created.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "enums.shared",
    default_severity: Severity::Info,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Notes an enum the request declares that already exists in the same schema with exactly the declared labels: the table uses that type, and its migration neither creates nor drops it.",
        why: "Sharing a type is fine, but it ties the tables together: changing the labels later changes them for every table that uses the type, and the type stays as long as any of them does.",
        fix: "Nothing to fix. Give the enum a name of its own if this table's labels should be able to change independently.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "tasks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "kind", "type": "kinds"}], "enums": [{"name": "kinds", "values": ["bug", "chore"]}]}"#,
        at: &["enums[0].name"],
    }],
    passes: &[
        r#"{"tableName": "tasks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "kind", "type": "task_kind"}], "enums": [{"name": "task_kind", "values": ["bug"]}]}"#,
    ],
    environment: Some(
        r#"{"schemaExists": true, "live": true, "relations": {}, "constraints": {}, "types": {"kinds": {"enumValues": ["bug", "chore"], "usedBy": ["issues"], "source": "live"}}}"#,
    ),
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(existing) = ctx.existing else { return };
    for (i, declared) in ctx.table.enums.iter().enumerate() {
        let Some(found) = existing.types.get(&declared.name) else { continue };
        if found.enum_values.as_ref() != Some(&declared.values) {
            continue;
        }
        let users: Vec<&str> = found.used_by.iter().map(String::as_str).collect();
        ctx.report(
            ctx.path(&format!("enums[{i}].name")),
            format!(
                "Enum type \"{}\" already exists with these values{}; this table uses it, and its migration neither creates nor drops it",
                declared.name,
                if users.is_empty() { String::new() } else { format!(" (used by {})", users.join(", ")) }
            ),
            format!("To change its labels independently later, name it \"{}_{}\" instead", ctx.table.table_name, declared.name),
        );
    }
}
