//! `index.recommended-columns`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Columns almost every query filters or sorts on.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "index.recommended-columns",
    default_severity: Severity::Info,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a `user_id`, `created_at` or `updated_at` column that is not the first column of any index, primary key or unique constraint. A `user_id` that starts a foreign key is left to `index.foreign-key-covered`.",
        why: "Seed 001 asks to \"automatically index these common columns\": per-user lookups, newest-first listings and incremental syncs filter or sort on them, and without an index each such query reads the whole table.",
        fix: "Add an index that starts with the column, for example `{\"columns\": [\"created_at\"]}`, or `{\"columns\": [\"created_at\"], \"type\": \"BRIN\"}` for a very large append-only table.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid"}, {"name": "created_at", "type": "timestamptz"}, {"name": "updated_at", "type": "timestamptz"}], "indexes": [{"columns": ["id", "created_at"]}]}"#,
        at: &["columns[1]", "columns[2]", "columns[3]"],
    }],
    passes: &[
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid", "references": {"table": "users", "column": "id"}}, {"name": "created_at", "type": "timestamptz"}, {"name": "updated_at", "type": "timestamptz"}], "indexes": [{"columns": ["created_at"], "type": "BRIN"}, {"columns": ["updated_at", "id"]}]}"#,
        r#"{"tableName": "profiles", "columns": [{"name": "user_id", "type": "uuid", "primaryKey": true}, {"name": "bio", "type": "text"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

/// The columns seed 001 wants indexed.
const COMMON_COLUMNS: &[&str] = &["user_id", "created_at", "updated_at"];

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if !COMMON_COLUMNS.contains(&column.name.as_str()) {
            continue;
        }
        let name = std::slice::from_ref(&column.name);
        // Any method counts here (BRIN on created_at is a deliberate choice), and so
        // does the primary key or a unique constraint starting with the column.
        let leads_an_index =
            ctx.is_covered(name) || objects.indexes.iter().any(|index| index.columns.first() == Some(&column.name));
        let starts_a_foreign_key = objects.foreign_keys.iter().any(|fk| fk.columns.first() == Some(&column.name));
        if leads_an_index || starts_a_foreign_key {
            continue;
        }
        ctx.report(
            ctx.column_path(i, ""),
            format!("Column \"{}\" is not the first column of any index", column.name),
            format!("Add {{\"columns\": [\"{}\"]}} to indexes", column.name),
        );
    }
}
