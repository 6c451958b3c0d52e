use schema_model::change::{Change, Constraint, Schema, SchemaChange};
use schema_model::naming::NamingOptions;
use schema_model::request::SchemaRequest;
use schema_model::table::TableSchema;

use crate::{DiffError, diff, diff_schemas};

fn table(json: &str) -> TableSchema {
    SchemaRequest::from_json(json).unwrap_or_else(|e| panic!("{e}: {json}")).schema_json
}

fn changes(old: &str, new: &str) -> Vec<String> {
    diff(&table(old), &table(new), &NamingOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(Change::describe)
        .collect()
}

const BASE: &str = r#"{"tableName": "users", "columns": [
    {"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"},
    {"name": "email", "type": "varchar(100)", "nullable": false},
    {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"}],
  "indexes": [{"columns": ["email"]}]}"#;

#[test]
fn a_definition_compared_with_itself_has_no_change() {
    assert!(changes(BASE, BASE).is_empty());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests");
    let mut compared = 0;
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let Ok(request) = SchemaRequest::from_json(&text) else { continue };
        let found = diff(&request.schema_json, &request.schema_json, &NamingOptions::default());
        match found {
            Err(DiffError::DuplicateColumn { .. }) if path.to_string_lossy().contains("_bad_") => continue,
            found => assert_eq!(found, Ok(Vec::new()), "{}", path.display()),
        }
        compared += 1;
    }
    assert!(compared >= 20, "{compared}");
}

#[test]
fn equivalent_spellings_are_no_change() {
    let spelled = BASE
        .replace("\"timestamptz\"", "\"timestamp with time zone\"")
        .replace("\"now()\"", "\"CURRENT_TIMESTAMP\"")
        .replace("\"varchar(100)\"", "\"character varying(100)\"");
    assert!(changes(BASE, &spelled).is_empty(), "{:?}", changes(BASE, &spelled));
}

#[test]
fn columns_are_added_dropped_and_altered() {
    let new = r#"{"tableName": "users", "columns": [
        {"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"},
        {"name": "email", "type": "varchar(200)", "comment": "login"},
        {"name": "nickname", "type": "text"}],
      "indexes": [{"columns": ["email"]}]}"#;
    assert_eq!(
        changes(BASE, new),
        [
            "drop column created_at",
            "add column nickname",
            "change the type of email from character varying(100) to character varying(200)",
            "allow NULL in email",
            "comment on column email",
        ]
    );
}

#[test]
fn a_renamed_column_keeps_its_index_under_the_generated_name() {
    let new = BASE
        .replace(
            r#"{"name": "email", "type": "varchar(100)", "nullable": false}"#,
            r#"{"name": "login", "type": "varchar(100)", "nullable": false, "renamedFrom": "email"}"#,
        )
        .replace(r#""columns": ["email"]"#, r#""columns": ["login"]"#);
    assert_eq!(
        changes(BASE, &new),
        ["rename column email to login", "rename index idx_users_email to idx_users_login"]
    );
    // Without renamedFrom it is a new column and a dropped one (and their indexes).
    let without = new.replace(r#", "renamedFrom": "email""#, "");
    assert_eq!(
        changes(BASE, &without),
        ["drop index idx_users_email", "drop column email", "add column login", "add index idx_users_login"]
    );
}

#[test]
fn a_renamed_table_renames_its_generated_names() {
    let new = BASE.replace(r#""tableName": "users""#, r#""tableName": "accounts", "renamedFrom": "users""#);
    assert_eq!(
        changes(BASE, &new),
        [
            "rename table users to accounts",
            "rename constraint pk_users to pk_accounts",
            "rename index idx_users_email to idx_accounts_email"
        ]
    );
    let unrelated = BASE.replace(r#""tableName": "users""#, r#""tableName": "accounts""#);
    assert!(matches!(
        diff(&table(BASE), &table(&unrelated), &NamingOptions::default()),
        Err(DiffError::OtherTable { .. })
    ));
}

#[test]
fn a_changed_index_is_dropped_and_built_again() {
    let new = BASE.replace(r#"{"columns": ["email"]}"#, r#"{"columns": ["email"], "where": "email IS NOT NULL"}"#);
    assert_eq!(changes(BASE, &new), ["drop index idx_users_email", "add index idx_users_email"]);
    let unique = BASE.replace(
        r#""indexes": [{"columns": ["email"]}]"#,
        r#""indexes": [{"columns": ["email"]}], "uniques": [{"columns": ["email"]}]"#,
    );
    let found = diff(&table(BASE), &table(&unique), &NamingOptions::default()).expect("diff");
    assert!(
        matches!(&found[..], [Change::AddConstraint { constraint: Constraint::Unique(u) }] if u.name == "uq_users_email")
    );
}

#[test]
fn enum_labels_are_added_in_place_and_removals_are_reported() {
    let old = r#"{"tableName": "tasks", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "state", "type": "task_state"}], "enums": [{"name": "task_state", "values": ["open", "done"]}]}"#;
    let added = old.replace(r#"["open", "done"]"#, r#"["open", "blocked", "done", "archived"]"#);
    assert_eq!(
        changes(old, &added),
        ["add value 'blocked' to type task_state", "add value 'archived' to type task_state"]
    );
    let found = diff(&table(old), &table(&added), &NamingOptions::default()).expect("diff");
    assert!(matches!(&found[0], Change::AddEnumValue { before: Some(b), .. } if b == "done"));
    let removed = old.replace(r#"["open", "done"]"#, r#"["open"]"#);
    assert_eq!(changes(old, &removed), ["remove value 'done' from type task_state"]);
    let reordered = old.replace(r#"["open", "done"]"#, r#"["done", "open"]"#);
    assert_eq!(changes(old, &reordered).len(), 2);
}

#[test]
fn bad_renames_say_where() {
    let twice = BASE.replace(
        r#"{"name": "email", "type": "varchar(100)", "nullable": false}"#,
        r#"{"name": "email", "type": "varchar(100)", "nullable": false}, {"name": "login", "type": "text", "renamedFrom": "email"}"#,
    );
    let error = diff(&table(BASE), &table(&twice), &NamingOptions::default()).expect_err("refused");
    assert!(error.to_string().contains("columns[2].renamedFrom"), "{error}");
    let nothing = BASE.replace(
        r#"{"name": "email", "type": "varchar(100)", "nullable": false}"#,
        r#"{"name": "login", "type": "varchar(100)", "nullable": false, "renamedFrom": "mail"}"#,
    );
    let error = diff(&table(BASE), &table(&nothing), &NamingOptions::default()).expect_err("refused");
    assert!(error.to_string().contains("no column"), "{error}");
}

#[test]
fn checks_follow_renamed_columns() {
    let old = r#"{"tableName": "items", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "qty", "type": "integer", "check": "qty >= 0"}]}"#;
    let new = r#"{"tableName": "items", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "quantity", "type": "integer", "check": "quantity >= 0", "renamedFrom": "qty"}]}"#;
    assert_eq!(
        changes(old, new),
        ["rename column qty to quantity", "rename constraint ck_items_qty to ck_items_quantity"]
    );
}

fn schema(tables: &[&str]) -> Schema {
    Schema { tables: tables.iter().map(|t| table(t)).collect(), enums: Vec::new() }
}

#[test]
fn schemas_of_several_tables_are_created_altered_renamed_and_dropped_in_an_order_that_runs() {
    let teams = r#"{"tableName": "teams", "columns": [{"name": "id", "type": "bigint", "primaryKey": true}]}"#;
    let members = r#"{"tableName": "members", "columns": [{"name": "id", "type": "bigint", "primaryKey": true},
        {"name": "team_id", "type": "bigint", "references": {"table": "teams", "column": "id"}}]}"#;
    let notes = r#"{"tableName": "notes", "columns": [{"name": "id", "type": "bigint", "primaryKey": true}]}"#;
    let old = schema(&[teams, members, notes]);
    let naming = NamingOptions::default();
    assert_eq!(diff_schemas(&old, &old, &naming).expect("diff"), Vec::new(), "no phantom change");

    let memos = r#"{"tableName": "memos", "renamedFrom": "notes", "columns": [{"name": "id", "type": "bigint", "primaryKey": true},
        {"name": "body", "type": "text"}]}"#;
    let tags = r#"{"tableName": "tags", "columns": [{"name": "id", "type": "bigint", "primaryKey": true}]}"#;
    let new = schema(&[memos, tags]);
    let changes = diff_schemas(&old, &new, &naming).expect("diff");
    let described: Vec<String> = changes.iter().map(SchemaChange::describe).collect();
    assert_eq!(
        described,
        [
            "create table public.tags",
            "alter table public.memos: rename table notes to memos, rename constraint pk_notes to pk_memos, add column body",
            // Members refer to teams: they go first.
            "drop table public.members",
            "drop table public.teams",
        ]
    );
    assert!(changes[3].loses_data() && !changes[0].loses_data());

    let twice = schema(&[memos, &memos.replace("memos", "memos_2")]);
    let error = diff_schemas(&old, &twice, &naming).expect_err("two continuations");
    assert!(error.to_string().contains("continued by two tables"), "{error}");
}

#[test]
fn shared_enum_types_of_a_schema_are_compared_too() {
    let old = Schema {
        tables: Vec::new(),
        enums: vec![schema_model::table::EnumType { name: "mood".into(), values: vec!["ok".into()] }],
    };
    let mut new = old.clone();
    new.enums[0].values.push("great".into());
    let changes = diff_schemas(&old, &new, &NamingOptions::default()).expect("diff");
    assert_eq!(
        changes.iter().map(SchemaChange::describe).collect::<Vec<_>>(),
        ["types: add value 'great' to type mood"]
    );
    let gone = diff_schemas(&old, &Schema::default(), &NamingOptions::default()).expect("diff");
    assert!(
        matches!(&gone[..], [SchemaChange::AlterTypes { changes }] if matches!(changes[..], [Change::DropEnumType { .. }]))
    );
}
