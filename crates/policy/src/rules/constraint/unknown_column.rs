//! `constraint.unknown-column`

use schema_model::expr::{ExprContext, parse_safe};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Keys and checks can only name the table's own columns.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "constraint.unknown-column",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a column the table does not have in the table's `primaryKey`, in a foreign key's or unique constraint's `columns`, or in a check expression. Check expressions that are not valid safe expressions are left to `safety.unsafe-check`.",
        why: "`CREATE TABLE` fails on a constraint over an unknown column, so nothing is created; usually the name is a typo or a column that was renamed in the request but not in the constraint.",
        fix: "Correct the column name (the suggestion names the closest existing column), or add the missing column to `columns`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "memberships", "columns": [{"name": "user_id", "type": "uuid"}, {"name": "team_id", "type": "uuid"}], "primaryKey": ["user_id", "teams_id"]}"#,
            at: &["primaryKey[1]"],
        },
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "amount", "type": "integer", "check": "amount > 0 AND amout < 100"}], "foreignKeys": [{"columns": ["user_id"], "references": {"table": "users", "columns": ["id"]}}], "uniques": [{"columns": ["id", "number"]}], "checks": [{"expression": "total >= amount"}]}"#,
            at: &["foreignKeys[0].columns[0]", "uniques[0].columns[1]", "columns[1].check", "checks[0].expression"],
        },
    ],
    passes: &[
        r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid"}, {"name": "user_id", "type": "uuid"}, {"name": "amount", "type": "integer", "check": "Amount > 0"}], "primaryKey": ["id"], "foreignKeys": [{"columns": ["user_id"], "references": {"table": "users", "columns": ["id"]}}], "uniques": [{"columns": ["user_id", "amount"]}], "checks": [{"expression": "amount < 1000"}, {"expression": "no_such_function(x)"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let table = ctx.table;
    let mut unknown: Vec<(&str, &str, String)> = Vec::new();
    for (j, column) in table.primary_key.iter().enumerate() {
        unknown.push(("The primary key", column, ctx.path(&format!("primaryKey[{j}]"))));
    }
    for (i, fk) in table.foreign_keys.iter().enumerate() {
        for (j, column) in fk.columns.iter().enumerate() {
            unknown.push(("A foreign key", column, ctx.path(&format!("foreignKeys[{i}].columns[{j}]"))));
        }
    }
    for (i, unique) in table.uniques.iter().enumerate() {
        for (j, column) in unique.columns.iter().enumerate() {
            unknown.push(("A unique constraint", column, ctx.path(&format!("uniques[{i}].columns[{j}]"))));
        }
    }
    unknown.retain(|(_, column, _)| ctx.column(column).is_none());

    let mut from_checks: Vec<(String, String)> = Vec::new();
    for check in &ctx.objects.checks {
        let Ok(expression) = parse_safe(&check.expression, ExprContext::Check) else { continue };
        for column in expression.columns {
            // Unquoted identifiers fold to lower case in PostgreSQL.
            if ctx.column(&column).is_none() && ctx.column(&column.to_lowercase()).is_none() {
                from_checks.push((column, check.path.clone()));
            }
        }
    }
    let checks = from_checks.iter().map(|(column, path)| ("A check constraint", column.as_str(), path.clone()));

    for (what, column, path) in unknown.into_iter().chain(checks) {
        let suggestion = ctx.unknown_column_suggestion(column);
        ctx.report(path, format!("{what} refers to unknown column \"{column}\""), suggestion);
    }
}
