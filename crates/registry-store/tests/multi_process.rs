//! Three processes apply the same approved request at the same moment: the up SQL runs
//! once on the target, there is one history row, and the request ends `migrated` with one
//! apply in its audit. The test binary runs itself as the child processes (no test
//! harness, so the child is not a test of its own).

mod support;

use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use registry_store::store::Store;
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;

const CHILD: &str = "REGISTRY_MULTI_PROCESS_CHILD";
const PROCESSES: usize = 3;

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the parent"))
}

fn child() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let start_at: u128 = env("START_AT_MS").parse().expect("a time");
    std::thread::sleep(Duration::from_millis(u64::try_from(start_at.saturating_sub(now_ms())).unwrap_or(0)));
    let outcome = runtime.block_on(async {
        let store = Store::open(
            support::config(env("REGISTRY_URL"))
                .with_target("default", env("TARGET_URL"))
                .allowing_privileged_runtime(),
        )
        .await?;
        store.apply(&env("REQUEST_ID"), "default", &env("PERFORMER")).await
    });
    match outcome {
        Ok(outcome) => println!("ran_sql={}", outcome.ran_sql),
        Err(error) => {
            eprintln!("child apply failed: {error}");
            std::process::exit(1);
        }
    }
}

fn parent() {
    let server = support::server();
    let runtime = support::runtime();
    let registry_url = server.url(&server.create_unique_database("registry").expect("database"));
    let target_url = server.url(&server.create_unique_database("target").expect("database"));
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests/01_caricatures.json");
    let request = SchemaRequest::from_json(&std::fs::read_to_string(fixture).expect("fixture")).expect("parses");
    let store = runtime
        .block_on(Store::open(
            support::config(&registry_url).with_target("default", &target_url).allowing_privileged_runtime(),
        ))
        .expect("open");
    let id = runtime.block_on(async {
        let id = store.create_request(&request, "alice").await.expect("created").request.id;
        store.change_status(&id, RequestStatus::Approved, "bob", None, None).await.expect("approved");
        id
    });

    let start_at = now_ms() + 1500;
    let children: Vec<_> = (0..PROCESSES)
        .map(|n| {
            Command::new(std::env::current_exe().expect("own path"))
                .env(CHILD, "1")
                .env("START_AT_MS", start_at.to_string())
                .env("REGISTRY_URL", &registry_url)
                .env("TARGET_URL", &target_url)
                .env("REQUEST_ID", &id)
                .env("PERFORMER", format!("process-{n}"))
                .output()
        })
        .collect();
    let mut ran = 0;
    for output in children {
        let output = output.expect("child runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "child failed: {}{}", stdout, String::from_utf8_lossy(&output.stderr));
        ran += usize::from(stdout.contains("ran_sql=true"));
    }
    assert_eq!(ran, 1, "exactly one process ran the up SQL");
    runtime.block_on(async {
        assert_eq!(store.get_request(&id).await.expect("get").status, RequestStatus::Migrated);
        let audit = store.request_audit(&id).await.expect("audit");
        assert_eq!(audit.iter().filter(|e| e.action == "apply" && e.success).count(), 1, "{audit:#?}");
        let (client, connection) = tokio_postgres::connect(&target_url, tokio_postgres::NoTls).await.expect("target");
        tokio::spawn(connection);
        let rows: i64 = client
            .query_one("SELECT count(*) FROM schema_registry.applied_migrations", &[])
            .await
            .expect("history")
            .get(0);
        assert_eq!(rows, 1);
    });
}

fn main() -> ExitCode {
    if std::env::var_os(CHILD).is_some() {
        child();
        return ExitCode::SUCCESS;
    }
    // Without a harness, a panic ends the process with a failure, which cargo reports.
    println!("running 1 test");
    parent();
    println!(
        "test three_processes_apply_the_same_request_once ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored"
    );
    ExitCode::SUCCESS
}
