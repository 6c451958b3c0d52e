//! `index.duplicate`

use schema_model::expr::{ExprContext, parse_safe};
use schema_model::objects::IndexDef;
use schema_model::table::{IndexColumnOptions, IndexMethod};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Each index costs every write; the same index twice costs twice for nothing.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "index.duplicate",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags an index with the same method, columns (in the same order), `where` predicate and `include` columns as an earlier index, and an index or unique constraint over exactly the columns of the primary key or of an earlier unique constraint.",
        why: "PostgreSQL builds and maintains every index, identical or not: each insert and update writes to all of them, the table's cache footprint grows, and the planner gains nothing from the copy. A duplicate is never intended, so it is refused rather than stored.",
        fix: "Remove the duplicate. To make an existing index unique, keep one index with `unique: true`; the primary key and unique constraints are already indexes.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}], "indexes": [{"columns": ["email"]}, {"name": "idx_users_email_again", "columns": ["email"], "type": "BTREE"}]}"#,
            at: &["indexes[1]"],
        },
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text", "unique": true}], "indexes": [{"columns": ["id"]}, {"columns": ["email"], "unique": true}], "uniques": [{"columns": ["id"]}]}"#,
            at: &["uniques[0]", "indexes[0]", "indexes[1]"],
        },
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}], "indexes": [{"name": "idx_a", "columns": ["email"], "where": "email IS NOT NULL"}, {"name": "idx_b", "columns": ["email"], "where": "email is not null"}]}"#,
            at: &["indexes[1]"],
        },
    ],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text", "unique": true}, {"name": "org_id", "type": "uuid"}], "indexes": [{"columns": ["org_id", "email"]}, {"columns": ["email", "org_id"]}, {"columns": ["org_id"], "type": "HASH"}, {"columns": ["org_id"], "where": "email IS NULL"}, {"columns": ["email"], "include": ["org_id"]}, {"columns": ["id"], "type": "BRIN"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    // Indexes backing constraints: plain BTREE over exactly these columns.
    let mut constraints: Vec<(&str, &[String])> = Vec::new();
    if let Some(pk) = &objects.primary_key {
        constraints.push((&pk.name, &pk.columns));
    }
    for unique in &objects.uniques {
        if let Some((other, _)) = constraints.iter().find(|(_, columns)| *columns == unique.columns.as_slice()) {
            ctx.report(
                unique.path.clone(),
                format!("Unique constraint \"{}\" duplicates \"{other}\" on the same columns", unique.name),
                format!("Remove the unique constraint \"{}\"; \"{other}\" already enforces it", unique.name),
            );
        } else if !unique.columns.is_empty() {
            constraints.push((&unique.name, &unique.columns));
        }
    }

    let keys: Vec<IndexKey<'_>> = objects.indexes.iter().map(IndexKey::of).collect();
    for (i, index) in objects.indexes.iter().enumerate() {
        if index.columns.is_empty() {
            continue;
        }
        let earlier = keys[..i].iter().position(|key| *key == keys[i]).map(|j| objects.indexes[j].name.as_str());
        let message = if let Some(other) = earlier {
            format!(
                "Index \"{}\" duplicates index \"{other}\": same method, columns, predicate and include",
                index.name
            )
        } else {
            let plain = index.method == IndexMethod::Btree
                && index.predicate.is_none()
                && index.include.is_empty()
                && index.column_options.is_empty();
            let Some((other, _)) =
                constraints.iter().find(|(_, columns)| plain && *columns == index.columns.as_slice())
            else {
                continue;
            };
            format!("Index \"{}\" duplicates the index behind constraint \"{other}\" on the same columns", index.name)
        };
        let suggestion = if index.unique && earlier.is_some() {
            format!("Remove index \"{}\" and add `unique: true` to the earlier one if uniqueness is needed", index.name)
        } else {
            format!("Remove index \"{}\"; the existing index already serves the same queries", index.name)
        };
        ctx.report(index.path.clone(), message, suggestion);
    }
}

/// What makes two indexes the same index, whatever their names.
#[derive(PartialEq, Eq)]
struct IndexKey<'a> {
    method: IndexMethod,
    columns: &'a [String],
    column_options: &'a [IndexColumnOptions],
    nulls_not_distinct: bool,
    /// The predicate as re-printed by the parser (so case and spacing do not matter),
    /// or as written when it does not parse.
    predicate: Option<String>,
    include: Vec<&'a str>,
}

impl<'a> IndexKey<'a> {
    fn of(index: &'a IndexDef) -> Self {
        let predicate = index.predicate.as_ref().map(|text| {
            parse_safe(text, ExprContext::IndexPredicate).map_or_else(|_| text.trim().to_owned(), |e| e.sql)
        });
        let mut include: Vec<&str> = index.include.iter().map(String::as_str).collect();
        include.sort_unstable();
        IndexKey {
            method: index.method,
            columns: &index.columns,
            column_options: &index.column_options,
            nulls_not_distinct: index.unique && index.nulls_not_distinct,
            predicate,
            include,
        }
    }
}
