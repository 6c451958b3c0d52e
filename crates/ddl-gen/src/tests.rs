//! Generation over whole requests; the full fixture set is snapshotted by xtask.

use schema_model::naming::NamingOptions;
use schema_model::request::SchemaRequest;

use crate::{GenError, generate};

fn request(json: &str) -> SchemaRequest {
    SchemaRequest::from_json(json).unwrap()
}

#[test]
fn seed_caricatures_file_name() {
    let r = request(
        r#"{"tableName": "caricatures", "schemaJson": {"tableName": "caricatures", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}, "requestMetadata": {"requestedAt": 1701792000}}"#,
    );
    let migration = generate(&r, &NamingOptions::default()).unwrap();
    assert_eq!(migration.file_name, "20231205_160000_create_caricatures");
}

#[test]
fn unsafe_fragments_are_errors_not_sql() {
    let r = request(
        r#"{"tableName": "t", "columns": [{"name": "id", "type": "int", "primaryKey": true, "defaultValue": "1; DROP TABLE users"}]}"#,
    );
    let err = generate(&r, &NamingOptions::default()).unwrap_err();
    assert!(matches!(&err, GenError::UnsafeExpression { path, .. } if path == "columns[0].defaultValue"), "{err}");
}

#[test]
fn long_and_nul_identifiers_are_refused() {
    let long = "x".repeat(64);
    let r = request(&format!(r#"{{"tableName": "{long}", "columns": [{{"name": "id", "type": "int"}}]}}"#));
    assert!(matches!(generate(&r, &NamingOptions::default()), Err(GenError::InvalidIdentifier { .. })));
    // NUL never gets this far: the model refuses it (see schema-model's tests).
    assert!(
        SchemaRequest::from_json(r#"{"tableName": "t", "columns": [{"name": "a\u0000b", "type": "int"}]}"#).is_err()
    );
}

#[test]
fn down_reverses_up_without_naming_what_another_table_may_own() {
    let r = request(
        r#"{"tableName": "t", "columns": [{"name": "id", "type": "int", "primaryKey": true}, {"name": "m", "type": "mood"}, {"name": "k", "type": "kind"}], "indexes": [{"columns": ["m"]}, {"columns": ["id", "m"]}], "enums": [{"name": "mood", "values": ["a"]}, {"name": "kind", "values": ["x"]}]}"#,
    );
    let migration = generate(&r, &NamingOptions::default()).unwrap();
    let down = migration.down_sql;
    // Indexes go with their table: a DROP INDEX by name could hit another table's index.
    assert!(!down.contains("DROP INDEX"), "{down}");
    let positions: Vec<usize> = [
        "DROP TABLE IF EXISTS \"public\".\"t\"",
        "DROP TYPE IF EXISTS \"public\".\"kind\"",
        "DROP TYPE IF EXISTS \"public\".\"mood\"",
    ]
    .iter()
    .map(|s| down.find(s).unwrap_or_else(|| panic!("{s} missing in\n{down}")))
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{down}");
    assert_eq!(down.matches("EXCEPTION WHEN dependent_objects_still_exist").count(), 2, "{down}");
}

#[test]
fn shared_enums_are_referenced_never_created_or_dropped() {
    let r = request(
        r#"{"tableName": "t", "columns": [{"name": "id", "type": "int", "primaryKey": true}, {"name": "m", "type": "mood"}, {"name": "k", "type": "kind"}], "enums": [{"name": "mood", "values": ["a"]}, {"name": "kind", "values": ["x"]}]}"#,
    );
    let inputs = schema_model::environment::GenerationInputs {
        naming: NamingOptions::default(),
        shared_enums: std::iter::once("mood".to_owned()).collect(),
    };
    let migration = crate::generate_with(&r, &inputs).unwrap();
    assert!(!migration.up_sql.contains("AS ENUM ('a')"), "{}", migration.up_sql);
    assert!(migration.up_sql.contains("AS ENUM ('x')"), "{}", migration.up_sql);
    assert!(migration.up_sql.contains("\"public\".\"mood\""), "the column still uses it: {}", migration.up_sql);
    assert!(!migration.down_sql.contains("\"mood\""), "{}", migration.down_sql);
    assert!(migration.down_sql.contains("DROP TYPE IF EXISTS \"public\".\"kind\""), "{}", migration.down_sql);
}
