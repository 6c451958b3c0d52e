//! `index.method-compatible`

use schema_model::objects::IndexDef;
use schema_model::table::IndexMethod;
use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Index options and column types the chosen access method supports.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "index.method-compatible",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags index definitions PostgreSQL rejects: `unique` with a method other than BTREE, HASH over more than one column, `include` with GIN, HASH or BRIN, and columns whose type has no default operator class for the method (GIN needs jsonb, an array or tsvector; GiST needs tsvector (inet and cidr have no default GiST operator class before PostgreSQL 19, and requests cannot name one); BTREE and HASH cannot index json or xml; BRIN cannot index booleans, enums, arrays, json, jsonb, xml or tsvector).",
        why: "`CREATE INDEX` fails with errors such as `access method \"gin\" does not support unique indexes` or `data type text has no default operator class for access method \"gin\"`, stopping the migration; requests cannot name operator classes, so the default one must exist.",
        fix: "Use BTREE (the default) for equality, ranges, sorting and uniqueness; GIN for jsonb, arrays and tsvector; GiST for tsvector and network types; split a multi-column HASH index or make it BTREE.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "hosts", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "ip", "type": "inet"}], "indexes": [{"columns": ["ip"], "type": "GIST"}]}"#,
            at: &["indexes[0].columns[0]"],
        },
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}], "indexes": [{"columns": ["email"], "type": "HASH", "unique": true}]}"#,
            at: &["indexes[0].type"],
        },
        Firing {
            input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}, {"name": "name", "type": "text"}], "indexes": [{"columns": ["email", "name"], "type": "HASH"}, {"columns": ["email"], "type": "GIN"}, {"columns": ["name"], "type": "GIST"}]}"#,
            at: &["indexes[0].columns", "indexes[1].columns[0]", "indexes[2].columns[0]"],
        },
        Firing {
            input: r#"{"tableName": "docs", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "body", "type": "jsonb"}, {"name": "raw", "type": "json"}, {"name": "done", "type": "boolean"}], "indexes": [{"columns": ["body"], "type": "GIN", "include": ["id"]}, {"columns": ["raw"]}, {"columns": ["done"], "type": "BRIN"}]}"#,
            at: &["indexes[0].include", "indexes[1].columns[0]", "indexes[2].columns[0]"],
        },
    ],
    passes: &[
        r#"{"tableName": "docs", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "body", "type": "jsonb"}, {"name": "tags", "type": "text[]"}, {"name": "search", "type": "tsvector"}, {"name": "ip", "type": "inet"}, {"name": "email", "type": "text"}, {"name": "created_at", "type": "timestamptz"}], "indexes": [{"columns": ["body"], "type": "GIN"}, {"columns": ["tags"], "type": "GIN"}, {"columns": ["search"], "type": "GIST"}, {"columns": ["email"], "unique": true, "include": ["id"]}, {"columns": ["email"], "type": "HASH"}, {"columns": ["created_at"], "type": "BRIN"}, {"columns": ["body"]}, {"columns": ["missing"], "type": "GIN"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let objects = ctx.objects;
    for index in &objects.indexes {
        let method = index.method.sql().to_uppercase();
        if index.unique && index.method != IndexMethod::Btree {
            ctx.report(
                format!("{}.type", index.path),
                format!("Unique index \"{}\" uses {method}, which does not support unique indexes", index.name),
                "Remove `type` so the unique index uses BTREE, or drop `unique`".to_owned(),
            );
        }
        if index.method == IndexMethod::Hash && index.columns.len() > 1 {
            ctx.report(
                format!("{}.columns", index.path),
                format!(
                    "HASH index \"{}\" has {} columns; HASH indexes take exactly one",
                    index.name,
                    index.columns.len()
                ),
                "Use a BTREE index for several columns, or one HASH index per column".to_owned(),
            );
        }
        if !index.include.is_empty() && matches!(index.method, IndexMethod::Gin | IndexMethod::Hash | IndexMethod::Brin)
        {
            ctx.report(
                format!("{}.include", index.path),
                format!("{method} index \"{}\" has `include` columns, which {method} does not support", index.name),
                "Remove `include`, or use a BTREE or GIST index for a covering index".to_owned(),
            );
        }
        check_column_types(ctx, index);
    }
}

fn check_column_types(ctx: &mut Context<'_>, index: &IndexDef) {
    let method = index.method.sql().to_uppercase();
    for (j, name) in index.columns.iter().enumerate() {
        // Unknown columns are `index.unknown-column`'s business.
        let Some(column) = ctx.column(name) else { continue };
        let ty = &column.column_type;
        // A named operator class (an extension's, such as gin_trgm_ops) is the author's choice;
        // PostgreSQL refuses a wrong one itself.
        let named_class = index.column_options.get(j).is_some_and(|o| o.operator_class.is_some());
        if named_class || has_default_operator_class(index.method, ty) {
            continue;
        }
        let suggestion = match index.method {
            IndexMethod::Gin => {
                format!("Use a BTREE index (remove `type`) for \"{name}\"; GIN only indexes jsonb, arrays and tsvector")
            }
            IndexMethod::Gist => format!(
                "Use a BTREE index (remove `type`) for \"{name}\"; GIST only indexes tsvector here (use BTREE for inet/cidr equality and ranges)"
            ),
            IndexMethod::Brin => format!("Use a BTREE index (remove `type`) for \"{name}\""),
            IndexMethod::Btree | IndexMethod::Hash => format!(
                "Do not index \"{name}\" directly; store it as jsonb (indexable with GIN) or index an extracted column"
            ),
        };
        ctx.report(
            format!("{}.columns[{j}]", index.path),
            format!(
                "{method} index \"{}\" cannot index column \"{name}\" of type {ty}: PostgreSQL has no default {method} operator class for it",
                index.name
            ),
            suggestion,
        );
    }
}

/// Whether PostgreSQL (without extensions) has a default operator class of the method for the type.
fn has_default_operator_class(method: IndexMethod, ty: &ColumnType) -> bool {
    let no_equality = |t: &ColumnType| matches!(t.element(), ColumnType::Json | ColumnType::Xml);
    match method {
        IndexMethod::Btree | IndexMethod::Hash => !no_equality(ty),
        IndexMethod::Gin => matches!(ty, ColumnType::Jsonb | ColumnType::TsVector | ColumnType::Array(_)),
        IndexMethod::Gist => matches!(ty, ColumnType::TsVector),
        IndexMethod::Brin => !matches!(
            ty,
            ColumnType::Boolean
                | ColumnType::Json
                | ColumnType::Jsonb
                | ColumnType::Xml
                | ColumnType::TsVector
                | ColumnType::Array(_)
                | ColumnType::Named(_)
        ),
    }
}
