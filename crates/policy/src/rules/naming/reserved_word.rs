//! `naming.reserved-word`

use schema_model::naming::is_reserved_word;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Reserved key words make poor table and column names.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "naming.reserved-word",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table or column whose name is a PostgreSQL reserved key word, such as `user`, `order`, `group`, `default` or `end`.",
        why: "A reserved word is only usable as a name when double-quoted, so every hand-written query, report and migration has to quote it, and forgetting to do so gives confusing syntax errors or, for `user`, silently returns the current role instead of the column.",
        fix: "Choose a more specific name: `users` or `app_users` for a table, `sort_order` instead of `order`, `group_id` instead of `group`, `is_default` instead of `default`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "user", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["tableName"],
        },
        Firing {
            input: r#"{"tableName": "line_items", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "order", "type": "integer"}, {"name": "Group", "type": "text"}]}"#,
            at: &["columns[1].name", "columns[2].name"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "sort_order", "type": "integer"}, {"name": "user_id", "type": "uuid"}, {"name": "name", "type": "text"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

/// Replacements for the reserved words people most often use as column names.
const COLUMN_ALTERNATIVES: &[(&str, &str)] = &[
    ("user", "user_id"),
    ("order", "sort_order"),
    ("group", "group_id"),
    ("default", "is_default"),
    ("end", "ends_at"),
    ("from", "from_address"),
    ("to", "to_address"),
    ("limit", "max_count"),
    ("offset", "start_offset"),
    ("desc", "description"),
    ("check", "check_result"),
    ("table", "table_name"),
    ("column", "column_name"),
    ("primary", "is_primary"),
    ("unique", "is_unique"),
    ("window", "time_window"),
    ("current_date", "effective_date"),
];

fn check(ctx: &mut Context<'_>) {
    let table = &ctx.table.table_name;
    if is_reserved_word(table) {
        ctx.report(
            ctx.path("tableName"),
            format!("Table name \"{table}\" is a PostgreSQL reserved word"),
            format!(
                "Rename the table to \"{}s\" (plural) or another name that is not a reserved word",
                table.to_lowercase()
            ),
        );
    }
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if !is_reserved_word(&column.name) {
            continue;
        }
        let lower = column.name.to_lowercase();
        let alternative = COLUMN_ALTERNATIVES
            .iter()
            .find(|(word, _)| *word == lower)
            .map_or_else(|| format!("{lower}_value"), |(_, alternative)| (*alternative).to_owned());
        ctx.report(
            ctx.column_path(i, "name"),
            format!("Column name \"{}\" is a PostgreSQL reserved word", column.name),
            format!("Rename the column to a more specific name such as \"{alternative}\""),
        );
    }
}
