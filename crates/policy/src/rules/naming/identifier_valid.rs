//! `naming.identifier-valid`

use schema_model::naming::MAX_IDENTIFIER_BYTES;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Every name must be a PostgreSQL identifier that survives unchanged.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "naming.identifier-valid",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags any identifier in the request (table, schema, column, enum type, explicitly named constraint or index, referenced table, schema or column) that is blank, contains a NUL character or a double quote, or is longer than 63 bytes. Generated constraint and index names are shortened to fit and are not checked.",
        why: "PostgreSQL cannot store NUL in a name, a double quote breaks the quoting of generated DDL, and names longer than 63 bytes (NAMEDATALEN - 1) are silently truncated, so two long names can collide or a later migration can refer to a name that does not exist.",
        fix: "Use a short, plain name: at most 63 bytes (fewer characters when they are not ASCII), without quotes or control characters; abbreviate long words rather than relying on truncation.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "customer_subscription_billing_period_adjustment_history_entries_v2", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["tableName"],
        },
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "say \"hi\"", "type": "text"}, {"name": "", "type": "text"}]}"#,
            at: &["columns[1].name", "columns[2].name"],
        },
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "user_id", "type": "uuid", "references": {"table": "users", "column": "id\"", "name": "fk_orders_user_id_users_and_a_very_long_tail_that_goes_on_and_on"}}]}"#,
            at: &["columns[1].references.column", "columns[1].references.name"],
        },
        Firing {
            input: r#"{"tableName": "orders", "schemaJson": {"tableName": "orders", "schema": " ", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}], "indexes": [{"name": "idx_orders_id_with_a_name_that_is_far_longer_than_postgres_allows_x", "columns": ["id"]}]}}"#,
            at: &["schemaJson.schema", "schemaJson.indexes[0].name"],
        },
    ],
    passes: &[
        r#"{"tableName": "customer_subscription_billing_period_adjustment_history_entries", "schema": "billing", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "history_entry_id", "type": "uuid", "references": {"table": "customer_subscription_billing_period_adjustment_history_entries", "column": "id"}}], "indexes": [{"columns": ["history_entry_id"]}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let table = ctx.table;
    // Every name of the table is looked at; only a name with a problem has its path written
    // (the table rules run on every table a migration folder touches).
    let mut found: Vec<(String, String, String)> = Vec::new();
    {
        let ctx = &*ctx;
        let mut check = |what: &str, name: &str, path: &dyn Fn() -> String| {
            if let Some((problem, suggestion)) = problem_of(name) {
                found.push((path(), format!("{what} \"{}\" {problem}", name.escape_debug()), suggestion));
            }
        };
        check("Table name", &table.table_name, &|| ctx.path("tableName"));
        if let Some(schema) = &table.schema {
            check("Schema name", schema, &|| ctx.path("schema"));
        }
        for (i, column) in table.columns.iter().enumerate() {
            check("Column name", &column.name, &|| ctx.column_path(i, "name"));
            if let Some(reference) = &column.references {
                check("Referenced table", &reference.table, &|| ctx.column_path(i, "references.table"));
                check("Referenced column", &reference.column, &|| ctx.column_path(i, "references.column"));
                if let Some(schema) = &reference.schema {
                    check("Referenced schema", schema, &|| ctx.column_path(i, "references.schema"));
                }
            }
        }
        for (i, fk) in table.foreign_keys.iter().enumerate() {
            check("Referenced table", &fk.references.table, &|| {
                ctx.path(&format!("foreignKeys[{i}].references.table"))
            });
            if let Some(schema) = &fk.references.schema {
                check("Referenced schema", schema, &|| ctx.path(&format!("foreignKeys[{i}].references.schema")));
            }
            for (j, column) in fk.references.columns.iter().enumerate() {
                check("Referenced column", column, &|| ctx.path(&format!("foreignKeys[{i}].references.columns[{j}]")));
            }
        }
        for (i, enum_type) in table.enums.iter().enumerate() {
            check("Enum type name", &enum_type.name, &|| ctx.path(&format!("enums[{i}].name")));
        }
        // Explicit names only: generated ones are shortened by `naming::fit`. Every object
        // with an explicit name has a `name` field beside the path `TableObjects` records.
        let objects = ctx.objects;
        for o in objects.foreign_keys.iter().filter(|o| o.explicit_name) {
            check("Foreign key name", &o.name, &|| format!("{}.name", o.path));
        }
        for o in objects.uniques.iter().filter(|o| o.explicit_name) {
            check("Unique constraint name", &o.name, &|| format!("{}.name", o.path));
        }
        for o in objects.checks.iter().filter(|o| o.explicit_name) {
            let base = o.path.strip_suffix(".expression").unwrap_or(&o.path);
            check("Check constraint name", &o.name, &|| format!("{base}.name"));
        }
        for o in objects.indexes.iter().filter(|o| o.explicit_name) {
            check("Index name", &o.name, &|| format!("{}.name", o.path));
        }
    }
    for (path, message, suggestion) in found {
        ctx.report(path, message, suggestion);
    }
}

/// What is wrong with a name, and how to fix it; `None` for a good name.
fn problem_of(name: &str) -> Option<(String, String)> {
    let problem = if name.trim().is_empty() {
        "is blank".to_owned()
    } else if name.contains('\0') {
        "contains a NUL character".to_owned()
    } else if name.contains('"') {
        "contains a double quote".to_owned()
    } else if name.len() > MAX_IDENTIFIER_BYTES {
        format!(
            "is {} bytes long; PostgreSQL truncates names to {MAX_IDENTIFIER_BYTES} bytes, so it could collide with another name",
            name.len()
        )
    } else {
        return None;
    };
    let suggestion = if name.trim().is_empty() {
        "Give it a name in lower snake_case".to_owned()
    } else if name.len() > MAX_IDENTIFIER_BYTES {
        format!("Shorten it to at most {MAX_IDENTIFIER_BYTES} bytes, for example by abbreviating words")
    } else {
        "Remove the double quotes and control characters; use lower-case letters, digits and underscores".to_owned()
    };
    Some((problem, suggestion))
}
