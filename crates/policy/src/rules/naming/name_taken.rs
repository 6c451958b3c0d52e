//! `naming.name-taken`

use schema_model::environment::{RelationKind, Source};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Index, constraint and type names are schema-wide in PostgreSQL; a taken one is silently
/// skipped by `IF NOT EXISTS`, or dropped later with the wrong table.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "naming.name-taken",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table, index, constraint or enum type name of the request that another object of the same schema already has, on the live target or in the registry's catalog, and names that object's table.",
        why: "Tables, indexes and sequences share one namespace per schema, and types another: `CREATE INDEX IF NOT EXISTS idx_email_unique` on a second table is silently skipped when the first table has an index of that name, so the promised uniqueness never exists, and a later rollback could drop the other table's index. Constraint names clash in error messages and in later changes that name them.",
        fix: "Give the object a name of its own, or leave the name out to get the generated one, which starts with the table's name.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "accounts", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}], "indexes": [{"name": "idx_email_unique", "columns": ["email"], "unique": true}]}"#,
            at: &["indexes[0]"],
        },
        Firing {
            input: r#"{"tableName": "accounts", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "owner_id", "type": "uuid", "references": {"table": "users", "column": "id", "name": "fk_owner"}}, {"name": "kind", "type": "plan"}], "enums": [{"name": "plan", "values": ["free"]}]}"#,
            at: &["columns[1].references", "enums[0].name"],
        },
    ],
    passes: &[
        r#"{"tableName": "accounts", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}], "indexes": [{"columns": ["email"], "unique": true}]}"#,
    ],
    environment: Some(
        r#"{"schemaExists": true, "live": true, "relations": {"users": {"kind": "table", "table": null, "source": "live"}, "idx_email_unique": {"kind": "index", "table": "users", "source": "live"}, "plan": {"kind": "view", "table": null, "source": "catalog"}}, "constraints": {"fk_owner": [{"table": "orders", "source": "catalog"}]}, "types": {}}"#,
    ),
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let Some(existing) = ctx.existing else { return };
    let table = ctx.table;
    let own = table.table_name.as_str();
    let schema = table.schema_name();
    let whose = |kind: RelationKind, on: Option<&str>, source: Source| {
        let place = if source == Source::Live { "on the target" } else { "in the registry's catalog" };
        match on {
            Some(other) => format!("by an {} on table \"{other}\" {place}", kind.word()),
            None => format!("by a {} {place}", kind.word()),
        }
    };
    // Relations: the table itself (unless it is a table: `table.already-exists`), the
    // primary key, unique constraints and indexes.
    let mut relation_names: Vec<(&str, String, &str)> = Vec::new();
    if let Some(pk) = &ctx.objects.primary_key {
        relation_names.push((&pk.name, pk.path.clone(), "Primary key"));
    }
    relation_names.extend(ctx.objects.uniques.iter().map(|u| (u.name.as_str(), u.path.clone(), "Unique constraint")));
    relation_names.extend(ctx.objects.indexes.iter().map(|i| (i.name.as_str(), i.path.clone(), "Index")));
    if let Some(found) = existing.relations.get(own)
        && found.kind != RelationKind::Table
    {
        ctx.report(
            ctx.path("tableName"),
            format!(
                "Table name \"{own}\" is already taken in schema \"{schema}\" {}",
                whose(found.kind, found.table.as_deref(), found.source)
            ),
            format!("Choose another table name; \"{own}\" names a {} there", found.kind.word()),
        );
    }
    for (name, path, what) in relation_names {
        let Some(found) = existing.relations.get(name) else { continue };
        if found.table.as_deref() == Some(own) {
            continue; // the table exists itself: `table.already-exists` says so
        }
        ctx.report(
            path,
            format!(
                "{what} name \"{name}\" is already taken in schema \"{schema}\" {}",
                whose(found.kind, found.table.as_deref(), found.source)
            ),
            format!(
                "Name it after this table (e.g. \"{}\"), or leave the name out to get the generated one",
                suggested(name, own)
            ),
        );
    }
    // Constraint names.
    let constraint_names = ctx
        .objects
        .foreign_keys
        .iter()
        .map(|f| (f.name.as_str(), f.path.clone(), "Foreign key"))
        .chain(ctx.objects.checks.iter().map(|c| (c.name.as_str(), c.entry_path().to_owned(), "Check constraint")));
    let constraint_names: Vec<_> = constraint_names.collect();
    for (name, path, what) in constraint_names {
        let Some(other) = existing.constraints.get(name).and_then(|list| list.iter().find(|c| c.table != own)) else {
            continue;
        };
        ctx.report(
            path,
            format!(
                "{what} name \"{name}\" is already used in schema \"{schema}\" by a constraint on table \"{}\"",
                other.table
            ),
            format!(
                "Name it after this table (e.g. \"{}\"), or leave the name out to get the generated one",
                suggested(name, own)
            ),
        );
    }
    // Enum types: a table's row type, or a type that is not an enum, has the name.
    for (i, declared) in table.enums.iter().enumerate() {
        let name = declared.name.as_str();
        let row_type = existing
            .relations
            .get(name)
            .filter(|r| matches!(r.kind, RelationKind::Table | RelationKind::View | RelationKind::Other));
        if let Some(found) = row_type {
            ctx.report(
                ctx.path(&format!("enums[{i}].name")),
                format!(
                    "Type name \"{name}\" is already taken in schema \"{schema}\" by the row type of a {} of that name",
                    found.kind.word()
                ),
                format!("Choose another name for the enum, e.g. \"{own}_{name}\""),
            );
        } else if existing.types.get(name).is_some_and(|t| t.enum_values.is_none()) {
            ctx.report(
                ctx.path(&format!("enums[{i}].name")),
                format!("Type name \"{name}\" is already taken in schema \"{schema}\" by a type that is not an enum"),
                format!("Choose another name for the enum, e.g. \"{own}_{name}\""),
            );
        }
    }
}

/// A name that starts with the table's name.
fn suggested(name: &str, table: &str) -> String {
    let rest = name.split_once('_').map_or(name, |(_, rest)| rest);
    let prefix = name.split_once('_').map_or("idx", |(prefix, _)| prefix);
    schema_model::naming::fit(format!("{prefix}_{table}_{rest}"))
}
