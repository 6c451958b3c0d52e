//! The truth about generated SQL is PostgreSQL itself (design §5, §8).
//!
//! For every request fixture the `standard` policy accepts, on a real server from the
//! project's own cluster helper: apply up, up again, down, down again, up again, and
//! compare the live catalog with the model after each up and with the starting state
//! after each down. Then a property test does the same for random table definitions.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use policy::config::Policy;
use proptest::test_runner::{Config, TestRunner};
use schema_model::naming::NamingOptions;
use schema_model::objects::TableObjects;
use schema_model::request::SchemaRequest;
use schema_model::table::TableSchema;
use support::{Db, runtime};

fn fixtures() -> Vec<(PathBuf, SchemaRequest)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/requests")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable fixture");
            let request = SchemaRequest::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, request)
        })
        .collect()
}

/// Clean under the standard policy, and not one of the fixtures that are bad only because
/// of what exists around them (those come with `environments/<name>.json`).
fn accepted(path: &Path, request: &SchemaRequest) -> bool {
    let environment = path.parent().map(|dir| dir.join("environments").join(path.file_name().unwrap_or_default()));
    !environment.is_some_and(|file| file.is_file()) && !policy::has_errors(&policy::check(request, &Policy::standard()))
}

/// The fixtures a request's foreign keys need first (transitively), in apply order.
fn dependencies<'a>(
    request: &'a SchemaRequest,
    by_table: &BTreeMap<(String, String), &'a SchemaRequest>,
    out: &mut Vec<&'a SchemaRequest>,
) {
    let table = &request.schema_json;
    let objects = TableObjects::of(request, &NamingOptions::default());
    for fk in &objects.foreign_keys {
        let schema = fk.referenced_schema.clone().unwrap_or_else(|| table.schema_name().to_owned());
        if schema == table.schema_name() && fk.referenced_table == table.table_name {
            continue;
        }
        let dependency = by_table
            .get(&(schema.clone(), fk.referenced_table.clone()))
            .unwrap_or_else(|| panic!("{}: no fixture defines {schema}.{}", table.table_name, fk.referenced_table));
        if !out.iter().any(|r| std::ptr::eq(*r, *dependency)) {
            dependencies(dependency, by_table, out);
            out.push(dependency);
        }
    }
}

/// What the catalog must show for a table once its up migration ran: the reader of
/// `pg-introspect` compares every column, type, default, identity, comment, constraint,
/// index and enum label with the request.
async fn assert_catalog_matches(db: &Db, table: &TableSchema, naming: &NamingOptions, request: &SchemaRequest) {
    let live = pg_introspect::read::table(db.client(), table.schema_name(), &table.table_name)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("{}.{} does not exist", table.schema_name(), table.table_name));
    let inputs = schema_model::environment::GenerationInputs::with_naming(naming);
    let differences = pg_introspect::compare::conformance(request, &inputs, &live);
    assert!(differences.is_empty(), "{}.{}: {differences:#?}", table.schema_name(), table.table_name);
}

#[test]
fn fixtures_apply_idempotently_and_roll_back_exactly() {
    let server = support::server();
    let rt = runtime();
    let all = fixtures();
    let by_table: BTreeMap<(String, String), &SchemaRequest> = all
        .iter()
        .filter(|(p, r)| accepted(p, r))
        .map(|(_, r)| ((r.schema_json.schema_name().to_owned(), r.schema_json.table_name.clone()), r))
        .collect();
    let naming = NamingOptions::default();
    let mut applied = 0;
    for (path, request) in &all {
        if !accepted(path, request) {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        rt.block_on(async {
            let db = support::fresh_database(&server, "truth").await;
            let mut needed = Vec::new();
            dependencies(request, &by_table, &mut needed);
            for dependency in needed {
                let migration = ddl_gen::generate(dependency, &naming).expect("dependency generates");
                db.execute(&migration.up_sql).await.unwrap_or_else(|e| panic!("{file}: dependency up: {e}"));
            }
            let before = db.fingerprint().await;
            let migration = ddl_gen::generate(request, &naming).unwrap_or_else(|e| panic!("{file}: {e}"));
            for round in ["up", "up again"] {
                db.execute(&migration.up_sql)
                    .await
                    .unwrap_or_else(|e| panic!("{file}: {round}: {e}\n{}", migration.up_sql));
                assert_catalog_matches(&db, &request.schema_json, &naming, request).await;
            }
            for round in ["down", "down again"] {
                db.execute(&migration.down_sql)
                    .await
                    .unwrap_or_else(|e| panic!("{file}: {round}: {e}\n{}", migration.down_sql));
                assert_eq!(db.fingerprint().await, before, "{file}: {round} must restore the catalog");
            }
            db.execute(&migration.up_sql).await.unwrap_or_else(|e| panic!("{file}: up after down: {e}"));
            assert_catalog_matches(&db, &request.schema_json, &naming, request).await;
        });
        applied += 1;
    }
    assert!(applied >= 20, "only {applied} fixtures were clean enough to apply");
}

#[test]
fn random_tables_are_accepted_by_postgres_and_leave_nothing_behind() {
    let server = support::server();
    let rt = runtime();
    let db = rt.block_on(support::fresh_database(&server, "prop"));
    let naming = NamingOptions::default();
    let mut runner = TestRunner::new(Config { cases: 96, failure_persistence: None, ..Config::default() });
    let result = runner.run(&support::arbitrary::table(), |request| {
        let migration = ddl_gen::generate(&request, &naming)
            .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        support::assert_parses(&migration.up_sql);
        support::assert_parses(&migration.down_sql);
        rt.block_on(async {
            // A failed case leaves its objects behind; start every case from an empty schema.
            db.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public").await?;
            let empty = db.fingerprint().await;
            db.execute(&migration.up_sql).await.map_err(|e| format!("up: {e}\n{}", migration.up_sql))?;
            db.execute(&migration.up_sql).await.map_err(|e| format!("up again: {e}"))?;
            assert_catalog_matches(&db, &request.schema_json, &naming, &request).await;
            db.execute(&migration.down_sql).await.map_err(|e| format!("down: {e}"))?;
            db.execute(&migration.down_sql).await.map_err(|e| format!("down again: {e}"))?;
            let after = db.fingerprint().await;
            if after == empty { Ok(()) } else { Err(format!("down left {after:?}")) }
        })
        .map_err(proptest::test_runner::TestCaseError::fail)
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Names with the layout's own characters in them (`" ( "`) round-trip: up creates them and
/// down drops the very same objects.
#[test]
fn quoted_names_with_parentheses_round_trip() {
    let server = support::server();
    let rt = runtime();
    rt.block_on(async {
        let db = support::fresh_database(&server, "parens").await;
        db.execute("CREATE SCHEMA \"a ( b\"").await.expect("schema");
        let request = SchemaRequest::from_json(
            r#"{"tableName": "t ( x", "schema": "a ( b", "columns": [{"name": "id ( y", "type": "integer", "primaryKey": true}, {"name": "n", "type": "text"}], "indexes": [{"columns": ["n"]}]}"#,
        )
        .expect("request");
        let naming = NamingOptions::default();
        let migration = ddl_gen::generate(&request, &naming).expect("generates");
        let before = db.fingerprint().await;
        db.execute(&migration.up_sql).await.unwrap_or_else(|e| panic!("up: {e}\n{}", migration.up_sql));
        assert_catalog_matches(&db, &request.schema_json, &naming, &request).await;
        db.execute(&migration.down_sql).await.unwrap_or_else(|e| panic!("down: {e}\n{}", migration.down_sql));
        assert_eq!(db.fingerprint().await, before, "down restores the catalog");
    });
}

/// Related tables (foreign keys across schemas and to themselves, composite keys, explicit
/// and 63-byte names, fitted and `_2`-suffixed generated names, INCLUDE and multi-column
/// indexes) go through the store's real path: submitted (checked against the target and
/// rehearsed), approved, applied (names checked, read back before COMMIT), and the catalog
/// then names exactly what exists on the target; rolled back, they leave nothing behind.
#[test]
fn related_tables_apply_through_the_store_and_the_catalog_names_what_exists() {
    use registry_store::store::Store;
    use schema_model::status::RequestStatus;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let server = support::server();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let registry = server.create_unique_database("rel_registry").expect("database");
    let target = server.create_unique_database("rel_target").expect("database");
    let rehearsal = server.create_unique_database("rel_rehearsal").expect("database");
    let store = rt
        .block_on(Store::open(
            support::config(server.url(&registry))
                .with_target("default", server.url(&target))
                .with_rehearsal_url(server.url(&rehearsal))
                .allowing_privileged_runtime(),
        ))
        .expect("store opens");
    let db = rt.block_on(support::connect_to(&server, &target));
    let tags = AtomicUsize::new(0);
    let cases = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    let strategy = proptest::strategy::Strategy::prop_flat_map(0..1usize, move |_| {
        support::arbitrary::related_tables(tags.fetch_add(1, Ordering::Relaxed))
    });
    let result = runner.run(&strategy, |requests| {
        cases.fetch_add(1, Ordering::Relaxed);
        rt.block_on(async {
            for request in &requests {
                let schema = request.schema_json.schema_name();
                db.execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await?;
            }
            // The registry's own history table on the target appears with the first apply.
            let user_objects = |all: Vec<String>| -> Vec<String> {
                all.into_iter().filter(|line| !line.contains(" schema_registry.")).collect()
            };
            let before = user_objects(db.fingerprint().await);
            let mut ids = Vec::new();
            for request in &requests {
                let name = &request.schema_json.table_name;
                let created =
                    store.create_request(request, "alice").await.map_err(|e| format!("{name}: submit: {e:?}"))?;
                let id = created.request.id;
                store
                    .change_status(&id, RequestStatus::Approved, "bob", None, None)
                    .await
                    .map_err(|e| format!("{name}: approve: {e}"))?;
                let outcome = store.apply(&id, "default", "olaf").await.map_err(|e| format!("{name}: apply: {e}"))?;
                if !outcome.ran_sql {
                    return Err(format!("{name}: the apply ran no SQL"));
                }
                compare_catalog_with_target(&store, &db, request).await?;
                ids.push(id);
            }
            for id in ids.iter().rev() {
                store.rollback(id, "default", "olaf").await.map_err(|e| format!("rollback: {e}"))?;
            }
            let after = user_objects(db.fingerprint().await);
            if after != before {
                return Err(format!("the rollbacks left {after:?} (before: {before:?})"));
            }
            Ok(())
        })
        .map_err(proptest::test_runner::TestCaseError::fail)
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    assert!(cases.load(Ordering::Relaxed) >= 24);
}

/// Every index and constraint name the catalog recorded for the table's current version is
/// a name the target has on that table, and the other way round.
async fn compare_catalog_with_target(
    store: &registry_store::store::Store,
    db: &Db,
    request: &SchemaRequest,
) -> Result<(), String> {
    let table = &request.schema_json;
    let (schema, name) = (table.schema_name(), table.table_name.as_str());
    let detail = store.table("default", schema, name).await.map_err(|e| format!("{name}: catalog: {e}"))?;
    let version = detail.versions.last().ok_or_else(|| format!("{name}: no version in the catalog"))?;
    let live = pg_introspect::read::table(db.client(), schema, name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{schema}.{name} does not exist on the target"))?;
    let recorded_constraints: std::collections::BTreeSet<&str> =
        version.constraints.iter().map(|c| c.name.as_str()).collect();
    let live_constraints: std::collections::BTreeSet<&str> = live.constraints.iter().map(|c| c.name.as_str()).collect();
    if recorded_constraints != live_constraints {
        return Err(format!(
            "{name}: constraints recorded {recorded_constraints:?}, on the target {live_constraints:?}"
        ));
    }
    let recorded_indexes: std::collections::BTreeSet<&str> = version
        .indexes
        .iter()
        .map(|i| i.name.as_str())
        .chain(
            version
                .constraints
                .iter()
                .filter(|c| matches!(c.kind.as_str(), "primary key" | "unique"))
                .map(|c| c.name.as_str()),
        )
        .collect();
    let live_indexes: std::collections::BTreeSet<&str> = live.indexes.iter().map(|i| i.name.as_str()).collect();
    if recorded_indexes != live_indexes {
        return Err(format!("{name}: indexes recorded {recorded_indexes:?}, on the target {live_indexes:?}"));
    }
    Ok(())
}
