//! `safety.unsafe-index-predicate`

use schema_model::expr::{ExprContext, parse_safe};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Partial index predicates are SQL text; only a vetted subset may reach a migration.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "safety.unsafe-index-predicate",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags an index `where` predicate that is not a single expression of the safe subset: column references, literals, casts to built-in types, comparison, arithmetic and boolean operators, `IS NULL`, `IN`, `BETWEEN`, `LIKE`, and immutable functions.",
        why: "A predicate is pasted into generated DDL. Anything beyond a plain expression could run code with the migration's privileges or break the migration, and PostgreSQL rejects predicates that are not immutable (`now()`, `current_date`), so `CREATE INDEX` would fail.",
        fix: "Write the condition with columns, literals and the allowed operators, for example `deleted_at IS NULL` or `status = 'active'`; for time windows, index the column and filter at query time.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "deleted_at", "type": "timestamptz"}], "indexes": [{"columns": ["id"], "where": "deleted_at IS NULL; DROP TABLE users"}]}"#,
            at: &["indexes[0].where"],
        },
        Firing {
            input: r#"{"tableName": "users", "schemaJson": {"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "seen_at", "type": "timestamptz"}], "indexes": [{"columns": ["seen_at"], "where": "seen_at > now() - interval '1 day'"}]}}"#,
            at: &["schemaJson.indexes[0].where"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "deleted_at", "type": "timestamptz"}, {"name": "status", "type": "text"}], "indexes": [{"columns": ["id"], "where": "deleted_at IS NULL"}, {"columns": ["status"], "where": "status <> 'archived'"}, {"columns": ["status"]}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    for index in &objects.indexes {
        let Some(predicate) = &index.predicate else { continue };
        if let Err(error) = parse_safe(predicate, ExprContext::IndexPredicate) {
            ctx.report(
                format!("{}.where", index.path),
                format!("Predicate of index \"{}\" is not allowed: {error}", index.name),
                "Use one immutable boolean expression over the table's columns, such as deleted_at IS NULL or status = 'active'".to_owned(),
            );
        }
    }
}
