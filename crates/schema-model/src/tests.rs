//! Parsing the contract: both seed 001 requests, bare tables, and bad input.

use crate::error::ModelError;
use crate::request::{InputShape, SchemaRequest};
use crate::types::ColumnType;

const CARICATURES: &str = r#"{
  "tableName": "caricatures",
  "owner": "omega-bot",
  "schemaJson": {
    "tableName": "caricatures",
    "columns": [
      {"name": "id", "type": "UUID", "primaryKey": true, "nullable": false, "defaultValue": "gen_random_uuid()"},
      {"name": "user_id", "type": "TEXT", "nullable": false},
      {"name": "created_at", "type": "TIMESTAMPTZ", "nullable": false, "defaultValue": "CURRENT_TIMESTAMP"}
    ],
    "indexes": [{"name": "idx_caricatures_user_id", "columns": ["user_id"]}]
  },
  "requestMetadata": {
    "requestedBy": "omega", "requestedByUsername": "omega-bot",
    "justification": "Store user caricature images", "relatedIssue": "676", "requestedAt": 1701792000
  }
}"#;

#[test]
fn parses_the_seed_envelope() {
    let request = SchemaRequest::from_json(CARICATURES).unwrap();
    assert_eq!(request.table_name, "caricatures");
    assert_eq!(request.shape, InputShape::Envelope);
    let metadata = request.request_metadata.as_ref().unwrap();
    assert_eq!(metadata.requested_at, Some(1_701_792_000));
    assert_eq!(metadata.related_issue.as_deref(), Some("676"));
    assert_eq!(
        request.schema_json.columns[2].column_type,
        ColumnType::Timestamp { with_time_zone: true, precision: None }
    );
    assert_eq!(request.schema_json.primary_key_columns(), ["id"]);
}

#[test]
fn fractional_requested_at_and_numeric_issue() {
    let text = CARICATURES.replace("1701792000", "1701792000.873").replace("\"676\"", "676");
    let request = SchemaRequest::from_json(&text).unwrap();
    let metadata = request.request_metadata.unwrap();
    assert_eq!(metadata.requested_at, Some(1_701_792_000));
    assert_eq!(metadata.related_issue.as_deref(), Some("676"));
}

#[test]
fn accepts_a_bare_table() {
    let request = SchemaRequest::from_json(
        r#"{"tableName": "t", "columns": [{"name": "id", "type": "int8", "primaryKey": true}]}"#,
    )
    .unwrap();
    assert_eq!(request.shape, InputShape::BareTable);
    assert_eq!(request.table_name, "t");
    assert_eq!(request.table_path(), "");
}

#[test]
fn malformed_json_has_line_and_column() {
    let err = SchemaRequest::from_json("{\n  \"tableName\": \"x\",\n  oops\n}").unwrap_err();
    assert!(matches!(err, ModelError::Syntax { line: 3, column: 3, .. }), "{err:?}");
    assert_eq!(err.to_string(), "malformed JSON at line 3, column 3: key must be a string");
}

#[test]
fn wrong_shape_has_the_json_path() {
    let text = CARICATURES.replace("\"TIMESTAMPTZ\"", "\"timestamptzz\"");
    let err = SchemaRequest::from_json(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "at schemaJson.columns[2].type: unknown type \"timestamptzz\"; did you mean \"timestamptz\"?; custom types must be declared in `enums`"
    );
    let text = CARICATURES
        .replace("\"nullable\": false, \"defaultValue\": \"gen", "\"nullable\": \"no\", \"defaultValue\": \"gen");
    let err = SchemaRequest::from_json(&text).unwrap_err();
    assert!(err.to_string().starts_with("at schemaJson.columns[0].nullable: invalid type: string \"no\""), "{err}");
    let text = CARICATURES.replace("\"primaryKey\"", "\"primarykey\"");
    let err = SchemaRequest::from_json(&text).unwrap_err();
    assert!(
        err.to_string().starts_with("at schemaJson.columns[0].primarykey: unknown field `primarykey`, expected one of"),
        "{err}"
    );
    let err = SchemaRequest::from_json("[1]").unwrap_err();
    assert!(err.to_string().contains("expected a JSON object"), "{err}");
    let err = SchemaRequest::from_json(&CARICATURES.replace("1701792000", "-5")).unwrap_err();
    assert!(err.to_string().starts_with("at requestMetadata.requestedAt: requestedAt must be unix seconds"), "{err}");
}

#[test]
fn undeclared_named_type_is_an_error_declared_enum_is_fine() {
    let bare = r#"{"tableName": "t", "columns": [{"name": "mood", "type": "mood"}]}"#;
    let err = SchemaRequest::from_json(bare).unwrap_err();
    assert!(err.to_string().starts_with("at columns[0].type: unknown type \"mood\""), "{err}");
    let with_enum = r#"{"tableName": "t", "columns": [{"name": "mood", "type": "mood[]"}], "enums": [{"name": "mood", "values": ["ok"]}]}"#;
    assert!(SchemaRequest::from_json(with_enum).is_ok());
}

#[test]
fn serializes_back_to_camel_case() {
    let request = SchemaRequest::from_json(CARICATURES).unwrap();
    let json = serde_json::to_value(&request).unwrap();
    assert_eq!(json["schemaJson"]["columns"][0]["primaryKey"], true);
    assert_eq!(json["schemaJson"]["columns"][2]["type"], "timestamp with time zone");
    let again = SchemaRequest::from_value(json).unwrap();
    assert_eq!(again, request);
}

#[test]
fn nul_characters_are_refused_with_their_path() {
    let err = SchemaRequest::from_json(
        r#"{"tableName": "t", "owner": "te\u0000am", "schemaJson": {"tableName": "t", "columns": [{"name": "id", "type": "uuid"}]}}"#,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "at owner: the text contains a NUL character, which PostgreSQL cannot store");
    let err = SchemaRequest::from_json(r#"{"tableName": "t", "columns": [{"name": "a\u0000", "type": "uuid"}]}"#)
        .unwrap_err();
    assert!(err.to_string().starts_with("at columns[0].name:"), "{err}");
}

#[test]
fn counts_beyond_what_postgresql_allows_are_refused_before_any_rule_runs() {
    let columns: Vec<String> = (0..1601).map(|i| format!(r#"{{"name": "c{i}", "type": "int"}}"#)).collect();
    let json = format!(r#"{{"tableName": "t", "columns": [{}]}}"#, columns.join(","));
    let err = SchemaRequest::from_json(&json).unwrap_err();
    assert_eq!(err.to_string(), "at columns: 1601 columns; PostgreSQL allows at most 1600 in a table");
    let keys: Vec<String> = (0..33).map(|i| format!(r#""c{i}""#)).collect();
    let json = format!(
        r#"{{"tableName": "t", "columns": [{}], "uniques": [{{"columns": [{}]}}]}}"#,
        columns[..40].join(","),
        keys.join(",")
    );
    let err = SchemaRequest::from_json(&json).unwrap_err();
    assert!(err.to_string().starts_with("at uniques[0].columns: 33 columns"), "{err}");
}
