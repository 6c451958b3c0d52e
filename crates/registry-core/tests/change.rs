//! Change requests: the preview against the current version.

use policy::config::Policy;
use registry_core::change::{Current, check_change};
use schema_model::change::Compatibility;
use schema_model::environment::GenerationInputs;
use schema_model::request::SchemaRequest;

fn request(json: &str) -> SchemaRequest {
    SchemaRequest::from_json(json).unwrap_or_else(|e| panic!("{e}"))
}

const CURRENT: &str = r#"{"tableName": "caricatures", "columns": [
    {"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"},
    {"name": "user_id", "type": "text", "nullable": false},
    {"name": "title", "type": "varchar(100)"},
    {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "CURRENT_TIMESTAMP"}]}"#;

fn check(current: &str, new: &str) -> registry_core::change::CheckedChange {
    let current = request(current).schema_json;
    let inputs = GenerationInputs::default();
    check_change(&request(new), Current { table: &current, inputs: &inputs, level: None }, &Policy::standard(), None)
}

fn rules(checked: &registry_core::change::CheckedChange) -> Vec<&str> {
    checked
        .answer
        .violations
        .iter()
        .filter(|v| v.severity == schema_model::violation::Severity::Error)
        .map(|v| v.rule.as_str())
        .collect()
}

const NEW: &str = r#"{"tableName": "caricatures", "owner": "omega", "compatibility": "NONE", "schemaJson": {"tableName": "caricatures", "columns": [
    {"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"},
    {"name": "user_id", "type": "text", "nullable": false},
    {"name": "title", "type": "varchar(200)", "nullable": false},
    {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"},
    {"name": "likes", "type": "integer", "nullable": false, "defaultValue": "0", "check": "likes >= 0"}],
    "indexes": [{"columns": ["user_id", "created_at"]}], "uniques": [{"columns": ["user_id", "title"]}]},
    "requestMetadata": {"requestedBy": "omega", "justification": "x", "relatedIssue": "9", "requestedAt": 1701792000}}"#;

#[test]
fn a_change_becomes_lock_safe_steps_up_and_back() {
    let checked = check(CURRENT, NEW);
    assert!(checked.answer.success, "{:#?}", checked.answer.violations);
    let preview = checked.answer.migration_preview.as_ref().expect("preview");
    assert_eq!(preview.file_name, "20231205_160000_alter_caricatures");
    let up = &preview.up_sql;
    // Indexes concurrently, outside any transaction, an interrupted build rebuilt.
    assert!(up.contains("\\gset\n\\if :registry_invalid_index\nDROP INDEX CONCURRENTLY IF EXISTS \"public\".\"idx_caricatures_user_id_created_at\";"), "{up}");
    assert!(
        up.contains(
            "SET lock_timeout = '5s';\nCREATE INDEX CONCURRENTLY IF NOT EXISTS \"idx_caricatures_user_id_created_at\""
        ),
        "{up}"
    );
    // The unique constraint attached to a concurrently built index.
    assert!(up.contains("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"uq_caricatures_user_id_title\""), "{up}");
    assert!(up.contains("UNIQUE USING INDEX \"uq_caricatures_user_id_title\""), "{up}");
    // NOT NULL through a validated check; checks NOT VALID, then validated.
    assert!(up.contains("CHECK (\"title\" IS NOT NULL) NOT VALID"), "{up}");
    assert!(up.contains("VALIDATE CONSTRAINT \"ck_caricatures_title_not_null\""), "{up}");
    assert!(up.contains("CHECK (\"likes\" >= 0) NOT VALID"), "{up}");
    // A widening varchar in place; a constant default with NOT NULL.
    assert!(up.contains("ALTER COLUMN \"title\" TYPE character varying(200);"), "{up}");
    assert!(up.contains("ADD COLUMN IF NOT EXISTS \"likes\" integer DEFAULT 0 NOT NULL;"), "{up}");
    // now() and CURRENT_TIMESTAMP are the same default: no step for created_at.
    assert!(!up.contains("created_at\" SET DEFAULT"), "{up}");
    let steps = checked.steps.as_ref().expect("steps");
    assert_eq!(steps.up.len(), 10, "{:#?}", steps.up.iter().map(|s| &s.description).collect::<Vec<_>>());
    // The way back says what it cannot restore.
    let down = &preview.down_sql;
    assert!(down.contains("-- note: the way back drops what \"add column likes\" added, with its values"), "{down}");
    assert!(down.contains("DROP COLUMN IF EXISTS \"likes\""), "{down}");
    assert!(
        down.contains("DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"idx_caricatures_user_id_created_at\""),
        "{down}"
    );
}

#[test]
fn a_definition_compared_with_itself_changes_nothing() {
    let checked = check(CURRENT, CURRENT);
    assert!(checked.changes.is_empty());
    let preview = checked.answer.migration_preview.expect("preview");
    assert!(preview.up_sql.ends_with("-- up\n-- nothing to change\n"), "{}", preview.up_sql);
    assert!(preview.down_sql.ends_with("-- down\n-- nothing to change\n"), "{}", preview.down_sql);
}

#[test]
fn unsafe_changes_are_refused_with_the_safe_path() {
    let volatile = CURRENT.replace(
        r#"{"name": "title", "type": "varchar(100)"},"#,
        r#"{"name": "title", "type": "varchar(100)"}, {"name": "token", "type": "uuid", "defaultValue": "gen_random_uuid()"},"#,
    );
    let checked = check(CURRENT, &volatile);
    assert!(rules(&checked).contains(&"change.rewrites-table"), "{:#?}", checked.answer.violations);
    assert!(rules(&checked).contains(&"ddl.generation"), "the generator refuses it too");
    assert!(checked.answer.migration_preview.is_none());

    let narrower = CURRENT.replace(r#""varchar(100)""#, r#""varchar(20)""#);
    let checked = check(CURRENT, &narrower);
    assert!(rules(&checked).contains(&"change.narrows-type"), "{:#?}", checked.answer.violations);

    let dropped = CURRENT.replace(r#"{"name": "title", "type": "varchar(100)"},"#, "");
    let checked = check(CURRENT, &dropped);
    assert!(rules(&checked).contains(&"change.drops-column"), "{:#?}", checked.answer.violations);
    assert!(rules(&checked).contains(&"change.compatibility"), "{:#?}", checked.answer.violations);
}

#[test]
fn the_compatibility_level_comes_from_the_request_the_table_and_the_policy() {
    let added = CURRENT.replace(
        r#"{"name": "title", "type": "varchar(100)"},"#,
        r#"{"name": "title", "type": "varchar(100)", "nullable": false},"#,
    );
    let current = request(CURRENT).schema_json;
    let inputs = GenerationInputs::default();
    let at = |level, policy: &Policy| {
        check_change(&request(&added), Current { table: &current, inputs: &inputs, level }, policy, None)
    };
    assert!(!at(None, &Policy::standard()).answer.success, "BACKWARD by default");
    assert_eq!(at(None, &Policy::standard()).level, Compatibility::Backward);
    assert!(at(Some(Compatibility::None), &Policy::standard()).answer.success, "the table's own level");
    let lenient = Policy::from_toml("[compatibility]\n\"public.caricatures\" = \"NONE\"").expect("policy");
    assert!(at(None, &lenient).answer.success, "the policy's level for the table");
    let forward = CURRENT.replace(
        r#"{"name": "title", "type": "varchar(100)"},"#,
        r#"{"name": "title", "type": "varchar(100)"}, {"name": "note", "type": "text"},"#,
    );
    let checked = check_change(
        &request(&forward),
        Current { table: &current, inputs: &inputs, level: Some(Compatibility::Forward) },
        &Policy::standard(),
        None,
    );
    assert!(!checked.answer.success, "a new column is not forward compatible");
    assert!(
        checked.answer.violations.iter().any(|v| v.message.contains("FORWARD")),
        "{:#?}",
        checked.answer.violations
    );
}
