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
    let r = request(r#"{"tableName": "t", "columns": [{"name": "a\u0000b", "type": "int"}]}"#);
    assert!(matches!(generate(&r, &NamingOptions::default()), Err(GenError::InvalidIdentifier { .. })));
}

#[test]
fn down_reverses_up() {
    let r = request(
        r#"{"tableName": "t", "columns": [{"name": "id", "type": "int", "primaryKey": true}, {"name": "m", "type": "mood"}], "indexes": [{"columns": ["m"]}, {"columns": ["id", "m"]}], "enums": [{"name": "mood", "values": ["a"]}]}"#,
    );
    let migration = generate(&r, &NamingOptions::default()).unwrap();
    let down = migration.down_sql;
    let positions: Vec<usize> = [
        "DROP INDEX IF EXISTS \"public\".\"idx_t_id_m\"",
        "DROP INDEX IF EXISTS \"public\".\"idx_t_m\"",
        "DROP TABLE IF EXISTS \"public\".\"t\"",
        "DROP TYPE IF EXISTS \"public\".\"mood\"",
    ]
    .iter()
    .map(|s| down.find(s).unwrap_or_else(|| panic!("{s} missing in\n{down}")))
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{down}");
}
