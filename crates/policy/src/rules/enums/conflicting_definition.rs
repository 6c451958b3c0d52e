//! `enums.conflicting-definition`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Two tables, one enum name, two sets of labels: the second would silently use the first.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "enums.conflicting-definition",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags an enum the request declares that already exists in the same schema (on the live target or in the registry's catalog) with other labels or in another order.",
        why: "PostgreSQL has no `CREATE TYPE IF NOT EXISTS`; the guarded create skips an existing type, so the table would silently get the other labels, refuse values the request allows, and its rollback could neither drop the type nor leave it as the request declared it.",
        fix: "Declare exactly the existing labels, in their order, to share the type; or give this enum a name of its own (for example prefixed with the table's name).",
    },
    fires: &[Firing {
        input: r#"{"tableName": "tasks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "kind", "type": "kinds"}], "enums": [{"name": "kinds", "values": ["bug", "feature"]}]}"#,
        at: &["enums[0].values"],
    }],
    passes: &[
        r#"{"tableName": "tasks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "kind", "type": "kinds"}], "enums": [{"name": "kinds", "values": ["bug", "chore"]}]}"#,
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
        let Some(labels) = &found.enum_values else { continue };
        if *labels == declared.values {
            continue;
        }
        let users: Vec<&str> = found.used_by.iter().map(String::as_str).collect();
        let used = if users.is_empty() { String::new() } else { format!(", used by {}", users.join(", ")) };
        ctx.report(
            ctx.path(&format!("enums[{i}].values")),
            format!(
                "Enum type \"{}\" already exists in schema \"{}\" with the values [{}]{used}; this request declares [{}]",
                declared.name,
                ctx.table.schema_name(),
                labels.join(", "),
                declared.values.join(", ")
            ),
            format!(
                "Declare exactly [{}] to share the type, or name this enum \"{}_{}\"",
                labels.join(", "),
                ctx.table.table_name,
                declared.name
            ),
        );
    }
}
