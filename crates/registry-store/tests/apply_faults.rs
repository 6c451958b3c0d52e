//! Apply and rollback under injected faults, against a real PostgreSQL: a registry that fails
//! after the target committed, a lock held elsewhere, a failure that cannot be audited, an
//! interrupted rollback settled after its table was made again, a stop at every step
//! boundary, two requests racing on one target, and registry lock timeouts.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pg_cluster::test_support::TestServer;
use registry_store::apply::reconcile::Scope;
use registry_store::apply::{APPLY_LOCK, ApplyLimits, FaultHook};
use registry_store::error::StoreError;
use registry_store::store::{Store, StoreConfig};
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;
use tokio_postgres::NoTls;

const TARGET: &str = "default";

/// Seed 001's request under table (and index) names of its own.
fn request_named(table: &str) -> SchemaRequest {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests/01_caricatures.json");
    let mut request = SchemaRequest::from_json(&std::fs::read_to_string(path).expect("fixture")).expect("parses");
    table.clone_into(&mut request.table_name);
    table.clone_into(&mut request.schema_json.table_name);
    for (i, index) in request.schema_json.indexes.iter_mut().enumerate() {
        index.name = Some(format!("idx_{table}_{i}"));
    }
    request
}

/// The point where the store stops as if its process died, changeable during a test.
#[derive(Clone, Default)]
struct Crash(Arc<Mutex<Option<String>>>);

impl Crash {
    fn at(&self, point: &str) {
        *self.0.lock().expect("crash point") = Some(point.to_owned());
    }

    fn off(&self) {
        *self.0.lock().expect("crash point") = None;
    }

    fn hook(&self) -> FaultHook {
        let point = self.0.clone();
        FaultHook(Arc::new(move |at: &str| point.lock().expect("crash point").as_deref() == Some(at)))
    }
}

struct Setup {
    store: Store,
    config: StoreConfig,
    registry_url: String,
    target_url: String,
    crash: Crash,
}

async fn setup_with(server: &TestServer, adjust: impl FnOnce(&mut StoreConfig)) -> Setup {
    let registry = server.create_unique_database("registry").expect("registry database");
    let target = server.create_unique_database("target").expect("target database");
    let (registry_url, target_url) = (server.url(&registry), server.url(&target));
    let crash = Crash::default();
    let mut config = support::config(&registry_url).with_target(TARGET, &target_url).allowing_privileged_runtime();
    config.faults = Some(crash.hook());
    adjust(&mut config);
    let store = Store::open(config.clone()).await.expect("store opens");
    Setup { store, config, registry_url, target_url, crash }
}

async fn setup(server: &TestServer) -> Setup {
    setup_with(server, |_| {}).await
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

async fn one<T: for<'a> tokio_postgres::types::FromSql<'a>>(url: &str, sql: &str) -> T {
    connect(url).await.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

async fn approved(store: &Store, request: &SchemaRequest) -> String {
    let created = store.create_request(request, "alice").await.expect("created");
    store.change_status(&created.request.id, RequestStatus::Approved, "bob", None, None).await.expect("approved");
    created.request.id
}

/// The request's audit entries for `action`: (success, sql ran, note, error).
async fn audit_of(store: &Store, id: &str, action: &str) -> Vec<(bool, bool, Option<String>, Option<String>)> {
    store
        .request_audit(id)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| (e.success, e.sql_executed.is_some(), e.justification, e.error))
        .collect()
}

async fn leases(url: &str) -> i64 {
    one(url, "SELECT count(*) FROM registry.operations").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_registry_failure_after_the_target_commit_is_settled_never_abandoned() {
    let server = support::server();
    let setup = setup(&server).await;
    let id = approved(&setup.store, &request_named("ledgers")).await;
    let registry = connect(&setup.registry_url).await;
    registry
        .batch_execute(
            "CREATE FUNCTION registry.fail_once() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'injected: the registry refuses the record'; END $$;
             CREATE TRIGGER fail_record BEFORE INSERT ON registry.migration_applications
                 FOR EACH ROW EXECUTE FUNCTION registry.fail_once();",
        )
        .await
        .expect("trigger");

    let error = setup.store.apply(&id, TARGET, "olaf").await.expect_err("the record fails");
    assert!(matches!(error, StoreError::Unsettled { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(error.to_string().contains("the target committed"), "{error}");
    assert_eq!(one::<i64>(&setup.target_url, "SELECT count(*) FROM schema_registry.applied_migrations").await, 1);
    assert_eq!(one::<i64>(&setup.target_url, "SELECT count(*) FROM public.ledgers").await, 0, "the table is there");

    // A reject now would abandon SQL that ran: refused, and the request stays as it was.
    let refused = setup.store.change_status(&id, RequestStatus::Rejected, "rita", None, None).await;
    assert!(matches!(refused, Err(StoreError::InProgress(_))), "{refused:?}");
    assert_eq!(setup.store.get_request(&id).await.expect("get").status, RequestStatus::Approved);

    registry.batch_execute("DROP TRIGGER fail_record ON registry.migration_applications").await.expect("drop");
    let outcome = setup.store.apply(&id, TARGET, "olaf").await.expect("the retry completes it");
    assert!(!outcome.ran_sql, "the SQL ran once, in the first call");
    assert_eq!(outcome.status, RequestStatus::Migrated);
    let applies = audit_of(&setup.store, &id, "apply").await;
    assert_eq!(applies.len(), 1, "{applies:?}");
    let (success, executed, note, _) = &applies[0];
    assert!(*success && *executed, "the audit says what ran: {applies:?}");
    let note = note.as_deref().unwrap_or_default();
    assert!(note.contains("settled by reconciliation") && note.contains("injected"), "with the original error: {note}");
    assert_eq!(one::<i64>(&setup.target_url, "SELECT count(*) FROM schema_registry.applied_migrations").await, 1);
    assert_eq!(leases(&setup.registry_url).await, 0);
    let rejected = setup.store.change_status(&id, RequestStatus::Rejected, "rita", None, None).await;
    assert!(matches!(rejected, Err(StoreError::InvalidTransition { .. })), "{rejected:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_apply_lock_held_elsewhere_fails_fast_with_a_retryable_error() {
    let server = support::server();
    let setup = setup_with(&server, |config| config.apply.lock_wait = Duration::from_millis(500)).await;
    let id = approved(&setup.store, &request_named("lockers")).await;
    let holder = connect(&setup.target_url).await;
    holder.execute("SELECT pg_advisory_lock($1)", &[&APPLY_LOCK]).await.expect("lock");
    let error = setup.store.apply(&id, TARGET, "olaf").await.expect_err("the lock is held");
    assert!(matches!(error, StoreError::Busy(_)) && error.is_retryable(), "{error:?}");
    assert!(error.to_string().contains("apply lock"), "{error}");
    assert_eq!(leases(&setup.registry_url).await, 0, "the lease is released");
    let failures = audit_of(&setup.store, &id, "apply").await;
    assert_eq!(failures.len(), 1);
    assert!(!failures[0].0 && failures[0].3.as_deref().is_some_and(|e| e.contains("apply lock")), "{failures:?}");
    holder.execute("SELECT pg_advisory_unlock($1)", &[&APPLY_LOCK]).await.expect("unlock");
    let outcome = setup.store.apply(&id, TARGET, "olaf").await.expect("the retry works");
    assert!(outcome.ran_sql);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_that_cannot_be_audited_keeps_the_target_error() {
    let server = support::server();
    let setup = setup(&server).await;
    let id = approved(&setup.store, &request_named("clashes")).await;
    // A name in the way on the target: the apply fails there.
    connect(&setup.target_url).await.batch_execute("CREATE TABLE public.clashes (x int)").await.expect("table");
    let registry = connect(&setup.registry_url).await;
    registry
        .batch_execute(
            "CREATE FUNCTION registry.no_failures() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'injected: the audit refuses failures'; END $$;
             CREATE TRIGGER no_failures BEFORE INSERT ON registry.audit_log
                 FOR EACH ROW WHEN (NOT NEW.success) EXECUTE FUNCTION registry.no_failures();",
        )
        .await
        .expect("trigger");
    let error = setup.store.apply(&id, TARGET, "olaf").await.expect_err("the apply fails");
    assert!(
        matches!(&error, StoreError::MigrationFailed { message, .. } if message.contains("already exists")),
        "{error:?}"
    );
    registry.batch_execute("DROP TRIGGER no_failures ON registry.audit_log").await.expect("drop");
    // The failure is audited when its lease is settled, with both errors.
    let settled = setup.store.reconcile_abandoned(Scope::Abandoned).await.expect("reconcile");
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert!(!settled[0].as_ref().expect("settled").ran_on_target);
    let failures = audit_of(&setup.store, &id, "apply").await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    let error = failures[0].3.as_deref().unwrap_or_default();
    assert!(error.contains("already exists") && error.contains("injected"), "{error}");
    assert_eq!(setup.store.get_request(&id).await.expect("get").status, RequestStatus::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_rollback_settled_after_the_table_was_made_again_keeps_the_new_version() {
    let server = support::server();
    let setup = setup(&server).await;
    // Two requests for one table, both approved before either is applied.
    let first = approved(&setup.store, &request_named("reports")).await;
    let second = approved(&setup.store, &request_named("reports")).await;
    setup.store.apply(&first, TARGET, "olaf").await.expect("first applied");
    setup.crash.at("rollback:target-committed");
    let stopped = setup.store.rollback(&first, TARGET, "olaf").await;
    assert!(stopped.is_err(), "stopped after the target's commit");
    setup.crash.off();
    assert_eq!(one::<i64>(&setup.target_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'reports'").await, 0);
    setup.store.apply(&second, TARGET, "olaf").await.expect("second applied");
    let settled = setup.store.reconcile_abandoned(Scope::All).await.expect("reconcile");
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert!(settled[0].as_ref().expect("settled").ran_on_target);
    assert_eq!(setup.store.get_request(&first).await.expect("get").status, RequestStatus::Approved);
    let table = setup.store.table(TARGET, "public", "reports").await.expect("catalog");
    assert_eq!(table.table.current_version, Some(2), "the live table is the second request's");
    assert_eq!(table.versions.last().and_then(|v| v.request_id.as_deref()), Some(second.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_at_every_step_boundary_is_settled_exactly_once() {
    let server = support::server();
    let setup = setup(&server).await;
    for (n, point) in ["apply:claimed", "apply:target-committed", "apply:recorded"].into_iter().enumerate() {
        let table = format!("steps_{n}");
        let id = approved(&setup.store, &request_named(&table)).await;
        setup.crash.at(point);
        assert!(setup.store.apply(&id, TARGET, "olaf").await.is_err(), "{point}: stopped");
        setup.crash.off();
        // A new process (same registry, new lease holder) finds the lease and settles it.
        let restarted = Store::open(setup.config.clone()).await.expect("reopen");
        restarted.reconcile_abandoned(Scope::All).await.expect("reconcile");
        assert_eq!(leases(&setup.registry_url).await, 0, "{point}");
        let outcome = restarted.apply(&id, TARGET, "olaf").await.expect("the retry finishes");
        assert_eq!(outcome.status, RequestStatus::Migrated, "{point}");
        assert_eq!(outcome.ran_sql, point == "apply:claimed", "{point}: the SQL runs exactly once");
        let history: i64 = one(
            &setup.target_url,
            &format!("SELECT count(*) FROM schema_registry.applied_migrations WHERE request_id = '{id}'"),
        )
        .await;
        assert_eq!(history, 1, "{point}");
        let applies = audit_of(&restarted, &id, "apply").await;
        let ran: Vec<_> = applies.iter().filter(|(success, executed, _, _)| *success && *executed).collect();
        assert_eq!(ran.len(), 1, "{point}: one audit entry says the SQL ran: {applies:?}");

        setup.crash.at(&point.replace("apply", "rollback"));
        assert!(setup.store.rollback(&id, TARGET, "olaf").await.is_err(), "{point}: rollback stopped");
        setup.crash.off();
        let restarted = Store::open(setup.config.clone()).await.expect("reopen");
        restarted.reconcile_abandoned(Scope::All).await.expect("reconcile");
        let status = restarted.get_request(&id).await.expect("get").status;
        if status == RequestStatus::Migrated {
            let outcome = restarted.rollback(&id, TARGET, "olaf").await.expect("the retry finishes");
            assert_eq!(outcome.status, RequestStatus::Approved);
        }
        assert_eq!(restarted.get_request(&id).await.expect("get").status, RequestStatus::Approved, "{point}");
        assert_eq!(
            one::<i64>(&setup.target_url, &format!("SELECT count(*) FROM pg_tables WHERE tablename = '{table}'")).await,
            0,
            "{point}: the table is gone"
        );
        let rollbacks = audit_of(&restarted, &id, "rollback").await;
        let ran: Vec<_> = rollbacks.iter().filter(|(success, executed, _, _)| *success && *executed).collect();
        assert_eq!(ran.len(), 1, "{point}: one audit entry says the down SQL ran: {rollbacks:?}");
        assert_eq!(leases(&setup.registry_url).await, 0, "{point}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_requests_racing_on_one_target_both_apply_once() {
    let server = support::server();
    let setup = setup(&server).await;
    let first = approved(&setup.store, &request_named("racers_a")).await;
    let second = approved(&setup.store, &request_named("racers_b")).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let tasks: Vec<_> = [first.clone(), second.clone()]
        .into_iter()
        .map(|id| {
            let (store, barrier) = (setup.store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.apply(&id, TARGET, "olaf").await
            })
        })
        .collect();
    for task in tasks {
        let outcome = task.await.expect("task").expect("both apply");
        assert!(outcome.ran_sql);
    }
    assert_eq!(one::<i64>(&setup.target_url, "SELECT count(*) FROM schema_registry.applied_migrations").await, 2);
    for id in [first, second] {
        assert_eq!(setup.store.get_request(&id).await.expect("get").status, RequestStatus::Migrated);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_registry_lock_held_too_long_is_busy_not_internal() {
    let server = support::server();
    let setup = setup_with(&server, |config| config.statement_timeout = Duration::from_secs(1)).await;
    let created = setup.store.create_request(&request_named("waiters"), "alice").await.expect("created");
    let id = created.request.id;
    let mut holder = connect(&setup.registry_url).await;
    let transaction = holder.transaction().await.expect("begin");
    transaction
        .execute("SELECT 1 FROM registry.schema_requests WHERE id = $1::text::uuid FOR UPDATE", &[&id])
        .await
        .expect("row lock");
    let error = setup.store.change_status(&id, RequestStatus::Approved, "bob", None, None).await.expect_err("waits");
    assert!(matches!(error, StoreError::Busy(_)) && error.is_retryable(), "{error:?}");
    transaction.rollback().await.expect("release");
    setup.store.change_status(&id, RequestStatus::Approved, "bob", None, None).await.expect("then it works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn applies_beyond_the_limits_are_refused_at_once_and_shutdown_waits_for_running_ones() {
    let server = support::server();
    let setup = setup_with(&server, |config| {
        config.apply = ApplyLimits {
            max_concurrent: 2,
            max_per_target: 1,
            lock_wait: Duration::from_secs(30),
            ..ApplyLimits::default()
        };
    })
    .await;
    let first = approved(&setup.store, &request_named("queued_a")).await;
    let second = approved(&setup.store, &request_named("queued_b")).await;
    let holder = connect(&setup.target_url).await;
    holder.execute("SELECT pg_advisory_lock($1)", &[&APPLY_LOCK]).await.expect("lock");
    let running = {
        let (store, id) = (setup.store.clone(), first.clone());
        tokio::spawn(async move { store.apply(&id, TARGET, "olaf").await })
    };
    while leases(&setup.registry_url).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = setup.store.apply(&second, TARGET, "olaf").await;
    assert!(matches!(refused, Err(StoreError::Busy(ref m)) if m.contains("target")), "{refused:?}");
    let again = setup.store.apply(&first, TARGET, "olaf").await;
    assert!(matches!(again, Err(StoreError::Busy(_) | StoreError::InProgress(_))), "{again:?}");
    let reject = setup.store.change_status(&first, RequestStatus::Rejected, "rita", None, None).await;
    assert!(matches!(reject, Err(StoreError::InProgress(_))), "a reject mid-apply is refused at once: {reject:?}");
    // Shutdown waits for the running apply, which finishes once the lock is free.
    let drain = {
        let store = setup.store.clone();
        tokio::spawn(async move { store.drain(Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!drain.is_finished(), "the drain waits");
    holder.execute("SELECT pg_advisory_unlock($1)", &[&APPLY_LOCK]).await.expect("unlock");
    assert!(running.await.expect("task").expect("applied").ran_sql);
    assert!(drain.await.expect("task"), "nothing left running");
    let after = setup.store.apply(&second, TARGET, "olaf").await;
    assert!(matches!(after, Err(StoreError::Unavailable(_))), "no new applies after the drain: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lapsed_lease_settled_by_another_stops_its_holder_before_it_runs_anything() {
    let server = support::server();
    // The holder stops right after its claim until the test lets it go on, as a process
    // stalled long enough for its lease to lapse would.
    let (resume, paused) = std::sync::mpsc::channel::<()>();
    let paused = Arc::new(Mutex::new(paused));
    let setup = setup_with(&server, |config| {
        let paused = paused.clone();
        config.faults = Some(FaultHook(Arc::new(move |at: &str| {
            if at == "apply:claimed" {
                let _ = paused.lock().expect("pause").recv_timeout(Duration::from_secs(30));
            }
            false
        })));
    })
    .await;
    let id = approved(&setup.store, &request_named("stalls")).await;
    // On a thread and runtime of its own: the pause blocks only the holder, as a stalled
    // process would be blocked, and not a worker of this test's runtime.
    let holder = {
        let (store, id) = (setup.store.clone(), id.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(store.apply(&id, TARGET, "olaf"))
        })
    };
    while leases(&setup.registry_url).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Its lease lapses; another process settles it: nothing ran there, so the failure is
    // recorded and the lease goes.
    connect(&setup.registry_url)
        .await
        .execute("UPDATE registry.operations SET deadline = now() - interval '1 second'", &[])
        .await
        .expect("lapse");
    let mut other = setup.config.clone();
    other.faults = None;
    let other = Store::open(other).await.expect("another process");
    let settled = other.reconcile_abandoned(Scope::Abandoned).await.expect("reconcile");
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert!(!settled[0].as_ref().expect("settled").ran_on_target);
    // The stalled holder wakes up: it must not run what the registry says did not run.
    resume.send(()).expect("resume");
    let outcome = tokio::task::spawn_blocking(move || holder.join().expect("holder")).await.expect("task");
    assert!(matches!(outcome, Err(StoreError::InProgress(_))), "{outcome:?}");
    assert_eq!(one::<i64>(&setup.target_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'stalls'").await, 0);
    assert_eq!(setup.store.get_request(&id).await.expect("get").status, RequestStatus::Approved);
    // And the request can be applied normally afterwards.
    let outcome = other.apply(&id, TARGET, "olaf").await.expect("applies");
    assert!(outcome.ran_sql);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_catalog_records_the_names_the_stored_sql_used_even_after_the_naming_changed() {
    let server = support::server();
    let setup = setup(&server).await;
    // Generated index names, submitted under the default naming.
    let mut request = request_named("renamings");
    for index in &mut request.schema_json.indexes {
        index.name = None;
    }
    let id = approved(&setup.store, &request).await;
    // The server restarts with a policy that names indexes differently.
    let mut config = setup.config.clone();
    config.policy.naming.index_method_suffix = true;
    let renamed = Store::open(config).await.expect("reopen");
    renamed.apply(&id, TARGET, "olaf").await.expect("applies the approved SQL");
    let recorded = renamed.table(TARGET, "public", "renamings").await.expect("catalog");
    let recorded: Vec<String> =
        recorded.versions.last().expect("a version").indexes.iter().map(|i| i.name.clone()).collect();
    let live: Vec<String> = connect(&setup.target_url)
        .await
        .query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'renamings' AND indexname LIKE 'idx_%' ORDER BY 1",
            &[],
        )
        .await
        .expect("indexes")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut sorted = recorded.clone();
    sorted.sort();
    assert_eq!(sorted, live, "the catalog names what exists");
    assert!(recorded.iter().all(|name| !name.ends_with("_btree")), "{recorded:?}");
}
