//! The reader against PostgreSQL: every clean request fixture, created from its generated
//! SQL, reads back as the table it asked for (conformance); mapped into the request model
//! and generated again, it creates the very same table (no difference in any type,
//! default, constraint, index, comment or enum label).

#![allow(clippy::unwrap_used, reason = "test")]

use std::path::Path;

use pg_introspect::{compare, read};
use schema_model::environment::GenerationInputs;
use schema_model::naming::NamingOptions;
use schema_model::request::SchemaRequest;
use tokio_postgres::NoTls;

fn fixtures() -> Vec<(String, SchemaRequest)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        // Fixtures that are bad because of what exists around them come with an environment.
        .filter(|p| !dir.join("environments").join(p.file_name().unwrap()).is_file())
        .map(|p| {
            let request = SchemaRequest::from_json(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), request)
        })
        .filter(|(_, r)| !policy::has_errors(&policy::check(r, &policy::config::Policy::standard())))
        .collect()
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Runs each script once its dependencies are there: passes until nothing more applies.
async fn apply_all(client: &tokio_postgres::Client, scripts: &[(String, String)]) -> Vec<String> {
    let mut left: Vec<&(String, String)> = scripts.iter().collect();
    loop {
        let before = left.len();
        let mut failed = Vec::new();
        for item in left {
            if client.batch_execute(&item.1).await.is_err() {
                failed.push(item);
            }
        }
        if failed.is_empty() || failed.len() == before {
            return failed.iter().map(|(name, _)| name.clone()).collect();
        }
        left = failed;
    }
}

#[tokio::test]
async fn fixtures_read_back_as_requested_and_round_trip_through_the_model() {
    let server = pg_cluster::test_support::test_server().unwrap();
    let first = server.create_unique_database("introspect_a").unwrap();
    let second = server.create_unique_database("introspect_b").unwrap();
    let a = connect(&server.url(&first)).await;
    let b = connect(&server.url(&second)).await;
    for client in [&a, &b] {
        client.batch_execute("CREATE SCHEMA billing").await.unwrap();
    }
    let inputs = GenerationInputs::with_naming(&NamingOptions::default());
    let requests = fixtures();
    assert!(requests.len() >= 20, "only {} clean fixtures", requests.len());
    let scripts: Vec<(String, String)> = requests
        .iter()
        .map(|(name, r)| (name.clone(), ddl_gen::generate(r, &NamingOptions::default()).unwrap().up_sql))
        .collect();
    assert_eq!(apply_all(&a, &scripts).await, Vec::<String>::new(), "fixtures that did not apply");

    let mut regenerated = Vec::new();
    let mut first_reads = Vec::new();
    for (name, request) in &requests {
        let table = &request.schema_json;
        let live = read::table(&a, table.schema_name(), &table.table_name).await.unwrap().unwrap();
        let differences = compare::conformance(request, &inputs, &live);
        assert!(differences.is_empty(), "{name}: {differences:#?}");
        let mapped = live.to_model();
        assert!(mapped.unsupported.is_empty(), "{name}: {:?}", mapped.unsupported);
        let again = SchemaRequest::from_value(serde_json::to_value(&mapped.table).unwrap())
            .unwrap_or_else(|e| panic!("{name}: the mapped table is not a valid request: {e}"));
        let migration = ddl_gen::generate(&again, &NamingOptions::default())
            .unwrap_or_else(|e| panic!("{name}: the mapped table does not generate: {e}\n{:#?}", mapped.table));
        regenerated.push((name.clone(), migration.up_sql));
        first_reads.push(live);
    }
    assert_eq!(apply_all(&b, &regenerated).await, Vec::<String>::new(), "mapped tables that did not apply");
    for ((name, _), expected) in requests.iter().zip(&first_reads) {
        let live = read::table(&b, &expected.schema, &expected.name).await.unwrap().unwrap();
        let differences = compare::differences(expected, &live);
        assert!(differences.is_empty(), "{name}: {differences:#?}");
    }

    // A foreign object of the same name is told apart: another table's index, an extra
    // column, a changed default.
    b.batch_execute(
        "ALTER TABLE public.caricatures ADD COLUMN extra integer;
         ALTER TABLE public.caricatures ALTER COLUMN created_at SET DEFAULT now()",
    )
    .await
    .unwrap();
    let expected = first_reads.iter().find(|t| t.name == "caricatures").unwrap();
    let changed = read::table(&b, "public", "caricatures").await.unwrap().unwrap();
    let differences = compare::differences(expected, &changed);
    assert!(differences.iter().any(|d| d.contains("extra")), "{differences:#?}");
    assert!(read::table(&b, "public", "no_such_table").await.unwrap().is_none());

    let (exists, entries) = read::namespace(&a, "public").await.unwrap();
    assert!(exists);
    let objects = pg_introspect::live::existing_objects(exists, &entries);
    assert_eq!(objects.relations["idx_caricatures_user_id"].table.as_deref(), Some("caricatures"));
    assert!(objects.constraints.contains_key("pk_caricatures"));
    let (exists, _) = read::namespace(&a, "no_such_schema").await.unwrap();
    assert!(!exists);

    // Which tables use a type: as a column type, as an array's element, not through a view.
    a.batch_execute(
        "CREATE SCHEMA moods;
         CREATE TYPE moods.mood AS ENUM ('calm', 'tense');
         CREATE TYPE moods.idle AS ENUM ('unused');
         CREATE TABLE moods.plain (m moods.mood);
         CREATE TABLE moods.many (ms moods.mood[]);
         CREATE TABLE moods.other (n integer);
         CREATE VIEW moods.seen AS SELECT m FROM moods.plain",
    )
    .await
    .unwrap();
    let (exists, entries) = read::namespace(&a, "moods").await.unwrap();
    let objects = pg_introspect::live::existing_objects(exists, &entries);
    let used_by = |name: &str| objects.types[name].used_by.iter().cloned().collect::<Vec<_>>();
    assert_eq!(used_by("mood"), ["many", "plain", "seen"]);
    assert!(used_by("idle").is_empty());
    assert_eq!(objects.types["mood"].enum_values.as_deref(), Some(&["calm".to_owned(), "tense".to_owned()][..]));
}
