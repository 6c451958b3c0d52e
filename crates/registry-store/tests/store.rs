//! The store against a real PostgreSQL from the project's cluster helper: schema
//! migrations, requests, compare-and-set status changes, the append-only audit log,
//! exactly-once apply, crash recovery, rollback, restart, and the catalog.

mod support;

use std::sync::Arc;

use pg_cluster::test_support::TestServer;
use registry_store::error::StoreError;
use registry_store::store::Store;
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;
use tokio_postgres::NoTls;

const TARGET: &str = "default";

fn fixture(name: &str) -> SchemaRequest {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests").join(name);
    SchemaRequest::from_json(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture parses")
}

struct Setup {
    store: Store,
    registry_url: String,
    target_url: String,
}

async fn setup(server: &TestServer) -> Setup {
    let registry = server.create_unique_database("registry").expect("registry database");
    let target = server.create_unique_database("target").expect("target database");
    let registry_url = server.url(&registry);
    let target_url = server.url(&target);
    let store =
        Store::open(support::config(&registry_url).with_target(TARGET, &target_url).allowing_privileged_runtime())
            .await
            .expect("store opens");
    Setup { store, registry_url, target_url }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

async fn count(url: &str, sql: &str) -> i64 {
    connect(url).await.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

async fn approved(setup: &Setup, fixture_name: &str) -> String {
    let created = setup.store.create_request(&fixture(fixture_name), "alice").await.expect("created");
    setup.store.change_status(&created.request.id, RequestStatus::Approved, "bob", None, None).await.expect("approved");
    created.request.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schema_migrations_are_idempotent_and_refuse_a_newer_schema() {
    let server = support::server();
    let setup = setup(&server).await;
    let mut direct = connect(&setup.registry_url).await;
    let again = registry_store::schema::migrate(&mut direct, &support::audit_key()).await.expect("second migrate");
    assert!(again.applied.is_empty(), "nothing to apply the second time: {again:?}");
    assert_eq!(again.version, registry_store::schema::latest_version());
    Store::open(support::config(&setup.registry_url).allowing_privileged_runtime()).await.expect("reopen");
    assert!(
        registry_store::schema::migrate(&mut direct, &support::audit_key()).await.expect("migrate").applied.is_empty()
    );

    connect(&setup.registry_url)
        .await
        .execute("INSERT INTO registry.schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')", &[])
        .await
        .expect("insert");
    match Store::open(support::config(&setup.registry_url).allowing_privileged_runtime()).await {
        Err(StoreError::SchemaTooNew { found: 999, .. }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_are_created_read_listed_and_refused_when_they_violate_the_policy() {
    let server = support::server();
    let setup = setup(&server).await;
    let store = &setup.store;
    let created = store.create_request(&fixture("01_caricatures.json"), "omega-bot").await.expect("created");
    assert_eq!(created.request.status, RequestStatus::Requested);
    assert_eq!(created.answer.registry_id.as_deref(), Some(created.request.id.as_str()));
    assert_eq!(created.request.migration.file_name, "20231205_160000_create_caricatures");
    let read = store.get_request(&created.request.id).await.expect("get");
    assert_eq!(read, created.request);
    store.create_request(&fixture("02_generated_images.json"), "omega-bot").await.expect("second");

    let page = store.list_requests(None, 1, 0).await.expect("list");
    assert_eq!((page.items.len(), page.total), (1, 2));
    assert_eq!(page.items[0].table_name, "generated_images", "newest first");
    let page = store.list_requests(None, 10, 1).await.expect("list");
    assert_eq!(page.items[0].table_name, "caricatures");
    let none = store.list_requests(Some(RequestStatus::Approved), 10, 0).await.expect("list");
    assert_eq!((none.items.len(), none.total), (0, 0));

    match store.create_request(&fixture("92_bad_unsafe_sql.json"), "mallory").await {
        Err(StoreError::Rejected(answer)) => assert!(!answer.success),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(count(&setup.registry_url, "SELECT count(*) FROM registry.schema_requests").await, 2);
    assert_eq!(
        count(&setup.registry_url, "SELECT count(*) FROM registry.audit_log").await,
        2,
        "refused: no audit, no rows"
    );

    assert!(matches!(store.get_request("not-a-uuid").await, Err(StoreError::Invalid(_))));
    assert!(matches!(
        store.get_request("00000000-0000-0000-0000-000000000000").await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_racing_approvals_have_one_winner_and_one_audit_entry() {
    let server = support::server();
    let setup = setup(&server).await;
    let id = setup.store.create_request(&fixture("01_caricatures.json"), "alice").await.expect("created").request.id;
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for reviewer in 0..20 {
        let (store, id, barrier) = (setup.store.clone(), id.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.change_status(&id, RequestStatus::Approved, &format!("reviewer-{reviewer}"), Some(1), None).await
        }));
    }
    let mut wins = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(request) => {
                assert_eq!(request.status, RequestStatus::Approved);
                wins += 1;
            }
            Err(StoreError::Conflict(_)) => conflicts += 1,
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!((wins, conflicts), (1, 19));
    let audit = setup.store.request_audit(&id).await.expect("audit");
    assert_eq!(audit.iter().filter(|e| e.to_status.as_deref() == Some("approved")).count(), 1);

    let own =
        setup.store.create_request(&fixture("02_generated_images.json"), "carol").await.expect("created").request.id;
    assert!(matches!(
        setup.store.change_status(&own, RequestStatus::Approved, "carol", None, None).await,
        Err(StoreError::NotAllowed(_))
    ));
    assert!(matches!(
        setup.store.change_status(&own, RequestStatus::Migrated, "dave", None, None).await,
        Err(StoreError::InvalidTransition { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_audit_log_is_append_only_in_the_database() {
    let server = support::server();
    let setup = setup(&server).await;
    setup.store.create_request(&fixture("01_caricatures.json"), "alice").await.expect("created");
    let client = connect(&setup.registry_url).await;
    for sql in [
        "UPDATE registry.audit_log SET performed_by = 'someone else'",
        "DELETE FROM registry.audit_log",
        "TRUNCATE registry.audit_log",
    ] {
        let error = client.batch_execute(sql).await.expect_err(sql);
        assert!(error.as_db_error().is_some_and(|e| e.message().contains("append-only")), "{sql}: {error}");
    }
    assert_eq!(count(&setup.registry_url, "SELECT count(*) FROM registry.audit_log").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_racing_applies_run_the_sql_once() {
    let server = support::server();
    let setup = setup(&server).await;
    let id = approved(&setup, "01_caricatures.json").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for operator in 0..10 {
        let (store, id, barrier) = (setup.store.clone(), id.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.apply(&id, TARGET, &format!("operator-{operator}")).await
        }));
    }
    let (mut ran, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(outcome) => {
                assert_eq!(outcome.status, RequestStatus::Migrated);
                ran += usize::from(outcome.ran_sql);
            }
            // The one running holds the request's lease: the others are told at once.
            Err(StoreError::InProgress(_) | StoreError::Busy(_)) => refused += 1,
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(ran, 1, "the up SQL ran exactly once ({refused} were told to retry)");
    assert_eq!(count(&setup.target_url, "SELECT count(*) FROM schema_registry.applied_migrations").await, 1);
    assert_eq!(count(&setup.target_url, "SELECT count(*) FROM caricatures").await, 0, "the table exists");
    assert_eq!(setup.store.get_request(&id).await.expect("get").status, RequestStatus::Migrated);
    let audit = setup.store.request_audit(&id).await.expect("audit");
    assert_eq!(audit.iter().filter(|e| e.action == "apply").count(), 1);
    let again = setup.store.apply(&id, TARGET, "operator-x").await.expect("idempotent");
    assert!(!again.ran_sql);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_after_the_target_commit_is_completed_without_running_sql() {
    let server = support::server();
    let setup = setup(&server).await;
    let id = approved(&setup, "01_caricatures.json").await;
    let checksum: String = connect(&setup.registry_url)
        .await
        .query_one("SELECT checksum FROM registry.migrations WHERE request_id = $1::text::uuid", &[&id])
        .await
        .expect("checksum")
        .get(0);
    // The target committed the migration's history row, then the process died before the
    // registry was updated. (Only the history row is written here, not the table: if the
    // next apply ran the SQL, the table would appear.)
    connect(&setup.target_url)
        .await
        .batch_execute(&format!(
            "CREATE SCHEMA schema_registry;
             CREATE TABLE schema_registry.applied_migrations (request_id uuid PRIMARY KEY, file_name text NOT NULL,
                 checksum text NOT NULL, applied_by text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO schema_registry.applied_migrations VALUES ('{id}', 'f', '{checksum}', 'crashed-operator');"
        ))
        .await
        .expect("history row");
    let outcome = setup.store.apply(&id, TARGET, "operator").await.expect("apply completes");
    assert!(!outcome.ran_sql);
    assert_eq!(outcome.status, RequestStatus::Migrated);
    assert_eq!(count(&setup.target_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'caricatures'").await, 0);
    let audit = setup.store.request_audit(&id).await.expect("audit");
    let apply = audit.iter().find(|e| e.action == "apply").expect("apply audited");
    assert!(apply.success && apply.sql_executed.is_none(), "{apply:?}");
    assert!(apply.justification.as_deref().is_some_and(|n| n.contains("interrupted")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_migration_leaves_the_target_unchanged_and_the_error_in_the_audit() {
    let server = support::server();
    let setup = setup(&server).await;
    let id = approved(&setup, "01_caricatures.json").await;
    let target = connect(&setup.target_url).await;
    target.batch_execute("CREATE TABLE caricatures (legacy_id integer)").await.expect("existing table");
    let before =
        count(&setup.target_url, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").await;
    match setup.store.apply(&id, TARGET, "operator").await {
        Err(StoreError::MigrationFailed { message, .. }) => assert!(message.contains("already exists"), "{message}"),
        other => panic!("expected MigrationFailed, got {other:?}"),
    }
    let after =
        count(&setup.target_url, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").await;
    assert_eq!(before, after, "no index or table was created");
    // The history schema and table were created in the same target transaction before the
    // refusal; they are gone with it.
    assert_eq!(
        count(&setup.target_url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'schema_registry'").await,
        0
    );
    assert_eq!(setup.store.get_request(&id).await.expect("get").status, RequestStatus::Approved);
    let audit = setup.store.request_audit(&id).await.expect("audit");
    let failure = audit.iter().find(|e| e.action == "apply").expect("failure audited");
    assert!(!failure.success && failure.error.as_deref().is_some_and(|e| e.contains("already exists")), "{failure:?}");

    // Once the obstacle is gone, a retry finishes the job.
    target.batch_execute("DROP TABLE caricatures").await.expect("drop");
    let outcome = setup.store.apply(&id, TARGET, "operator").await.expect("retry succeeds");
    assert!(outcome.ran_sql);
    assert_eq!(count(&setup.target_url, "SELECT count(*) FROM caricatures").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollback_runs_the_down_migration_and_reopens_the_request() {
    let server = support::server();
    let setup = setup(&server).await;
    let id = approved(&setup, "02_generated_images.json").await;
    setup.store.apply(&id, TARGET, "operator").await.expect("apply");
    let outcome = setup.store.rollback(&id, TARGET, "operator").await.expect("rollback");
    assert!(outcome.ran_sql);
    assert_eq!(outcome.status, RequestStatus::Approved);
    assert_eq!(
        count(&setup.target_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'generated_images'").await,
        0
    );
    let tables = setup.store.tables(Some(TARGET)).await.expect("tables");
    assert_eq!(tables[0].current_version, None);
    let audit = setup.store.request_audit(&id).await.expect("audit");
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["create", "status", "apply", "rollback"]);
    assert_eq!(
        audit.iter().map(|e| e.performed_by.as_str()).collect::<Vec<_>>(),
        ["alice", "bob", "operator", "operator"]
    );
    // Applied again, it is version 2 of the table.
    setup.store.apply(&id, TARGET, "operator").await.expect("apply again");
    let detail = setup.store.table(TARGET, "public", "generated_images").await.expect("table");
    assert_eq!(detail.table.current_version, Some(2));
    assert_eq!(detail.versions.len(), 2);
    assert!(matches!(setup.store.rollback(&id, "nowhere", "operator").await, Err(StoreError::NotFound { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_recovers_after_the_database_restarts() {
    let mut server = support::server();
    let setup = setup(&server).await;
    let id = setup.store.create_request(&fixture("01_caricatures.json"), "alice").await.expect("created").request.id;
    let cluster =
        server.local_cluster_mut().expect("this test restarts its own cluster; unset REGISTRY_TEST_DATABASE_URL");
    tokio::task::block_in_place(|| cluster.restart()).expect("restart");
    let read = setup.store.get_request(&id).await.expect("the first call after the restart succeeds");
    assert_eq!(read.id, id);
    setup.store.create_request(&fixture("02_generated_images.json"), "alice").await.expect("and writes work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_catalog_lists_applied_fixtures_with_columns_and_indexes() {
    let server = support::server();
    let setup = setup(&server).await;
    connect(&setup.target_url).await.batch_execute("CREATE SCHEMA billing").await.expect("schema");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| std::path::Path::new(n).extension().is_some_and(|e| e == "json"))
        .filter(|n| support::is_clean_fixture(&dir.join(n)))
        .collect();
    names.sort();
    let mut applied = Vec::new();
    for name in &names {
        let request = fixture(name);
        let id = approved(&setup, name).await;
        setup.store.apply(&id, TARGET, "operator").await.unwrap_or_else(|e| panic!("{name}: {e}"));
        applied.push(request);
    }
    let databases = setup.store.databases().await.expect("databases");
    assert_eq!(databases.len(), 1);
    assert_eq!(databases[0].tables, i64::try_from(applied.len()).expect("small"));
    let tables = setup.store.tables(Some(TARGET)).await.expect("tables");
    assert_eq!(tables.len(), applied.len());
    for request in &applied {
        let table = &request.schema_json;
        let detail = setup.store.table(TARGET, table.schema_name(), &table.table_name).await.expect("table detail");
        let current = detail.versions.last().expect("a version");
        assert_eq!(
            current.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            table.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()
        );
        assert_eq!(current.indexes.len(), table.indexes.len(), "{}", table.table_name);
        assert!(current.constraints.iter().any(|c| c.kind == "primary key"), "{}", table.table_name);
    }
    let audit = setup.store.table_audit("public", "caricatures").await.expect("table audit");
    assert_eq!(audit.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_unavailable_not_a_panic() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut config = support::config(format!("postgresql://postgres@127.0.0.1:{port}/registry"));
    config.connect_timeout = std::time::Duration::from_millis(500);
    match Store::open(config).await {
        Err(error) => assert!(error.is_unavailable(), "{error:?}"),
        Ok(_) => panic!("nothing listens on port {port}"),
    }
    match Store::open(support::config("not a url")).await {
        Err(StoreError::Invalid(message)) => assert!(message.contains("database URL"), "{message}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_timeout_comes_from_the_configuration() {
    let server = support::server();
    let registry = server.create_unique_database("registry").expect("database");
    let mut config = support::config(server.url(&registry)).allowing_privileged_runtime();
    config.statement_timeout = std::time::Duration::from_millis(1234);
    config.pool_size = 2;
    let store = Store::open(config).await.expect("open");
    assert_eq!(store.setting("statement_timeout").await.expect("show"), "1234ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_stored_hashed_authenticate_and_can_be_revoked() {
    use registry_store::tokens::Role;
    let server = support::server();
    let setup = setup(&server).await;
    let store = &setup.store;
    assert!(!store.has_tokens().await.expect("has tokens"));
    let admin = store.create_token("admin", Role::Admin).await.expect("admin token");
    assert!(admin.token.starts_with("sr_") && admin.token.len() == 67, "{}", admin.token);
    assert!(store.has_tokens().await.expect("has tokens"));
    let principal = store.authenticate(&admin.token).await.expect("auth").expect("known token");
    assert_eq!((principal.name.as_str(), principal.role), ("admin", Role::Admin));
    assert_eq!(store.authenticate("sr_wrong").await.expect("auth"), None);
    let stored: i64 = connect(&setup.registry_url)
        .await
        .query_one(
            "SELECT count(*) FROM registry.api_tokens WHERE position(convert_to($1, 'UTF8') in token_hash) > 0",
            &[&admin.token],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(stored, 0, "the token itself is not stored");
    assert!(matches!(store.create_token("admin", Role::Reviewer).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.create_token("bad name", Role::Reviewer).await, Err(StoreError::Invalid(_))));
    let reviewer = store.create_token("rita", Role::Reviewer).await.expect("reviewer");
    let names: Vec<String> = store.list_tokens().await.expect("list").into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["admin", "rita"]);
    store.revoke_token("rita").await.expect("revoke");
    assert_eq!(store.authenticate(&reviewer.token).await.expect("auth"), None);
    assert!(matches!(store.revoke_token("rita").await, Err(StoreError::NotFound { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_cannot_be_rejected_while_its_migration_runs() {
    let server = support::server();
    let setup = setup(&server).await;
    let id = approved(&setup, "01_caricatures.json").await;
    // Hold the target's apply lock so the apply waits inside its critical section.
    let blocker = connect(&setup.target_url).await;
    blocker.execute("SELECT pg_advisory_lock($1)", &[&registry_store::apply::APPLY_LOCK]).await.expect("lock");
    let apply = {
        let (store, id) = (setup.store.clone(), id.clone());
        tokio::spawn(async move { store.apply(&id, TARGET, "olaf").await })
    };
    while count(&setup.registry_url, "SELECT count(*) FROM registry.operations").await == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Refused at once, without waiting for the apply (no registry transaction is open).
    let reject = setup.store.change_status(&id, RequestStatus::Rejected, "rita", None, None).await;
    assert!(matches!(reject, Err(StoreError::InProgress(_))), "{reject:?}");
    blocker.execute("SELECT pg_advisory_unlock($1)", &[&registry_store::apply::APPLY_LOCK]).await.expect("unlock");
    let applied = apply.await.expect("task").expect("apply succeeds");
    assert_eq!(applied.status, RequestStatus::Migrated);
    assert_eq!(setup.store.get_request(&id).await.expect("get").status, RequestStatus::Migrated);
}
