//! Writer stall: how long the longest single write of an application waits while a change
//! runs, for each kind of change as the registry generates it (lock-safe steps, run as the
//! apply runner runs them) and as the naive single statement, in the same run on the same
//! cluster. The table has 200 000 rows; a writer on its own connection inserts a row and
//! updates a random one, over and over, for the whole change and a moment either side.
//!
//! Run: `cargo bench -p registry-store --bench writer_stall`. It starts its own throw-away
//! PostgreSQL (or uses `REGISTRY_TEST_DATABASE_URL`) and is bounded: each change has 120 s
//! (statement timeout), each writer stops with its change or after 150 s and 2 000 000
//! writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pg_cluster::test_support::{TestServer, test_server};
use policy::config::Policy;
use registry_core::change::{Current, check_change};
use schema_model::change::{Step, TransactionMode};
use schema_model::environment::GenerationInputs;
use schema_model::naming::NamingOptions;
use schema_model::request::SchemaRequest;
use tokio_postgres::{Client, NoTls};

const ROWS: u32 = 200_000;
const WRITER_LIMIT: Duration = Duration::from_secs(150);
const MAX_WRITES: u64 = 2_000_000;
/// The writer runs this long before the change starts and after it ends.
const MARGIN: Duration = Duration::from_millis(300);

const BASE_COLUMNS: &str = r#"
    {"name": "id", "type": "bigint", "primaryKey": true, "identity": "always"},
    {"name": "email", "type": "text", "nullable": false},
    {"name": "name", "type": "text", "nullable": true},
    {"name": "score", "type": "integer", "nullable": true},
    {"name": "team_id", "type": "bigint", "nullable": true},
    {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"}"#;

fn accounts(columns: &str, rest: &str) -> SchemaRequest {
    let json = format!(
        r#"{{"tableName": "accounts", "owner": "bench", "schemaJson": {{"tableName": "accounts",
            "columns": [{columns}]{rest}}},
            "requestMetadata": {{"requestedBy": "bench", "justification": "writer stall", "relatedIssue": "9"}}}}"#
    );
    SchemaRequest::from_json(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// Each kind of change: its name, the table after it, and the naive single statement.
fn changes() -> Vec<(&'static str, SchemaRequest, &'static str)> {
    let with = |extra: &str| accounts(&format!("{BASE_COLUMNS}, {extra}"), "");
    vec![
        (
            "add nullable column",
            with(r#"{"name": "nickname", "type": "text", "nullable": true}"#),
            "ALTER TABLE accounts ADD COLUMN nickname text",
        ),
        (
            "add column with constant default",
            with(r#"{"name": "active", "type": "boolean", "nullable": false, "defaultValue": "true"}"#),
            "ALTER TABLE accounts ADD COLUMN active boolean NOT NULL DEFAULT true",
        ),
        (
            "add index",
            accounts(BASE_COLUMNS, r#", "indexes": [{"name": "idx_accounts_score", "columns": ["score"]}]"#),
            "CREATE INDEX idx_accounts_score ON accounts (score)",
        ),
        (
            "add foreign key",
            accounts(
                &BASE_COLUMNS.replace(
                    r#"{"name": "team_id", "type": "bigint", "nullable": true}"#,
                    r#"{"name": "team_id", "type": "bigint", "nullable": true, "references": {"table": "teams", "column": "id"}}"#,
                ),
                "",
            ),
            "ALTER TABLE accounts ADD CONSTRAINT fk_accounts_team_id FOREIGN KEY (team_id) REFERENCES teams (id)",
        ),
        (
            "add check",
            accounts(BASE_COLUMNS, r#", "checks": [{"name": "ck_accounts_score", "expression": "score >= 0"}]"#),
            "ALTER TABLE accounts ADD CONSTRAINT ck_accounts_score CHECK (score >= 0)",
        ),
        (
            "set NOT NULL",
            accounts(
                &BASE_COLUMNS.replace(
                    r#"{"name": "name", "type": "text", "nullable": true}"#,
                    r#"{"name": "name", "type": "text", "nullable": false}"#,
                ),
                "",
            ),
            "ALTER TABLE accounts ALTER COLUMN name SET NOT NULL",
        ),
        (
            "add unique",
            accounts(BASE_COLUMNS, r#", "uniques": [{"name": "uq_accounts_email", "columns": ["email"]}]"#),
            "ALTER TABLE accounts ADD CONSTRAINT uq_accounts_email UNIQUE (email)",
        ),
    ]
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// What the writer saw: its longest single write and how many it made.
struct WriterReport {
    longest: Duration,
    writes: u64,
}

/// Inserts a row and updates a random one until `stop`, timing each statement.
async fn writer(url: String, stop: Arc<AtomicBool>, started: Arc<AtomicBool>) -> WriterReport {
    let client = connect(&url).await;
    let insert = client
        .prepare("INSERT INTO accounts (email, name, score, team_id) VALUES ($1, 'writer', 1, 1)")
        .await
        .expect("prepare insert");
    let update = client.prepare("UPDATE accounts SET score = score + 1 WHERE id = $1").await.expect("prepare update");
    let deadline = Instant::now() + WRITER_LIMIT;
    let (mut longest, mut writes) = (Duration::ZERO, 0_u64);
    let mut next_id: u64 = 0x2545_f491_4f6c_dd1d;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline && writes < MAX_WRITES {
        let email = format!("writer-{writes}-{}@example.com", std::process::id());
        let start = Instant::now();
        client.execute(&insert, &[&email]).await.expect("insert");
        longest = longest.max(start.elapsed());
        // xorshift: a row anywhere in the table.
        next_id ^= next_id << 13;
        next_id ^= next_id >> 7;
        next_id ^= next_id << 17;
        let id = i64::try_from(next_id % u64::from(ROWS)).unwrap_or(0) + 1;
        let start = Instant::now();
        client.execute(&update, &[&id]).await.expect("update");
        longest = longest.max(start.elapsed());
        writes += 2;
        started.store(true, Ordering::Relaxed);
    }
    WriterReport { longest, writes }
}

/// Runs the steps as the apply runner does: each transactional one in its own transaction
/// under `lock_timeout`, each one that must run alone outside any transaction.
async fn run_steps(client: &Client, steps: &[Step]) {
    for step in steps {
        match step.mode {
            TransactionMode::Transaction => {
                client
                    .batch_execute(&format!("BEGIN; SET LOCAL lock_timeout = '5s'; {} COMMIT", step.sql))
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", step.description));
            }
            TransactionMode::Alone => {
                // Alone: a statement of its own, not in the implicit transaction of a batch.
                for sql in ["SET lock_timeout = '5s'", step.sql.as_str(), "RESET lock_timeout"] {
                    client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{}: {e:?}", step.description));
                }
            }
        }
    }
}

/// One measurement on a fresh copy of the table: the writer's longest stall and write rate
/// while `change` runs, and how long the change took.
async fn measure(server: &TestServer, template: &str, change: impl AsyncFnOnce(&Client)) -> (Duration, f64, Duration) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let database = format!("stall_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = connect(&server.url("postgres")).await;
    admin
        .batch_execute(&format!("CREATE DATABASE \"{database}\" TEMPLATE \"{template}\""))
        .await
        .expect("copy the table");
    let url = server.url(&database);
    let migrator = connect(&url).await;
    migrator.batch_execute("SET statement_timeout = '120s'").await.expect("timeout");
    let (stop, started) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let handle = tokio::spawn(writer(url, stop.clone(), started.clone()));
    while !started.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let begin = Instant::now();
    tokio::time::sleep(MARGIN).await;
    let change_start = Instant::now();
    change(&migrator).await;
    let change_took = change_start.elapsed();
    tokio::time::sleep(MARGIN).await;
    stop.store(true, Ordering::Relaxed);
    let report = handle.await.expect("writer");
    #[expect(clippy::cast_precision_loss, reason = "a count of at most 2 000 000")]
    let rate = report.writes as f64 / begin.elapsed().as_secs_f64();
    drop(migrator);
    admin.batch_execute(&format!("DROP DATABASE \"{database}\" WITH (FORCE)")).await.expect("drop");
    (report.longest, rate, change_took)
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("writer_stall: benchmark");
        return;
    }
    let server = test_server().unwrap_or_else(|e| panic!("the benchmark needs PostgreSQL: {e}"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let naming = NamingOptions::default();
        let inputs = GenerationInputs::with_naming(&naming);
        let lenient = Policy::from_toml("[compatibility]\ndefault = \"NONE\"\n").expect("policy");
        let base = accounts(BASE_COLUMNS, "");
        let template = server.create_unique_database("stall_template").expect("template");
        let setup = connect(&server.url(&template)).await;
        setup
            .batch_execute(&format!(
                "CREATE TABLE teams (id bigint PRIMARY KEY);
                 INSERT INTO teams SELECT g FROM generate_series(1, 100) g;
                 {}
                 INSERT INTO accounts (email, name, score, team_id)
                      SELECT 'user' || g || '@example.com', 'User ' || g, g % 1000, 1 + g % 100
                        FROM generate_series(1, {ROWS}) g;",
                ddl_gen::generate(&base, &naming).expect("create").up_sql
            ))
            .await
            .expect("the table with its rows");
        for statement in ["VACUUM ANALYZE accounts", "VACUUM ANALYZE teams", "CHECKPOINT"] {
            setup.batch_execute(statement).await.expect(statement);
        }
        drop(setup);

        println!("| change | naive: longest writer stall | generated: longest writer stall | ratio | naive took | generated took (steps) | writes/s naive / generated |");
        println!("|---|---|---|---|---|---|---|");
        // The writer's own noise: its longest write with nothing else running.
        let (quiet, quiet_rate, _) = measure(&server, &template, async |_: &Client| {
            tokio::time::sleep(Duration::from_millis(500)).await;
        })
        .await;
        println!("| no change (the writer alone, 0.5 s) | {} | | | | | {quiet_rate:.0} |", millis(quiet));
        for (kind, after, naive) in changes() {
            let checked =
                check_change(&after, Current { table: &base.schema_json, inputs: &inputs, level: None }, &lenient, None);
            let Some(plan) = checked.steps else { panic!("{kind}: {:#?}", checked.answer.violations) };
            let (naive_stall, naive_rate, naive_took) = measure(&server, &template, async |client: &Client| {
                client.batch_execute(naive).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
            })
            .await;
            let steps = plan.up.clone();
            let (stall, rate, took) =
                measure(&server, &template, async |client: &Client| run_steps(client, &steps).await).await;
            println!(
                "| {kind} | {} | {} | {:.1}x | {} | {} ({}) | {naive_rate:.0} / {rate:.0} |",
                millis(naive_stall),
                millis(stall),
                naive_stall.as_secs_f64() / stall.as_secs_f64().max(1e-6),
                millis(naive_took),
                millis(took),
                plan.up.len()
            );
        }
    });
}
