//! Lock safety of generated changes on a real PostgreSQL. For each kind of change, with rows
//! in the table and another session holding `ACCESS SHARE` on it (an open read transaction),
//! the generated steps run as the apply runner runs them: every step either finishes without
//! waiting behind the reader, or fails fast with a lock timeout (never a statement timeout,
//! which would mean it waited past `lock_timeout`) and leaves the table as it was before that
//! step. Once the reader is gone, the rest of the steps finish the change. And no step that
//! takes `ACCESS EXCLUSIVE` scans or rewrites the table while it holds it: under that lock
//! only the catalog changes.

mod support;

use policy::config::Policy;
use registry_core::change::{Current, check_change};
use schema_model::change::{Step, TransactionMode};
use schema_model::environment::GenerationInputs;
use schema_model::naming::NamingOptions;
use schema_model::request::SchemaRequest;
use support::{Db, runtime};

/// What a step is allowed to wait for a lock; a statement timeout far above it catches a
/// step that waits some other way.
const LOCK_TIMEOUT_MS: u32 = 200;
const STATEMENT_TIMEOUT_MS: u32 = 30_000;
const ROWS: u32 = 2_000;

const BASE_COLUMNS: &str = r#"
    {"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"},
    {"name": "email", "type": "varchar(100)", "nullable": false},
    {"name": "name", "type": "text", "nullable": true},
    {"name": "score", "type": "integer", "nullable": true},
    {"name": "team_id", "type": "bigint", "nullable": true},
    {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"}"#;

fn accounts(columns: &str, rest: &str) -> SchemaRequest {
    let json = format!(
        r#"{{"tableName": "accounts", "owner": "team", "schemaJson": {{"tableName": "accounts",
            "columns": [{columns}], "indexes": [{{"name": "idx_accounts_created_at", "columns": ["created_at"]}}]{rest}}},
            "requestMetadata": {{"requestedBy": "alice", "justification": "locks", "relatedIssue": "9"}}}}"#
    );
    SchemaRequest::from_json(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// The kinds of change, each as the table after it.
fn changes() -> Vec<(&'static str, SchemaRequest)> {
    let with = |extra: &str| accounts(&format!("{BASE_COLUMNS}, {extra}"), "");
    let replaced = |from: &str, to: &str| {
        assert!(BASE_COLUMNS.contains(from), "{from}");
        accounts(&BASE_COLUMNS.replace(from, to), "")
    };
    vec![
        ("add a nullable column", with(r#"{"name": "nickname", "type": "text", "nullable": true}"#)),
        (
            "add a column with a constant default",
            with(r#"{"name": "active", "type": "boolean", "nullable": false, "defaultValue": "true"}"#),
        ),
        ("add an index", accounts(BASE_COLUMNS, "").with_index("score")),
        (
            "add a foreign key",
            replaced(
                r#"{"name": "team_id", "type": "bigint", "nullable": true}"#,
                r#"{"name": "team_id", "type": "bigint", "nullable": true, "references": {"table": "teams", "column": "id"}}"#,
            ),
        ),
        (
            "add a check",
            accounts(BASE_COLUMNS, r#", "checks": [{"name": "ck_accounts_score", "expression": "score >= 0"}]"#),
        ),
        (
            "set NOT NULL",
            replaced(
                r#"{"name": "name", "type": "text", "nullable": true}"#,
                r#"{"name": "name", "type": "text", "nullable": false}"#,
            ),
        ),
        ("add a unique constraint", accounts(BASE_COLUMNS, r#", "uniques": [{"columns": ["email"]}]"#)),
        (
            "widen a varchar",
            replaced(
                r#"{"name": "email", "type": "varchar(100)", "nullable": false}"#,
                r#"{"name": "email", "type": "varchar(200)", "nullable": false}"#,
            ),
        ),
        (
            "change a default",
            replaced(
                r#"{"name": "score", "type": "integer", "nullable": true}"#,
                r#"{"name": "score", "type": "integer", "nullable": true, "defaultValue": "0"}"#,
            ),
        ),
        (
            "rename a column",
            replaced(
                r#"{"name": "name", "type": "text", "nullable": true}"#,
                r#"{"name": "full_name", "renamedFrom": "name", "type": "text", "nullable": true}"#,
            ),
        ),
        (
            "drop a column",
            replaced(
                r#",
    {"name": "score", "type": "integer", "nullable": true}"#,
                "",
            ),
        ),
        ("drop an index", {
            let mut request = accounts(BASE_COLUMNS, "");
            request.schema_json.indexes.clear();
            request
        }),
    ]
}

trait WithIndex {
    fn with_index(self, column: &str) -> Self;
}

impl WithIndex for SchemaRequest {
    fn with_index(mut self, column: &str) -> Self {
        let json = format!(r#"{{"name": "idx_accounts_{column}", "columns": ["{column}"]}}"#);
        self.schema_json.indexes.push(serde_json::from_str(&json).expect("index"));
        self
    }
}

fn lenient() -> Policy {
    Policy::from_toml(
        "[rules]\n\"change.drops-column\" = \"warning\"\n\"change.drops-constraint\" = \"warning\"\n\
         [compatibility]\ndefault = \"NONE\"\n",
    )
    .expect("policy")
}

/// How one step went.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    LockTimeout,
}

/// What a transactional step held on the table and did to it before its COMMIT.
struct Footprint {
    access_exclusive: bool,
    seq_scans: i64,
    rewritten: bool,
}

/// Runs one step as the apply runner does (its own transaction under `lock_timeout`, or alone
/// with `lock_timeout` set), and for a transactional one reads what it held and did.
async fn run_step(db: &Db, step: &Step) -> Result<(Outcome, Option<Footprint>), String> {
    let classify = |error: tokio_postgres::Error| match error.as_db_error() {
        Some(db_error) if db_error.code().code() == "55P03" => Ok(Outcome::LockTimeout),
        Some(db_error) => Err(format!("{}: {}", db_error.code().code(), db_error.message())),
        None => Err(error.to_string()),
    };
    let client = db.client();
    let limits = format!("lock_timeout = {LOCK_TIMEOUT_MS}; SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}");
    match step.mode {
        TransactionMode::Transaction => {
            let before: u32 = relfilenode(db).await;
            client.batch_execute(&format!("BEGIN; SET LOCAL {limits}")).await.map_err(|e| e.to_string())?;
            // The counters include earlier transactions' scans not yet flushed: the step's own
            // are the difference.
            let scans_before = seq_scans(db).await?;
            if let Err(error) = client.batch_execute(&step.sql).await {
                client.batch_execute("ROLLBACK").await.map_err(|e| e.to_string())?;
                return classify(error).map(|outcome| (outcome, None));
            }
            let held = client
                .query_one(
                    "SELECT coalesce(bool_or(mode = 'AccessExclusiveLock'), false) FROM pg_locks
                      WHERE pid = pg_backend_pid() AND relation = 'public.accounts'::regclass",
                    &[],
                )
                .await
                .map_err(|e| e.to_string())?;
            let scans = seq_scans(db).await? - scans_before;
            client.batch_execute("COMMIT").await.map_err(|e| e.to_string())?;
            let footprint = Footprint {
                access_exclusive: held.get(0),
                seq_scans: scans,
                rewritten: relfilenode(db).await != before,
            };
            Ok((Outcome::Done, Some(footprint)))
        }
        TransactionMode::Alone => {
            let limits =
                format!("SET lock_timeout = {LOCK_TIMEOUT_MS}; SET statement_timeout = {STATEMENT_TIMEOUT_MS}");
            client.batch_execute(&limits).await.map_err(|e| e.to_string())?;
            let result = client.batch_execute(&step.sql).await;
            client.batch_execute("RESET lock_timeout; RESET statement_timeout").await.map_err(|e| e.to_string())?;
            match result {
                Ok(()) => Ok((Outcome::Done, None)),
                Err(error) => classify(error).map(|outcome| (outcome, None)),
            }
        }
    }
}

/// The table in the model, every object of the database, and whether each index is valid
/// (which the model does not say).
async fn state(db: &Db) -> (schema_model::table::TableSchema, Vec<String>, Vec<String>) {
    let validity = db
        .client()
        .query(
            "SELECT indexrelid::regclass::text || ' valid: ' || indisvalid FROM pg_index
              WHERE indrelid = 'public.accounts'::regclass ORDER BY 1",
            &[],
        )
        .await
        .expect("indexes")
        .iter()
        .map(|row| row.get(0))
        .collect();
    (db.live("public", "accounts").await.expect("live"), db.fingerprint().await, validity)
}

/// Sequential scans of the table this session has counted and not yet reported.
async fn seq_scans(db: &Db) -> Result<i64, String> {
    let row = db
        .client()
        .query_one(
            "SELECT coalesce(seq_scan, 0) FROM pg_stat_xact_user_tables WHERE relid = 'public.accounts'::regclass",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

async fn relfilenode(db: &Db) -> u32 {
    let row = db
        .client()
        .query_one("SELECT relfilenode FROM pg_class WHERE oid = 'public.accounts'::regclass", &[])
        .await
        .expect("relfilenode");
    row.get(0)
}

/// A fresh `accounts` table with rows, and the `teams` it may refer to.
async fn fresh(db: &Db, base: &SchemaRequest) {
    db.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public").await.expect("reset");
    db.execute(&format!(
        "CREATE TABLE public.teams (id bigint PRIMARY KEY);
         INSERT INTO public.teams SELECT g FROM generate_series(1, 10) g;
         {}
         INSERT INTO public.accounts (email, name, score, team_id)
              SELECT 'user' || g || '@example.com', 'User ' || g, g % 100, 1 + g % 10 FROM generate_series(1, {ROWS}) g;
         ANALYZE public.accounts;",
        ddl_gen::generate(base, &NamingOptions::default()).expect("create").up_sql
    ))
    .await
    .expect("create the table");
}

#[test]
fn generated_changes_fail_fast_behind_a_reader_or_finish_and_never_scan_under_access_exclusive() {
    let server = support::server();
    let rt = runtime();
    let database = server.create_unique_database("locks").expect("database");
    let (db, reader) = rt.block_on(async {
        (support::connect_to(&server, &database).await, support::connect_to(&server, &database).await)
    });
    let naming = NamingOptions::default();
    let inputs = GenerationInputs::with_naming(&naming);
    let base = accounts(BASE_COLUMNS, "");
    let mut summary = Vec::new();
    for (kind, changed) in changes() {
        let checked = check_change(
            &changed,
            Current { table: &base.schema_json, inputs: &inputs, level: None },
            &lenient(),
            None,
        );
        let Some(plan) = checked.steps else { panic!("{kind}: no plan: {:#?}", checked.answer.violations) };
        assert!(!checked.changes.is_empty(), "{kind}: a change");
        rt.block_on(async {
            fresh(&db, &base).await;
            reader.execute("BEGIN; SELECT count(*) FROM public.accounts").await.expect("the reader's transaction");
            let mut blocked_at = None;
            let mut left_invalid = Vec::new();
            for (number, step) in plan.up.iter().enumerate() {
                let before = state(&db).await;
                let (outcome, footprint) = run_step(&db, step).await.unwrap_or_else(|e| {
                    panic!("{kind}: step {} ({}): {e}\n{}", number + 1, step.description, step.sql)
                });
                if let Some(footprint) = footprint {
                    // Behind a reader, a step that got ACCESS EXCLUSIVE would have waited.
                    assert!(
                        !footprint.access_exclusive,
                        "{kind}: step {} took ACCESS EXCLUSIVE behind a reader",
                        number + 1
                    );
                }
                if outcome == Outcome::LockTimeout {
                    let mut after = state(&db).await;
                    if step.sql.contains("DROP INDEX CONCURRENTLY") {
                        // PostgreSQL commits the invalidation before it waits for the table's
                        // users: the first half of the drop stays, and running the step again
                        // finishes it (below). Nothing else may have changed.
                        let dropped: Vec<&str> = base
                            .schema_json
                            .indexes
                            .iter()
                            .filter_map(|index| index.name.as_deref())
                            .filter(|name| !changed.schema_json.indexes.iter().any(|i| i.name.as_deref() == Some(name)))
                            .collect();
                        for entry in &mut after.2 {
                            if let Some(name) = entry.strip_suffix(" valid: false")
                                && dropped.contains(&name)
                            {
                                let name = name.to_owned();
                                *entry = format!("{name} valid: true");
                                left_invalid.push(name);
                            }
                        }
                    }
                    assert_eq!(
                        before,
                        after,
                        "{kind}: step {} failed on its lock and left something behind",
                        number + 1
                    );
                    blocked_at = Some(number);
                    break;
                }
            }
            reader.execute("ROLLBACK").await.expect("the reader ends");
            let rest = blocked_at.unwrap_or(plan.up.len());
            for (number, step) in plan.up.iter().enumerate().skip(rest) {
                let (outcome, footprint) =
                    run_step(&db, step).await.unwrap_or_else(|e| panic!("{kind}: step {}: {e}", number + 1));
                assert_eq!(outcome, Outcome::Done, "{kind}: step {} with no reader", number + 1);
                if let Some(footprint) = footprint {
                    assert!(
                        !footprint.rewritten,
                        "{kind}: step {} ({}) rewrote the table",
                        number + 1,
                        step.description
                    );
                    if footprint.access_exclusive {
                        assert_eq!(
                            footprint.seq_scans,
                            0,
                            "{kind}: step {} ({}) scanned the table under ACCESS EXCLUSIVE:\n{}",
                            number + 1,
                            step.description,
                            step.sql
                        );
                    }
                }
            }
            let live = db.live("public", "accounts").await.expect("live");
            let left = schema_diff::diff(&changed.schema_json, &live, &naming).expect("diff");
            assert!(left.is_empty(), "{kind}: not the new table: {left:#?}");
            let rows: i64 =
                db.client().query_one("SELECT count(*) FROM public.accounts", &[]).await.expect("count").get(0);
            assert_eq!(rows, i64::from(ROWS), "{kind}: rows kept");
            summary.push(format!(
                "{kind}: {} steps, {}{}",
                plan.up.len(),
                blocked_at.map_or_else(
                    || "all done behind the reader".to_owned(),
                    |n| format!("step {} waited for the reader's lock and failed fast", n + 1)
                ),
                if left_invalid.is_empty() {
                    String::new()
                } else {
                    format!(" (left {} invalid until the step ran again)", left_invalid.join(", "))
                }
            ));
        });
    }
    println!("{}", summary.join("\n"));
    // The two behaviours are both exercised: a metadata change queues for ACCESS EXCLUSIVE and
    // gives up; an index is built concurrently right past the reader.
    assert!(
        summary.iter().any(|s| s.starts_with("add a nullable column") && s.contains("failed fast")),
        "{summary:#?}"
    );
    assert!(summary.iter().any(|s| s.starts_with("add an index") && s.contains("all done")), "{summary:#?}");
    assert!(
        summary.iter().any(|s| s.starts_with("drop an index") && s.contains("left idx_accounts_created_at invalid")),
        "{summary:#?}"
    );
}
