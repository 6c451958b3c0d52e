//! proptest strategies for valid table definitions.

use proptest::prelude::*;
use schema_model::request::{InputShape, SchemaRequest};
use schema_model::table::{
    CheckConstraint, Column, EnumType, Identity, Index, IndexMethod, TableSchema, UniqueConstraint,
};
use schema_model::types::ColumnType;

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
                });
            }
            let mut enums = Vec::new();
            if let Some(labels) = labels {
                enums.push(EnumType { name: "mood".to_owned(), values: labels.into_iter().collect() });
                columns.push(Column {
                    name: "mood".to_owned(),
                    column_type: ColumnType::Named("mood".to_owned()),
                    primary_key: false,
                    nullable: Some(true),
                    default_value: None,
                    unique: false,
                    references: None,
                    check: None,
                    identity: None,
                    comment: None,
                });
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
                let index = Index {
                    name: None,
                    columns: vec![column.name.clone()],
                    method,
                    unique: false,
                    predicate: partial.then(|| format!("{} IS NOT NULL", column.name)),
                    include: Vec::new(),
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
                .map(|c| vec![UniqueConstraint { name: None, columns: vec![c.name.clone()] }])
                .unwrap_or_default();
            let checks = columns
                .iter()
                .find(|c| add_check && c.name != "id" && c.column_type.is_integer())
                .map(|c| vec![CheckConstraint { name: None, expression: format!("{} >= 0", c.name) }])
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
            };
            SchemaRequest {
                table_name,
                owner: None,
                schema_json,
                request_metadata: None,
                target: None,
                shape: InputShape::BareTable,
            }
        })
}
