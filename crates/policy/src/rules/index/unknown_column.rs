//! `index.unknown-column`

use schema_model::expr::{ExprContext, parse_safe};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// An index can only name the table's own columns.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "index.unknown-column",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags an index whose `columns`, `include` or `where` predicate names a column the table does not have. Predicates that are not valid safe expressions are left to `safety.unsafe-index-predicate`.",
        why: "`CREATE INDEX` fails on an unknown column, so the migration stops halfway; usually the name is a typo or a column that was renamed or dropped from the request.",
        fix: "Correct the column name (the suggestion names the closest existing column), or add the missing column to `columns`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}], "indexes": [{"columns": ["emal"]}]}"#,
            at: &["indexes[0].columns[0]"],
        },
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}], "indexes": [{"columns": ["email"], "include": ["name"], "where": "deleted_at IS NULL"}]}"#,
            at: &["indexes[0].include[0]", "indexes[0].where"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}, {"name": "deleted_at", "type": "timestamptz"}], "indexes": [{"columns": ["email"], "include": ["id"], "where": "Deleted_At IS NULL"}, {"columns": ["email"], "where": "pg_sleep(1) IS NULL"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    for index in &objects.indexes {
        for (j, column) in index.columns.iter().enumerate() {
            if ctx.column(column).is_none() {
                report(ctx, column, format!("{}.columns[{j}]", index.path), &index.name);
            }
        }
        for (j, column) in index.include.iter().enumerate() {
            if ctx.column(column).is_none() {
                report(ctx, column, format!("{}.include[{j}]", index.path), &index.name);
            }
        }
        let Some(predicate) = &index.predicate else { continue };
        let Ok(expression) = parse_safe(predicate, ExprContext::IndexPredicate) else { continue };
        for column in &expression.columns {
            // Unquoted identifiers fold to lower case in PostgreSQL.
            if ctx.column(column).is_none() && ctx.column(&column.to_lowercase()).is_none() {
                report(ctx, column, format!("{}.where", index.path), &index.name);
            }
        }
    }
}

fn report(ctx: &mut Context<'_>, column: &str, path: String, index: &str) {
    let suggestion = ctx.unknown_column_suggestion(column);
    ctx.report(path, format!("Index \"{index}\" refers to unknown column \"{column}\""), suggestion);
}
