//! Requests created per second through the store (validate + preview + insert request,
//! migration and audit in one transaction) at 1 and 16 concurrent tasks, as a ratio to
//! pgbench running a custom script with the two essential INSERTs (the request and its
//! audit entry) in one transaction, against the same cluster in the same run.
//!
//! Run: `cargo bench -p registry-store --bench create`. It starts its own throw-away
//! PostgreSQL (or uses `REGISTRY_TEST_DATABASE_URL`), needs `pgbench` next to the server
//! binaries, and is bounded: each measurement stops after 5 s or 20 000 requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pg_cluster::test_support::test_server;
use registry_store::store::{Store, StoreConfig};
use schema_model::request::SchemaRequest;

const SECONDS: u64 = 5;
const MAX_REQUESTS: usize = 20_000;
const REQUEST: &str = include_str!("../../../fixtures/requests/01_caricatures.json");

/// Creates requests from `tasks` tasks for [`SECONDS`] or until [`MAX_REQUESTS`]; with
/// `distinct_tables` every request names a table and indexes of its own.
async fn store_rate(store: &Store, request: &SchemaRequest, tasks: usize, distinct_tables: bool) -> f64 {
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let start = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (store, mut request, done) = (store.clone(), request.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let performer = format!("bench-{task}");
            let mut sent = 0_usize;
            while Instant::now() < deadline && done.load(Ordering::Relaxed) < MAX_REQUESTS {
                if distinct_tables {
                    // Every name of its own (the table's, the indexes'): rehearsals creating
                    // the same name wait for each other, as PostgreSQL serializes that.
                    let name = format!("caricatures_{task}_{sent}");
                    request.table_name.clone_from(&name);
                    request.schema_json.table_name.clone_from(&name);
                    for (i, index) in request.schema_json.indexes.iter_mut().enumerate() {
                        index.name = Some(format!("idx_{name}_{i}"));
                    }
                    sent += 1;
                }
                store.create_request(&request, &performer).await.expect("create succeeds");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for handle in handles {
        handle.await.expect("task");
    }
    #[expect(clippy::cast_precision_loss, reason = "a count of at most 20 000")]
    let count = done.load(Ordering::Relaxed) as f64;
    count / start.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let server = test_server().expect("a PostgreSQL server");
    let database = server.create_unique_database("bench").expect("database");
    let url = server.url(&database);
    let parsed: tokio_postgres::Config = url.parse().expect("url");
    let host = match parsed.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "127.0.0.1".to_owned(),
    };
    let port = parsed.get_ports().first().copied().unwrap_or(5432);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let request = SchemaRequest::from_json(REQUEST).expect("fixture parses");
    let mut config = StoreConfig::new(&url)
        .allowing_privileged_runtime()
        .with_audit_key(registry_store::audit::AuditKey::from_bytes([42; 32]));
    config.pool_size = 16;
    let store = runtime.block_on(Store::open(config.clone())).expect("store opens");
    // The same, checked as the server checks: against a target's names and the catalog,
    // and rehearsed in a scratch database.
    let target = server.create_unique_database("bench_target").expect("database");
    let rehearsal = server.create_unique_database("bench_rehearsal").expect("database");
    let checked_database = server.create_unique_database("bench_checked").expect("database");
    let mut checked = config.with_target("default", server.url(&target)).with_rehearsal_url(server.url(&rehearsal));
    checked.url = server.url(&checked_database);
    let checked = runtime.block_on(Store::open(checked)).expect("store opens");

    let request_json = serde_json::to_string(&request).expect("json");
    let script = std::env::temp_dir().join(format!("schema-registry-bench-{}.sql", std::process::id()));
    std::fs::write(&script, registry_store::reference::pgbench_script(&request_json)).expect("script");

    println!(
        "requests created per second, store vs pgbench (request and audit rows in one transaction), {SECONDS} s each:"
    );
    for tasks in [1, 16] {
        let bare = runtime.block_on(store_rate(&store, &request, tasks, false));
        let full = runtime.block_on(store_rate(&checked, &request, tasks, true));
        let pgbench = registry_store::reference::pgbench_tps(&host, port, &database, tasks, SECONDS, &script)
            .unwrap_or_else(|e| panic!("{e}"));
        println!(
            "  {tasks:>2} concurrent: store {bare:>6.0}/s (ratio {:.2})   with target and rehearsal {full:>6.0}/s (ratio {:.2})   pgbench {pgbench:>6.0}/s",
            bare / pgbench,
            full / pgbench
        );
    }
    let _ = std::fs::remove_file(&script);
}
