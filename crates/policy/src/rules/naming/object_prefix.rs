//! `naming.object-prefix`

use schema_model::expr::{ExprContext, parse_safe};
use schema_model::naming::{self, is_snake_case};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Explicit constraint and index names follow the `idx_`/`fk_`/`uq_`/`ck_` convention.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "naming.object-prefix",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags an explicitly named index or constraint that breaks the naming convention: indexes start with `idx_` (unique indexes may use `uq_`), foreign keys with `fk_`, unique constraints with `uq_`, check constraints with `ck_`, and every name is lower snake_case. Objects without a `name` get the conventional name and are not checked.",
        why: "Seeds 002 and 004 name objects `idx_<table>_<columns>`, `fk_<table>_<columns>_<referenced table>` and so on, so that an error message or a lock report tells at once what kind of object it is and which table it belongs to. Names that break the pattern make that guesswork.",
        fix: "Use the conventional name given in the suggestion, or drop `name` and let the registry generate it.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}], "indexes": [{"name": "users_email_index", "columns": ["email"]}]}"#,
            at: &["indexes[0].name"],
        },
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid", "references": {"table": "users", "column": "id", "name": "orders_user_fkey"}}, {"name": "amount", "type": "integer"}], "checks": [{"name": "positive_amount", "expression": "amount > 0"}], "uniques": [{"name": "UQ_Orders_User", "columns": ["user_id", "amount"]}]}"#,
            at: &["columns[1].references.name", "uniques[0].name", "checks[0].name"],
        },
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid"}], "foreignKeys": [{"name": "idx_orders_user", "columns": ["user_id"], "references": {"table": "users", "columns": ["id"]}}], "indexes": [{"name": "uq_orders_user_id", "columns": ["user_id"]}]}"#,
            at: &["foreignKeys[0].name", "indexes[0].name"],
        },
    ],
    passes: &[
        r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid", "references": {"table": "users", "column": "id", "name": "fk_orders_user"}}, {"name": "amount", "type": "integer", "check": "amount > 0"}], "checks": [{"name": "ck_orders_amount_max", "expression": "amount < 1000000"}], "uniques": [{"name": "uq_orders_user_amount", "columns": ["user_id", "amount"]}], "indexes": [{"name": "idx_orders_user_id", "columns": ["user_id"]}, {"name": "uq_orders_amount", "columns": ["amount"], "unique": true}, {"columns": ["amount", "user_id"]}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let table = ctx.table.table_name.as_str();
    let objects = ctx.objects;
    // (kind, allowed prefixes, name, path of the `name` field, conventional name)
    let mut named: Vec<(&str, &[&str], &str, String, String)> = Vec::new();
    for fk in objects.foreign_keys.iter().filter(|o| o.explicit_name) {
        let columns: Vec<&str> = fk.columns.iter().map(String::as_str).collect();
        let conventional = naming::foreign_key_name(table, &columns, &fk.referenced_table);
        named.push(("Foreign key", &["fk_"], &fk.name, format!("{}.name", fk.path), conventional));
    }
    for unique in objects.uniques.iter().filter(|o| o.explicit_name) {
        let columns: Vec<&str> = unique.columns.iter().map(String::as_str).collect();
        let conventional = naming::unique_name(table, &columns);
        named.push(("Unique constraint", &["uq_"], &unique.name, format!("{}.name", unique.path), conventional));
    }
    let column_checks = ctx.table.columns.iter().filter(|c| c.check.is_some()).count();
    for (i, check) in objects.checks.iter().enumerate().filter(|(_, o)| o.explicit_name) {
        // Same label as the generator: the checked columns, else the table-level position.
        let label = parse_safe(&check.expression, ExprContext::Check)
            .ok()
            .filter(|e| !e.columns.is_empty())
            .map_or_else(|| (i.saturating_sub(column_checks) + 1).to_string(), |e| e.columns.join("_"));
        let conventional = naming::check_name(table, &label);
        let base = check.path.strip_suffix(".expression").unwrap_or(&check.path);
        named.push(("Check constraint", &["ck_"], &check.name, format!("{base}.name"), conventional));
    }
    for index in objects.indexes.iter().filter(|o| o.explicit_name) {
        let columns: Vec<&str> = index.columns.iter().map(String::as_str).collect();
        let conventional = naming::index_name(table, &columns, index.unique, index.method.sql(), ctx.naming);
        let prefixes: &[&str] = if index.unique { &["idx_", "uq_"] } else { &["idx_"] };
        named.push(("Index", prefixes, &index.name, format!("{}.name", index.path), conventional));
    }

    for (kind, prefixes, name, path, conventional) in named {
        let mut problems = Vec::new();
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            let expected = prefixes.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(" or ");
            problems.push(format!("does not start with {expected}"));
        }
        if !is_snake_case(name) {
            problems.push("is not lower snake_case".to_owned());
        }
        if problems.is_empty() {
            continue;
        }
        ctx.report(
            path,
            format!("{kind} name \"{name}\" {}", problems.join(" and ")),
            format!("Rename it to \"{conventional}\", or remove `name` to get that name generated"),
        );
    }
}
