//! Whatever text a request carries in any free-text field (names, comments, enum labels,
//! metadata, defaults, checks, predicates), the generated migration holds exactly the
//! statements the generator meant to write: read back by sqlparser's tokenizer, statement
//! by statement, the kinds and their count match the request's structure.

use ddl_gen::outline::statement_kinds;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use schema_model::naming::NamingOptions;
use schema_model::request::SchemaRequest;
use serde_json::{Value, json};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,30}",
        1 => "[\\x00-\\x7f]{0,30}",
        1 => Just("x'); DROP TABLE users; --".to_owned()),
        1 => Just("a\\'; DROP TABLE users; --".to_owned()),
        1 => Just("$registry$; DROP TABLE users; $registry$".to_owned()),
        1 => Just("*/ DROP TABLE users; /*".to_owned()),
        1 => Just("\n; DROP TABLE users;\n".to_owned()),
        1 => Just("\"; DROP TABLE users; --".to_owned()),
        1 => Just("- -'\nNULL)); DROP TABLE users; CREATE TEMP TABLE x (id int,\n--'".to_owned()),
        1 => Just("- -1".to_owned()),
    ]
}

/// A name: usually plain, sometimes anything.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-z][a-z0-9_]{0,10}", 1 => text()]
}

/// A SQL fragment: absent, a literal wrapping arbitrary text the way a user quotes it,
/// or arbitrary text as the fragment itself.
fn fragment() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        2 => text().prop_map(|t| Some(format!("'{}'", t.replace('\'', "''")))),
        1 => text().prop_map(|t| Some(format!("- -'{}'", t.replace('\'', "''")))),
        1 => text().prop_map(Some),
    ]
}

fn request() -> impl Strategy<Value = Value> {
    (
        name(),
        prop::collection::vec((name(), fragment(), fragment(), proptest::option::of(text())), 1..5),
        prop::collection::vec(text(), 0..4),
        prop::collection::vec((any::<prop::sample::Index>(), fragment()), 0..3),
        (proptest::option::of(text()), text(), text(), text(), text()),
    )
        .prop_map(|(table, columns, labels, indexes, (comment, owner, by, issue, why))| {
            let mut column_values: Vec<Value> = columns
                .iter()
                .enumerate()
                .map(|(i, (name, default, check, col_comment))| {
                    let mut column = json!({"name": format!("{name}{i}"), "type": "text"});
                    if let Some(default) = default {
                        column["defaultValue"] = json!(default);
                    }
                    if let Some(check) = check {
                        // A string literal alone is no boolean; compare it to the column.
                        column["check"] = json!(format!("{} <> {check}", "c"));
                    }
                    if let Some(col_comment) = col_comment {
                        column["comment"] = json!(col_comment);
                    }
                    column
                })
                .collect();
            let names: Vec<String> = column_values.iter().map(|c| c["name"].as_str().unwrap_or_default().to_owned()).collect();
            let index_values: Vec<Value> = indexes
                .iter()
                .map(|(pick, predicate)| {
                    let mut index = json!({"columns": [names[pick.index(names.len())]]});
                    if let Some(predicate) = predicate {
                        index["where"] = json!(format!("{} <> {predicate}", "c"));
                    }
                    index
                })
                .collect();
            let mut enums = Vec::new();
            if !labels.is_empty() {
                enums.push(json!({"name": "mood", "values": labels}));
                column_values.push(json!({"name": "mood", "type": "mood"}));
            }
            json!({
                "tableName": table,
                "owner": owner,
                "schemaJson": {
                    "tableName": table,
                    "columns": column_values,
                    "indexes": index_values,
                    "enums": enums,
                    "comment": comment,
                },
                "requestMetadata": {"requestedBy": by, "relatedIssue": issue, "justification": why, "requestedAt": 1_701_792_000},
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_sql_has_exactly_the_intended_statements(value in request()) {
        let Ok(request) = SchemaRequest::from_value(value) else { return Ok(()) };
        let Ok(migration) = ddl_gen::generate(&request, &NamingOptions::default()) else { return Ok(()) };
        let table = &request.schema_json;
        let comments = table.comment.iter().chain(table.columns.iter().filter_map(|c| c.comment.as_ref()))
            .filter(|c| !c.is_empty())
            .count();

        let mut up = vec!["BEGIN", "SET"];
        up.extend(std::iter::repeat_n("DO", table.enums.len()));
        up.push("CREATE TABLE");
        up.extend(std::iter::repeat_n("CREATE INDEX", table.indexes.len()));
        up.extend(std::iter::repeat_n("COMMENT", comments));
        up.push("COMMIT");
        let read = statement_kinds(&migration.up_sql).map_err(|e| TestCaseError::fail(format!("{e}\n{}", migration.up_sql)))?;
        prop_assert_eq!(read, up, "{}", migration.up_sql);

        let mut down = vec!["BEGIN", "SET"];
        down.push("DROP TABLE");
        down.extend(std::iter::repeat_n("DO", table.enums.len()));
        down.push("COMMIT");
        let read = statement_kinds(&migration.down_sql).map_err(|e| TestCaseError::fail(format!("{e}\n{}", migration.down_sql)))?;
        prop_assert_eq!(read, down, "{}", migration.down_sql);
    }
}

/// The strategy must reach generation often enough to mean something.
#[test]
fn most_generated_requests_reach_sql() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut generated = 0;
    for _ in 0..200 {
        let value = request().new_tree(&mut runner).expect("value").current();
        if let Ok(request) = SchemaRequest::from_value(value)
            && ddl_gen::generate(&request, &NamingOptions::default()).is_ok()
        {
            generated += 1;
        }
    }
    assert!(generated >= 25, "only {generated} of 200 random requests produced SQL");
}
