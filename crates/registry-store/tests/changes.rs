//! Change requests through the store on a real PostgreSQL: a change to a managed table is
//! planned against its current version, reviewed, applied step by step (and resumed after a
//! stop between steps), recorded as the next version, and rolled back to the base version;
//! a stale base, drift and a data-losing way back are refused; an adopted table can change.

mod support;

use std::sync::{Arc, Mutex};

use registry_store::apply::FaultHook;
use registry_store::apply::reconcile::Scope;
use registry_store::error::StoreError;
use registry_store::store::{Store, StoreConfig};
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;
use schema_model::violation::RequestKind;
use tokio_postgres::NoTls;

const TARGET: &str = "default";

struct Setup {
    store: Store,
    config: StoreConfig,
    target_url: String,
    crash: Arc<Mutex<Option<String>>>,
}

async fn setup(server: &pg_cluster::test_support::TestServer) -> Setup {
    setup_with(server, |_| {}).await
}

async fn setup_with(server: &pg_cluster::test_support::TestServer, adjust: impl FnOnce(&mut StoreConfig)) -> Setup {
    let registry = server.create_unique_database("registry").expect("registry database");
    let target = server.create_unique_database("target").expect("target database");
    let rehearsal = server.create_unique_database("rehearsal").expect("rehearsal database");
    let target_url = server.url(&target);
    let crash: Arc<Mutex<Option<String>>> = Arc::default();
    let hook = crash.clone();
    let mut config = support::config(server.url(&registry))
        .with_target(TARGET, &target_url)
        .with_rehearsal_url(server.url(&rehearsal))
        .allowing_privileged_runtime();
    config.faults = Some(FaultHook(Arc::new(move |at: &str| hook.lock().expect("hook").as_deref() == Some(at))));
    adjust(&mut config);
    let store = Store::open(config.clone()).await.expect("store opens");
    Setup { store, config, target_url, crash }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

async fn one<T: for<'a> tokio_postgres::types::FromSql<'a>>(url: &str, sql: &str) -> T {
    connect(url).await.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

/// When each recorded step finished, in step order.
async fn finish_times(url: &str) -> Vec<String> {
    connect(url)
        .await
        .query("SELECT finished_at::text FROM schema_registry.applied_steps ORDER BY step", &[])
        .await
        .expect("steps")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn request(json: &str) -> SchemaRequest {
    SchemaRequest::from_json(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

const V1: &str = r#"{"tableName": "notes", "owner": "team", "schemaJson": {"tableName": "notes", "columns": [
    {"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"},
    {"name": "body", "type": "text", "nullable": false},
    {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"}]},
    "requestMetadata": {"requestedBy": "alice", "justification": "notes", "relatedIssue": "9"}}"#;

/// V1 with a new column, an index and a check (a change of four steps and more).
const V2: &str = r#"{"tableName": "notes", "owner": "team", "compatibility": "NONE", "schemaJson": {"tableName": "notes", "columns": [
    {"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"},
    {"name": "body", "type": "text", "nullable": false},
    {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"},
    {"name": "stars", "type": "integer", "defaultValue": "0", "check": "stars >= 0"}],
    "indexes": [{"columns": ["created_at"]}]},
    "requestMetadata": {"requestedBy": "alice", "justification": "stars", "relatedIssue": "9"}}"#;

async fn approved(store: &Store, json: &str) -> (String, schema_model::violation::CheckAnswer) {
    let created = store.create_request(&request(json), "alice").await.unwrap_or_else(|e| panic!("{e:?}"));
    store.change_status(&created.request.id, RequestStatus::Approved, "bob", None, None).await.expect("approved");
    (created.request.id, created.answer)
}

async fn applied_v1(setup: &Setup) -> String {
    let (id, answer) = approved(&setup.store, V1).await;
    assert_eq!(answer.kind, Some(RequestKind::Create));
    setup.store.apply(&id, TARGET, "olaf").await.expect("v1 applied");
    connect(&setup.target_url).await.batch_execute("INSERT INTO notes (body) VALUES ('a'), ('b')").await.expect("rows");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_is_planned_against_the_current_version_applied_and_rolled_back() {
    let server = support::server();
    let setup = setup(&server).await;
    applied_v1(&setup).await;
    let (id, answer) = approved(&setup.store, V2).await;
    assert_eq!((answer.kind, answer.base_version), (Some(RequestKind::Alter), Some(1)));
    let preview = answer.migration_preview.expect("preview");
    assert!(preview.file_name.contains("_alter_notes"), "{}", preview.file_name);
    assert!(preview.up_sql.contains("CREATE INDEX CONCURRENTLY"), "{}", preview.up_sql);

    let outcome = setup.store.apply(&id, TARGET, "olaf").await.expect("applied");
    assert!(outcome.ran_sql);
    assert_eq!(outcome.status, RequestStatus::Migrated);
    let table = setup.store.table(TARGET, "public", "notes").await.expect("catalog");
    assert_eq!(table.table.current_version, Some(2));
    assert_eq!(table.versions[1].request_id.as_deref(), Some(id.as_str()));
    assert!(setup.store.drift(TARGET, "public", "notes").await.expect("drift").in_sync);
    assert_eq!(one::<i64>(&setup.target_url, "SELECT count(*) FROM notes WHERE stars = 0").await, 2);
    let again = setup.store.apply(&id, TARGET, "olaf").await.expect("again");
    assert!(!again.ran_sql, "exactly once");

    // The way back drops the column the change added, which holds values: refused first.
    let refused = setup.store.rollback(&id, TARGET, "olaf").await;
    assert!(matches!(refused, Err(StoreError::DataLoss { .. })), "{refused:?}");
    connect(&setup.target_url).await.batch_execute("UPDATE notes SET stars = NULL").await.expect("clear");
    let back = setup.store.rollback(&id, TARGET, "olaf").await.expect("rolled back");
    assert_eq!(back.status, RequestStatus::Approved);
    let table = setup.store.table(TARGET, "public", "notes").await.expect("catalog");
    assert_eq!(table.table.current_version, Some(1), "back at the base version");
    assert!(setup.store.drift(TARGET, "public", "notes").await.expect("drift").in_sync);
    assert_eq!(one::<i64>(&setup.target_url, "SELECT count(*) FROM notes").await, 2, "the rows stay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_base_and_drift_are_refused_before_anything_runs() {
    let server = support::server();
    let setup = setup(&server).await;
    applied_v1(&setup).await;
    let (first, _) = approved(&setup.store, V2).await;
    let other = V1.replace(
        r#"{"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"}]"#,
        r#"{"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"}, {"name": "title", "type": "text"}]"#,
    );
    let (second, answer) = approved(&setup.store, &other).await;
    assert_eq!(answer.base_version, Some(1));
    setup.store.apply(&first, TARGET, "olaf").await.expect("first applied");
    let stale = setup.store.apply(&second, TARGET, "olaf").await;
    assert!(matches!(stale, Err(StoreError::StaleBase { current: 2, base: 1 })), "{stale:?}");

    // Changed outside the registry: drift is reported, and a change planned against the
    // registry's version is refused.
    connect(&setup.target_url).await.batch_execute("ALTER TABLE notes ADD COLUMN sneaky text").await.expect("alter");
    let drift = setup.store.drift(TARGET, "public", "notes").await.expect("drift");
    assert!(!drift.in_sync);
    assert!(
        drift
            .differences
            .iter()
            .any(|d| d.object == "column sneaky" && d.expected == "absent" && d.live.contains("text")),
        "{drift:?}"
    );
    let third = V2.replace(
        r#""indexes": [{"columns": ["created_at"]}]"#,
        r#""indexes": [{"columns": ["created_at"]}, {"columns": ["body"]}]"#,
    );
    let (third, _) = approved(&setup.store, &third).await;
    let drifted = setup.store.apply(&third, TARGET, "olaf").await;
    assert!(matches!(drifted, Err(StoreError::Drift { .. })), "{drifted:?}");
    assert_eq!(
        one::<i64>(&setup.target_url, "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_notes_body'").await,
        0,
        "nothing ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_between_steps_resumes_at_the_first_unfinished_step() {
    let server = support::server();
    let setup = setup(&server).await;
    applied_v1(&setup).await;
    let (id, _) = approved(&setup.store, V2).await;
    *setup.crash.lock().expect("hook") = Some("apply:step-2-done".to_owned());
    assert!(setup.store.apply(&id, TARGET, "olaf").await.is_err(), "stopped after step 2");
    *setup.crash.lock().expect("hook") = None;
    let steps_done: i64 = one(&setup.target_url, "SELECT count(*) FROM schema_registry.applied_steps").await;
    assert_eq!(steps_done, 2);
    // Another process settles the lease (nothing is recorded as applied yet) and applies
    // again: the remaining steps run once, the finished ones never again.
    let other = Store::open(setup.config.clone()).await.expect("reopen");
    other.reconcile_abandoned(Scope::All).await.expect("reconcile");
    let first_two = finish_times(&setup.target_url).await;
    let outcome = other.apply(&id, TARGET, "olaf").await.expect("resumed");
    assert_eq!(outcome.status, RequestStatus::Migrated);
    let after = finish_times(&setup.target_url).await;
    assert_eq!(after[..2], first_two[..], "the finished steps did not run again");
    assert!(other.drift(TARGET, "public", "notes").await.expect("drift").in_sync);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_adopted_table_can_then_be_changed() {
    let server = support::server();
    let setup = setup(&server).await;
    connect(&setup.target_url)
        .await
        .batch_execute(
            "CREATE TABLE public.legacy (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, label text NOT NULL);
             CREATE INDEX legacy_label ON public.legacy (label);
             INSERT INTO public.legacy (label) VALUES ('x');",
        )
        .await
        .expect("legacy table");
    let adopted = setup.store.adopt(TARGET, "public", "legacy", "olaf").await.expect("adopted");
    assert_eq!(adopted.table.current_version, Some(1));
    assert_eq!(adopted.versions[0].adopted_by.as_deref(), Some("olaf"));
    assert!(setup.store.adopt(TARGET, "public", "legacy", "olaf").await.is_err(), "only once");
    assert!(setup.store.drift(TARGET, "public", "legacy").await.expect("drift").in_sync);
    let definition = &adopted.versions[0].definition;
    assert_eq!(definition["primaryKeyName"], "legacy_pkey", "the live name is kept: {definition}");
    let audit = setup.store.table_audit("public", "legacy").await.expect("audit");
    assert!(audit.iter().any(|e| e.action == "adopt" && e.performed_by == "olaf"), "{audit:?}");

    let change = r#"{"tableName": "legacy", "owner": "team", "schemaJson": {"tableName": "legacy", "columns": [
        {"name": "id", "type": "bigint", "primaryKey": true, "identity": "byDefault"},
        {"name": "label", "type": "text", "nullable": false},
        {"name": "note", "type": "text"}],
        "indexes": [{"name": "legacy_label", "columns": ["label"]}],
        "primaryKeyName": "legacy_pkey"},
        "requestMetadata": {"requestedBy": "alice", "justification": "notes on legacy rows", "relatedIssue": "9"}}"#;
    let (id, answer) = approved(&setup.store, change).await;
    assert_eq!(answer.kind, Some(RequestKind::Alter));
    let outcome = setup.store.apply(&id, TARGET, "olaf").await.expect("applied");
    assert!(outcome.ran_sql);
    assert_eq!(one::<i64>(&setup.target_url, "SELECT count(*) FROM legacy WHERE note IS NULL").await, 1);
    assert_eq!(setup.store.table(TARGET, "public", "legacy").await.expect("catalog").table.current_version, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_behind_a_long_reader_is_tried_a_bounded_number_of_times_and_runs_once_it_is_gone() {
    let server = support::server();
    let setup = setup_with(&server, |config| {
        config.apply.table_lock_timeout = std::time::Duration::from_millis(100);
        config.apply.step_tries = 3;
    })
    .await;
    applied_v1(&setup).await;
    let (id, _) = approved(&setup.store, V2).await;
    let reader = connect(&setup.target_url).await;
    reader.batch_execute("BEGIN; SELECT count(*) FROM notes").await.expect("the reader holds ACCESS SHARE");
    let busy = setup.store.apply(&id, TARGET, "olaf").await;
    let Err(StoreError::Busy(message)) = &busy else { panic!("{busy:?}") };
    assert!(message.contains("step 1 (add column stars)") && message.contains("3 times"), "{message}");
    assert!(message.contains("lock timeout"), "{message}");
    let stars: i64 = one(
        &setup.target_url,
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attname = 'stars'",
    )
    .await;
    assert_eq!(stars, 0, "the step that gave up left nothing");
    let steps_done: i64 = one(&setup.target_url, "SELECT count(*) FROM schema_registry.applied_steps").await;
    assert_eq!(steps_done, 0);
    let request = setup.store.get_request(&id).await.expect("request");
    assert_eq!(request.status, RequestStatus::Approved, "still to apply");

    reader.batch_execute("ROLLBACK").await.expect("the reader ends");
    let outcome = setup.store.apply(&id, TARGET, "olaf").await.expect("applied once the reader is gone");
    assert_eq!(outcome.status, RequestStatus::Migrated);
    assert!(setup.store.drift(TARGET, "public", "notes").await.expect("drift").in_sync);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_that_runs_into_the_apply_timeout_is_not_tried_again_and_says_which_setting_to_raise() {
    let server = support::server();
    let setup = setup_with(&server, |config| {
        // The statement timeout (the apply timeout) comes before the table's lock timeout.
        config.apply.timeout = std::time::Duration::from_secs(1);
        config.apply.table_lock_timeout = std::time::Duration::from_secs(30);
    })
    .await;
    applied_v1(&setup).await;
    let (id, _) = approved(&setup.store, V2).await;
    let reader = connect(&setup.target_url).await;
    reader.batch_execute("BEGIN; SELECT count(*) FROM notes").await.expect("the reader holds ACCESS SHARE");
    let busy = setup.store.apply(&id, TARGET, "olaf").await;
    let Err(StoreError::Busy(message)) = &busy else { panic!("{busy:?}") };
    assert!(message.contains("step 1 (add column stars)") && message.contains("apply_timeout_seconds"), "{message}");
    assert!(!message.contains(" times"), "tried once, not again and again: {message}");
    reader.batch_execute("ROLLBACK").await.expect("the reader ends");
    let outcome = setup.store.apply(&id, TARGET, "olaf").await.expect("applied once the reader is gone");
    assert_eq!(outcome.status, RequestStatus::Migrated);
}
