//! `safety.unsafe-check`

use schema_model::expr::{ExprContext, parse_safe};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Check expressions are SQL text; only a vetted subset may reach a migration.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "safety.unsafe-check",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a column `check` or table `checks[].expression` that is not a single expression of the safe subset: column references, literals, casts to built-in types, comparison, arithmetic and boolean operators, `IN`, `BETWEEN`, `LIKE`, and immutable functions such as `length`, `lower` and `coalesce`.",
        why: "A check expression is pasted into generated DDL. Anything beyond a plain expression (a second statement, a subquery, an arbitrary function, a dollar-quoted string) could run code with the migration's privileges or break the migration, and functions that read the clock (`now()`) make the constraint depend on when a row is checked.",
        fix: "Rewrite the condition with columns, literals and the allowed operators and functions, for example `amount > 0` or `status IN ('open', 'closed')`; enforce anything else in the application or a reviewed trigger.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "amount", "type": "integer", "check": "amount > 0); DROP TABLE users; --"}]}"#,
            at: &["columns[1].check"],
        },
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "due", "type": "date"}], "checks": [{"name": "ck_orders_due", "expression": "due > now()"}, {"expression": "id IN (SELECT id FROM users)"}]}"#,
            at: &["checks[0].expression", "checks[1].expression"],
        },
    ],
    passes: &[
        r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "amount", "type": "integer", "check": "amount > 0"}, {"name": "status", "type": "text"}], "checks": [{"expression": "status IN ('open', 'closed') AND length(status) < 20"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    for check in &objects.checks {
        if let Err(error) = parse_safe(&check.expression, ExprContext::Check) {
            ctx.report(
                check.path.clone(),
                format!("Check constraint \"{}\" is not allowed: {error}", check.name),
                "Use one boolean expression over the table's columns with literals, comparisons, AND/OR/NOT, IN, BETWEEN and functions such as length(), lower() or coalesce()".to_owned(),
            );
        }
    }
}
