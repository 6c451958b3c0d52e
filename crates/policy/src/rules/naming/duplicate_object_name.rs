//! `naming.duplicate-object-name`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Constraint and index names must be unique, and indexes cannot share the table's name.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "naming.duplicate-object-name",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags two constraints or indexes of the table with the same effective name (an explicit name clashing with another name; generated names that coincide get a numeric suffix instead), and a primary key, unique constraint or index named like the table itself.",
        why: "PostgreSQL refuses a second constraint of the same name on a table, and indexes (including the ones behind primary keys and unique constraints) share one namespace with tables in the schema, so the migration would fail halfway with `relation already exists`.",
        fix: "Give each object a distinct name, or remove the explicit `name` so the registry generates one from the table and column names.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}, {"name": "name", "type": "text"}], "indexes": [{"name": "idx_users_lookup", "columns": ["email"]}, {"name": "idx_users_lookup", "columns": ["name"]}]}"#,
            at: &["indexes[1]"],
        },
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}], "indexes": [{"name": "users", "columns": ["email"]}]}"#,
            at: &["indexes[0]"],
        },
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}], "checks": [{"name": "ck_users_email", "expression": "length(email) > 3"}, {"name": "ck_users_email", "expression": "email <> ''"}]}"#,
            at: &["checks[1]"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text", "unique": true}, {"name": "org_id", "type": "uuid", "references": {"table": "orgs", "column": "id"}}], "indexes": [{"columns": ["org_id"]}, {"name": "idx_users_email_lower", "columns": ["email"], "type": "HASH"}], "checks": [{"expression": "length(email) > 3"}]}"#,
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "org_id", "type": "uuid", "references": {"table": "orgs", "column": "id", "name": "users"}}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    // (name, path, whether it is a relation: an index, or a constraint backed by one)
    let mut named: Vec<(&str, &str, bool)> = Vec::new();
    if let Some(pk) = &objects.primary_key {
        named.push((&pk.name, &pk.path, true));
    }
    named.extend(objects.foreign_keys.iter().map(|o| (o.name.as_str(), o.path.as_str(), false)));
    named.extend(objects.uniques.iter().map(|o| (o.name.as_str(), o.path.as_str(), true)));
    named.extend(objects.checks.iter().map(|o| (o.name.as_str(), o.entry_path(), false)));
    named.extend(objects.indexes.iter().map(|o| (o.name.as_str(), o.path.as_str(), true)));

    let table = ctx.table.table_name.as_str();
    for (i, &(name, path, is_relation)) in named.iter().enumerate() {
        if let Some(&(_, first_path, _)) = named[..i].iter().find(|(other, _, _)| *other == name) {
            ctx.report(
                path.to_owned(),
                format!("The name \"{name}\" is used by two objects (first at `{first_path}`)"),
                "Give one of them a different `name`, or drop the explicit names so each gets its generated name"
                    .to_owned(),
            );
        } else if is_relation && name == table {
            ctx.report(
                path.to_owned(),
                format!("Index or constraint \"{name}\" has the same name as its table"),
                format!("Rename it, for example with the prefix \"idx_\" or \"uq_\" (\"idx_{table}_...\")"),
            );
        }
    }
}
