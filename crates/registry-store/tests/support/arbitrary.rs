//! proptest strategies for valid table definitions.

use proptest::prelude::*;
use schema_model::request::{InputShape, SchemaRequest};
use schema_model::table::{
    CheckConstraint, Column, EnumType, Identity, Index, IndexColumnOptions, IndexMethod, NullsOrder, TableSchema,
    UniqueConstraint,
};
use schema_model::types::ColumnType;
use serde_json::json;

/// Free text as a person might type it: quotes, backslashes, new lines, dollars,
/// semicolons, SQL, non-ASCII; no NUL, which PostgreSQL refuses in text.
pub(crate) fn free_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^\u{0}]{0,40}",
        Just("'; DROP TABLE users; --".to_owned()),
        Just("$registry$ END $registry$; DROP TABLE x; --".to_owned()),
        Just("a\\'b\\\\\nc */ /* \"d\"".to_owned()),
    ]
}

/// (type, a default that fits it)
fn typed_column() -> impl Strategy<Value = (ColumnType, Option<String>)> {
    let parse = |s: &str| ColumnType::parse(s).expect("known type");
    prop_oneof![
        Just((parse("smallint"), Some("-5".to_owned()))),
        Just((parse("integer"), Some("0".to_owned()))),
        Just((parse("bigint"), None)),
        Just((parse("real"), Some("1.5".to_owned()))),
        Just((parse("double precision"), None)),
        Just((parse("numeric(10,2)"), Some("0.00".to_owned()))),
        Just((parse("numeric(8)"), None)),
        free_text().prop_map(move |t| (ColumnType::Text, Some(schema_model_literal(&t)))),
        Just((parse("varchar(40)"), None)),
        Just((parse("char(3)"), Some("'abc'".to_owned()))),
        Just((parse("boolean"), Some("true".to_owned()))),
        Just((parse("date"), Some("CURRENT_DATE".to_owned()))),
        Just((parse("timestamptz"), Some("now()".to_owned()))),
        Just((parse("timestamp(3) with time zone"), Some("CURRENT_TIMESTAMP".to_owned()))),
        Just((parse("time with time zone"), None)),
        Just((parse("interval"), None)),
        Just((parse("uuid"), Some("gen_random_uuid()".to_owned()))),
        Just((parse("json"), None)),
        Just((parse("jsonb"), Some("'{}'::jsonb".to_owned()))),
        Just((parse("bytea"), None)),
        Just((parse("inet"), None)),
        Just((parse("cidr"), None)),
        Just((parse("macaddr"), None)),
        Just((parse("tsvector"), None)),
        Just((parse("xml"), None)),
        Just((parse("text[]"), Some("'{}'".to_owned()))),
        Just((parse("integer[]"), None)),
    ]
}

/// A SQL string literal for a default, written the way a user would.
fn schema_model_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn btree_able(ty: &ColumnType) -> bool {
    !matches!(ty, ColumnType::Json | ColumnType::Xml)
}

fn gin_able(ty: &ColumnType) -> bool {
    matches!(ty, ColumnType::Jsonb | ColumnType::TsVector | ColumnType::Array(_))
}

/// A random table the model accepts and PostgreSQL should too.
pub(crate) fn table() -> impl Strategy<Value = SchemaRequest> {
    let id = prop_oneof![
        Just((ColumnType::Uuid, Some("gen_random_uuid()".to_owned()), None)),
        Just((ColumnType::BigInt, None, Some(Identity::Always))),
        Just((ColumnType::Integer, None, Some(Identity::ByDefault))),
        Just((ColumnType::BigSerial, None, None)),
    ];
    let column = (typed_column(), any::<Option<bool>>(), proptest::option::of(free_text()));
    let enum_labels = proptest::collection::btree_set("[^\u{0}]{1,20}", 1..4);
    (
        "[a-z]{1,10}",
        id,
        proptest::collection::vec(column, 1..8),
        proptest::option::of(enum_labels),
        proptest::collection::vec((any::<proptest::sample::Index>(), 0u8..5, any::<bool>()), 0..4),
        proptest::option::of(free_text()),
        any::<bool>(),
    )
        .prop_map(|(suffix, (id_type, id_default, identity), specs, labels, index_specs, comment, add_check)| {
            let table_name = format!("t_{suffix}");
            let mut columns = vec![Column {
                name: "id".to_owned(),
                column_type: id_type,
                primary_key: true,
                nullable: None,
                default_value: id_default,
                unique: false,
                references: None,
                check: None,
                identity,
                comment: None,
                renamed_from: None,
            }];
            for (i, ((column_type, default_value), nullable, comment)) in specs.into_iter().enumerate() {
                columns.push(Column {
                    name: format!("c{i}"),
                    column_type,
                    primary_key: false,
                    nullable,
                    default_value,
                    unique: false,
                    references: None,
                    check: None,
                    identity: None,
                    comment,
                    renamed_from: None,
                });
            }
            let mut enums = Vec::new();
            if let Some(labels) = labels {
                enums.push(EnumType { name: "mood".to_owned(), values: labels.into_iter().collect() });
                columns
                    .push(Column { nullable: Some(true), ..Column::new("mood", ColumnType::Named("mood".to_owned())) });
            }
            let mut indexes: Vec<Index> = Vec::new();
            for (pick, kind, partial) in index_specs {
                let column = &columns[pick.index(columns.len())];
                let ty = &column.column_type;
                let method = match kind {
                    0 | 1 if btree_able(ty) => IndexMethod::Btree,
                    2 if gin_able(ty) => IndexMethod::Gin,
                    3 if ty.is_textual() => IndexMethod::Hash,
                    4 if matches!(ty, ColumnType::Timestamp { .. } | ColumnType::Integer | ColumnType::Date) => {
                        IndexMethod::Brin
                    }
                    _ => continue,
                };
                // Some B-tree indexes newest first, NULLs last (both not the defaults).
                let column_options = if kind == 1 && method == IndexMethod::Btree {
                    vec![IndexColumnOptions { descending: true, nulls: Some(NullsOrder::Last), operator_class: None }]
                } else {
                    Vec::new()
                };
                let index = Index {
                    columns: vec![column.name.clone()],
                    column_options,
                    predicate: partial.then(|| format!("{} IS NOT NULL", column.name)),
                    method,
                    ..Index::on(&[])
                };
                if !indexes.iter().any(|other| {
                    other.columns == index.columns && other.method == index.method && other.unique == index.unique
                }) {
                    indexes.push(index);
                }
            }
            let uniques = columns
                .iter()
                .find(|c| c.name != "id" && matches!(c.column_type, ColumnType::Text | ColumnType::Varchar(_)))
                .map(|c| vec![UniqueConstraint { name: None, columns: vec![c.name.clone()], renamed_from: None }])
                .unwrap_or_default();
            let checks = columns
                .iter()
                .find(|c| add_check && c.name != "id" && c.column_type.is_integer())
                .map(|c| {
                    vec![CheckConstraint { name: None, expression: format!("{} >= -10", c.name), renamed_from: None }]
                })
                .unwrap_or_default();
            let schema_json = TableSchema {
                schema: None,
                table_name: table_name.clone(),
                columns,
                indexes,
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                checks,
                uniques,
                enums,
                comment,
                renamed_from: None,
                primary_key_name: None,
            };
            SchemaRequest {
                table_name,
                owner: None,
                schema_json,
                request_metadata: None,
                target: None,
                compatibility: None,
                shape: InputShape::BareTable,
            }
        })
}

/// A family of related tables, in the order they must be applied: a parent (in `public` or a
/// schema of its own, keyed by one column or two), and a child that references it (from
/// the same schema or another one) and itself. Names are explicit or generated; some are
/// exactly 63 bytes, some tables are named so long that every generated name must be fitted,
/// two indexes of one column get the same generated name (so the second gets `_2`); there
/// are composite uniques, multi-column and INCLUDE indexes. `tag` keeps the names of one
/// case apart from every other's.
pub(crate) fn related_tables(tag: usize) -> impl Strategy<Value = Vec<SchemaRequest>> {
    let schema = prop_oneof![Just(None), "[a-z]{1,5}".prop_map(Some)];
    let action = prop_oneof![Just(None), Just(Some("CASCADE")), Just(Some("RESTRICT")), Just(Some("SET NULL"))];
    (schema.clone(), schema, "[a-z]{1,6}", any::<[bool; 6]>(), action)
        .prop_map(move |(parent_schema, child_schema, base, flags, on_delete)| {
            let [long, composite, explicit, twins, include, self_reference] = flags;
            let parent_schema = parent_schema.map(|s| format!("p{tag}_{s}"));
            let child_schema = child_schema.map(|s| format!("c{tag}_{s}"));
            // A long table name is exactly 63 bytes: every name made from it must be fitted.
            let name = |prefix: &str| {
                let name = format!("{prefix}{tag}_{base}s");
                if long { format!("{name}_{}s", "x".repeat(61 - name.len())) } else { name }
            };
            let (parent, child) = (name("parent"), name("child"));
            let sixty_three = |prefix: &str| {
                let name = format!("{prefix}_{tag}_{base}");
                format!("{name}{}", "n".repeat(63 - name.len()))
            };
            let mut parent_columns = vec![json!({"name": "id", "type": "bigint", "identity": "byDefault", "nullable": false})];
            if composite {
                parent_columns.push(json!({"name": "region", "type": "text", "nullable": false}));
            } else {
                parent_columns[0]["primaryKey"] = json!(true);
            }
            parent_columns.extend([
                json!({"name": "code", "type": "text", "nullable": false}),
                json!({"name": "note", "type": "text"}),
                json!({"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"}),
            ]);
            let mut parent_indexes = vec![json!({"columns": ["code", "created_at"]})];
            if twins {
                parent_indexes.push(json!({"columns": ["note"]}));
                parent_indexes.push(json!({"columns": ["note"], "type": "HASH"}));
            }
            if include {
                parent_indexes.push(json!({"columns": ["created_at"], "include": ["note"]}));
            }
            if explicit {
                parent_indexes.push(json!({"name": sixty_three("ix"), "columns": ["note", "code"]}));
            }
            let unique = if explicit {
                json!({"name": sixty_three("uq"), "columns": ["code"]})
            } else {
                json!({"columns": ["code"]})
            };
            let mut parent_table = json!({
                "tableName": parent,
                "columns": parent_columns,
                "indexes": parent_indexes,
                "uniques": [unique],
                "comment": "the parent",
            });
            if composite {
                parent_table["primaryKey"] = json!(["region", "id"]);
            }
            if let Some(schema) = &parent_schema {
                parent_table["schema"] = json!(schema);
            }

            let mut child_columns = vec![
                json!({"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"}),
                json!({"name": "parent_id", "type": "bigint", "nullable": on_delete != Some("SET NULL") && !composite}),
                json!({"name": "amount", "type": "integer", "nullable": false, "defaultValue": "0"}),
            ];
            if composite {
                child_columns.push(json!({"name": "parent_region", "type": "text"}));
            }
            if self_reference {
                child_columns.push(json!({"name": "up_id", "type": "uuid", "references": {"table": child, "column": "id"}}));
            }
            let mut target = json!({"table": parent, "columns": if composite { json!(["region", "id"]) } else { json!(["id"]) }});
            // The referenced schema, when it is not the child's own.
            if parent_schema != child_schema {
                target["schema"] = json!(parent_schema.clone().unwrap_or_else(|| "public".to_owned()));
            }
            let mut foreign_key = json!({
                "columns": if composite { json!(["parent_region", "parent_id"]) } else { json!(["parent_id"]) },
                "references": target,
            });
            if let Some(action) = on_delete {
                foreign_key["onDelete"] = json!(action);
            }
            if explicit {
                foreign_key["name"] = json!(sixty_three("fk"));
            }
            let mut child_indexes = vec![json!({"columns": if composite { json!(["parent_region", "parent_id"]) } else { json!(["parent_id"]) }})];
            if self_reference {
                child_indexes.push(json!({"columns": ["up_id"]}));
            }
            let mut child_table = json!({
                "tableName": child,
                "columns": child_columns,
                "foreignKeys": [foreign_key],
                "indexes": child_indexes,
                "checks": [{"name": format!("ck_{tag}_amount_not_negative"), "expression": "amount >= 0"}],
            });
            if let Some(schema) = &child_schema {
                child_table["schema"] = json!(schema);
            }
            [parent_table, child_table]
                .into_iter()
                .map(|table| {
                    let name = table["tableName"].clone();
                    let request = json!({
                        "tableName": name,
                        "owner": "truth-tests",
                        "schemaJson": table,
                        "requestMetadata": {"requestedBy": "truth", "justification": "truth test", "relatedIssue": "8"},
                    });
                    SchemaRequest::from_value(request.clone()).unwrap_or_else(|e| panic!("{e}: {request}"))
                })
                .collect()
        })
}
