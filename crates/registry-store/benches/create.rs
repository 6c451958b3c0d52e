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

async fn store_rate(store: &Store, request: &SchemaRequest, tasks: usize) -> f64 {
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let start = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (store, request, done) = (store.clone(), request.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let performer = format!("bench-{task}");
            while Instant::now() < deadline && done.load(Ordering::Relaxed) < MAX_REQUESTS {
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
    let store = runtime.block_on(Store::open(config)).expect("store opens");

    let request_json = serde_json::to_string(&request).expect("json");
    let script = std::env::temp_dir().join(format!("schema-registry-bench-{}.sql", std::process::id()));
    std::fs::write(&script, registry_store::reference::pgbench_script(&request_json)).expect("script");

    println!("requests created per second, store vs pgbench (two INSERTs in one transaction), {SECONDS} s each:");
    for tasks in [1, 16] {
        let store_per_second = runtime.block_on(store_rate(&store, &request, tasks));
        let pgbench = registry_store::reference::pgbench_tps(&host, port, &database, tasks, SECONDS, &script)
            .unwrap_or_else(|e| panic!("{e}"));
        println!(
            "  {tasks:>2} concurrent: store {store_per_second:>8.0}/s   pgbench {pgbench:>8.0}/s   ratio {:.2}",
            store_per_second / pgbench
        );
    }
    let _ = std::fs::remove_file(&script);
}
