//! Requests created per second through the store (validate + preview + insert request,
//! migration and audit in one transaction) at 1 and 16 concurrent tasks, as a ratio to
//! pgbench running a custom script with the two essential INSERTs (the request and its
//! audit entry) in one transaction, against the same cluster in the same run.
//!
//! Run: `cargo bench -p registry-store --bench create`. It starts its own throw-away
//! PostgreSQL (or uses `REGISTRY_TEST_DATABASE_URL`), needs `pgbench` next to the server
//! binaries, and is bounded: each measurement stops after 5 s or 20 000 requests.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use registry_store::cluster::{find_bin_dir, test_server};
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

fn pgbench_tps(url_host: &str, port: &str, database: &str, clients: usize, script: &std::path::Path) -> f64 {
    let bin = find_bin_dir().expect("PostgreSQL binaries");
    let output = Command::new(bin.join("pgbench"))
        .args(["-n", "-h", url_host, "-p", port, "-U", "postgres", "-T", &SECONDS.to_string()])
        .args(["-c", &clients.to_string(), "-j", &clients.min(2).to_string(), "-f"])
        .arg(script)
        .arg(database)
        .output()
        .expect("pgbench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "pgbench failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = ")?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench output: {stdout}"))
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
        _ => "127.0.0.1".to_owned(),
    };
    let port = parsed.get_ports().first().copied().unwrap_or(5432).to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let request = SchemaRequest::from_json(REQUEST).expect("fixture parses");
    let mut config = StoreConfig::new(&url);
    config.pool_size = 16;
    let store = runtime.block_on(Store::open(config)).expect("store opens");

    let request_json = serde_json::to_string(&request).expect("json").replace('\'', "''");
    let script = std::env::temp_dir().join(format!("schema-registry-bench-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "BEGIN;\n\
             INSERT INTO registry.schema_requests (table_schema, table_name, owner, requested_by, request, status, violations) \
             VALUES ('public', 'caricatures', 'omega-bot', 'pgbench', '{request_json}'::jsonb, 'requested', '[]'::jsonb);\n\
             INSERT INTO registry.audit_log (table_schema, table_name, action, performed_by, to_status, justification, related_issue, success) \
             VALUES ('public', 'caricatures', 'create', 'pgbench', 'requested', 'Store user caricature images', '676', true);\n\
             END;\n"
        ),
    )
    .expect("script");

    println!("requests created per second, store vs pgbench (two INSERTs in one transaction), {SECONDS} s each:");
    for tasks in [1, 16] {
        let store_per_second = runtime.block_on(store_rate(&store, &request, tasks));
        let pgbench = pgbench_tps(&host, &port, &database, tasks, &script);
        println!(
            "  {tasks:>2} concurrent: store {store_per_second:>8.0}/s   pgbench {pgbench:>8.0}/s   ratio {:.2}",
            store_per_second / pgbench
        );
    }
    let _ = std::fs::remove_file(&script);
}
