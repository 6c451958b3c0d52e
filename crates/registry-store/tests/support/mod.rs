//! Shared helpers for tests against a real PostgreSQL from the project's cluster helper.

#![allow(dead_code, reason = "each test binary uses a different part")]

pub(crate) mod arbitrary;

use pg_cluster::test_support::{TestServer, test_server};
use tokio_postgres::{Client, NoTls};

/// A PostgreSQL server for this test binary: a throw-away local cluster, or the server
/// `REGISTRY_TEST_DATABASE_URL` names. Fails loudly when neither can be had.
pub(crate) fn server() -> TestServer {
    test_server().unwrap_or_else(|e| panic!("these tests need PostgreSQL and could not get one: {e}"))
}

/// The audit key every test store seals its chain with.
pub(crate) fn audit_key() -> registry_store::audit::AuditKey {
    registry_store::audit::AuditKey::from_bytes([42; 32])
}

/// A store configuration for `url` with the tests' audit key.
pub(crate) fn config(url: impl Into<String>) -> registry_store::store::StoreConfig {
    registry_store::store::StoreConfig::new(url).with_audit_key(audit_key())
}

/// Whether a request fixture is one the registry accepts as it stands: clean under the
/// standard policy, and not one of the fixtures that are bad only because of what exists
/// around them (those come with `environments/<name>.json`).
pub(crate) fn is_clean_fixture(path: &std::path::Path) -> bool {
    let environment = path.parent().map(|dir| dir.join("environments").join(path.file_name().unwrap_or_default()));
    if environment.is_some_and(|file| file.is_file()) {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    let Ok(request) = schema_model::request::SchemaRequest::from_json(&text) else { return false };
    !policy::has_errors(&policy::check(&request, &policy::config::Policy::standard()))
}

/// A single-threaded runtime for driving the async client from sync tests.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// A connection to one test database.
pub(crate) struct Db {
    client: Client,
}

/// A connection to an existing test database.
pub(crate) async fn connect_to(server: &TestServer, name: &str) -> Db {
    let (client, connection) =
        tokio_postgres::connect(&server.url(name), NoTls).await.unwrap_or_else(|e| panic!("connect to {name}: {e}"));
    tokio::spawn(connection);
    Db { client }
}

/// A new, empty database (with the `billing` schema the fixtures use) and a connection.
pub(crate) async fn fresh_database(server: &TestServer, prefix: &str) -> Db {
    let name = server.create_unique_database(prefix).unwrap_or_else(|e| panic!("create database: {e}"));
    let (client, connection) =
        tokio_postgres::connect(&server.url(&name), NoTls).await.unwrap_or_else(|e| panic!("connect to {name}: {e}"));
    tokio::spawn(connection);
    let db = Db { client };
    db.execute("CREATE SCHEMA IF NOT EXISTS billing").await.expect("create schema");
    db
}

fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!(
            "{}: {}{}",
            db.code().code(),
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        ),
        None => error.to_string(),
    }
}

impl Db {
    /// The connection.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The table as PostgreSQL has it, in the model.
    pub(crate) async fn live(&self, schema: &str, name: &str) -> Result<schema_model::table::TableSchema, String> {
        let found = pg_introspect::read::table(&self.client, schema, name).await.map_err(|e| e.to_string())?;
        Ok(found.ok_or_else(|| format!("{schema}.{name} does not exist"))?.to_model().table)
    }

    /// Runs a script (several statements, simple query protocol).
    pub(crate) async fn execute(&self, sql: &str) -> Result<(), String> {
        self.client.batch_execute(sql).await.map_err(|e| describe(&e))
    }

    async fn rows(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Vec<tokio_postgres::Row> {
        self.client.query(sql, params).await.unwrap_or_else(|e| panic!("{}: {sql}", describe(&e)))
    }

    /// Every user object in the database (relations, types, constraints, comments),
    /// to compare before and after a down migration.
    pub(crate) async fn fingerprint(&self) -> Vec<String> {
        self.rows(
            "WITH user_ns AS (SELECT oid, nspname FROM pg_namespace
                              WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%'
                                AND nspname NOT LIKE 'pg_temp%')
             SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text
               FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
             UNION ALL
             SELECT 'type ' || n.nspname || '.' || t.typname || ' ' || t.typtype::text
               FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
             UNION ALL
             SELECT 'constraint ' || n.nspname || '.' || co.conname || ' ' || co.contype::text
               FROM pg_constraint co JOIN user_ns n ON n.oid = co.connamespace
             UNION ALL
             SELECT 'comment ' || d.classoid::regclass::text || ' ' || d.objoid || ' ' || d.objsubid
               FROM pg_description d WHERE d.objoid >= 16384
             ORDER BY 1",
            &[],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect()
    }
}

/// Asserts that a script reads, statement by statement, as SQL sqlparser accepts.
pub(crate) fn assert_parses(sql: &str) {
    if let Err(error) = ddl_gen::outline::statement_kinds(sql) {
        panic!("generated SQL does not parse: {error}\n{sql}");
    }
}
