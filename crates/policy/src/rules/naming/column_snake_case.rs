//! `naming.column-snake-case`

use schema_model::naming::{is_snake_case, to_snake_case};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Column names are lower `snake_case`.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "naming.column-snake-case",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a column name that is not lower `snake_case`: a lower-case letter first, then lower-case letters, digits and single underscores.",
        why: "PostgreSQL folds unquoted names to lower case, so a column such as `createdAt` must be double-quoted in every query, and ORMs, BI tools and hand-written SQL each get it wrong in their own way. Seeds 001 and 002 both ask for snake_case names.",
        fix: "Rename the column in lower snake_case, for example `created_at` instead of `createdAt`; map it to camelCase in the application if needed.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "createdAt", "type": "timestamptz"}]}"#,
            at: &["columns[1].name"],
        },
        Firing {
            input: r#"{"tableName": "users", "schemaJson": {"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "first name", "type": "text"}]}}"#,
            at: &["schemaJson.columns[1].name"],
        },
    ],
    passes: &[
        r#"{"tableName": "Users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "created_at", "type": "timestamptz"}, {"name": "line2", "type": "text"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if is_snake_case(&column.name) {
            continue;
        }
        let snake = to_snake_case(&column.name);
        let suggestion = if is_snake_case(&snake) {
            format!("Rename the column to \"{snake}\"")
        } else {
            "Rename the column using lower-case letters, digits and single underscores, starting with a letter"
                .to_owned()
        };
        ctx.report(
            ctx.column_path(i, "name"),
            format!("Column name \"{}\" is not lower snake_case", column.name),
            suggestion,
        );
    }
}
