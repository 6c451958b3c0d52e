//! The audit log as a hash chain (issue 7, point 3): an intact chain verifies; an entry
//! edited, deleted or inserted out of band, even by a superuser with the append-only
//! trigger out of the way, is reported with its id; concurrent appends keep the chain
//! whole; entries from before the chain are sealed into it on upgrade; another key is
//! refused.

mod support;

use std::sync::Arc;

use registry_store::audit::AuditKey;
use registry_store::error::StoreError;
use registry_store::store::Store;
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;
use tokio_postgres::NoTls;

fn fixture(name: &str) -> SchemaRequest {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests").join(name);
    SchemaRequest::from_json(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture parses")
}

async fn superuser(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

async fn store_with_history(url: &str) -> Store {
    let store = Store::open(support::config(url).allowing_privileged_runtime()).await.expect("open");
    for _ in 0..3 {
        let created = store.create_request(&fixture("01_caricatures.json"), "alice").await.expect("created");
        store
            .change_status(&created.request.id, RequestStatus::Approved, "bob", None, Some("ok"))
            .await
            .expect("approve");
    }
    store
}

async fn ids(client: &tokio_postgres::Client) -> Vec<i64> {
    client
        .query("SELECT id FROM registry.audit_log ORDER BY seq", &[])
        .await
        .expect("ids")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_by_a_superuser_is_found_with_the_entry_id() {
    let server = support::server();
    let url = server.url(&server.create_unique_database("audit").expect("database"));
    let store = store_with_history(&url).await;
    let report = store.verify_audit().await.expect("verify");
    assert!(report.intact, "{report:?}");
    assert_eq!(report.entries, 6);
    assert!(report.last_hash.as_deref().is_some_and(|h| h.len() == 64));

    let admin = superuser(&url).await;
    let entries = ids(&admin).await;
    admin
        .batch_execute(&format!(
            "ALTER TABLE registry.audit_log DISABLE TRIGGER audit_log_no_update_or_delete;
             UPDATE registry.audit_log SET performed_by = 'mallory' WHERE id = {};
             ALTER TABLE registry.audit_log ENABLE TRIGGER audit_log_no_update_or_delete",
            entries[3]
        ))
        .await
        .expect("a superuser can edit");
    let report = store.verify_audit().await.expect("verify");
    assert!(!report.intact);
    assert_eq!(report.first_broken, Some(entries[3]), "{report:?}");
    assert!(report.reason.as_deref().is_some_and(|r| r.contains("changed")), "{report:?}");
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["intact"], false);
    assert_eq!(json["firstBroken"], entries[3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_smuggled_entry_breaks_the_chain() {
    let server = support::server();
    let url = server.url(&server.create_unique_database("audit").expect("database"));
    let store = store_with_history(&url).await;
    let admin = superuser(&url).await;
    let entries = ids(&admin).await;

    admin
        .batch_execute(&format!(
            "SET session_replication_role = replica; DELETE FROM registry.audit_log WHERE id = {}; RESET session_replication_role",
            entries[2]
        ))
        .await
        .expect("a superuser can delete");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_broken, Some(entries[3]), "the entry after the gap: {report:?}");
    assert!(report.reason.as_deref().is_some_and(|r| r.contains("missing")), "{report:?}");

    // A fresh database, and an entry inserted out of band: without a place, and with a
    // forged place and hash.
    let url = server.url(&server.create_unique_database("audit").expect("database"));
    let store = store_with_history(&url).await;
    let admin = superuser(&url).await;
    admin
        .batch_execute(
            "INSERT INTO registry.audit_log (action, performed_by, success, created_at) VALUES ('status', 'mallory', true, now())",
        )
        .await
        .expect("insert");
    let smuggled: i64 = admin.query_one("SELECT max(id) FROM registry.audit_log", &[]).await.expect("id").get(0);
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_broken, Some(smuggled), "{report:?}");
    admin
        .batch_execute(&format!(
            "ALTER TABLE registry.audit_log DISABLE TRIGGER USER;
             UPDATE registry.audit_log SET seq = 7, prev_hash = (SELECT hash FROM registry.audit_log WHERE seq = 6),
                 hash = sha256('forged') WHERE id = {smuggled};
             ALTER TABLE registry.audit_log ENABLE TRIGGER USER"
        ))
        .await
        .expect("forge");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_broken, Some(smuggled), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_keep_the_chain_whole() {
    let server = support::server();
    let url = server.url(&server.create_unique_database("audit").expect("database"));
    let store = Arc::new(Store::open(support::config(&url).allowing_privileged_runtime()).await.expect("open"));
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.create_request(&fixture("01_caricatures.json"), "alice").await.map(|_| ())
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("created");
    }
    let report = store.verify_audit().await.expect("verify");
    assert!(report.intact, "{report:?}");
    assert_eq!(report.entries, 40);
    let admin = superuser(&url).await;
    let max: i64 = admin.query_one("SELECT max(seq) FROM registry.audit_log", &[]).await.expect("max").get(0);
    assert_eq!(max, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_from_before_the_chain_are_sealed_on_upgrade_and_another_key_is_refused() {
    let server = support::server();
    let url = server.url(&server.create_unique_database("audit").expect("database"));
    let admin = superuser(&url).await;
    // A registry at schema version 1, with two entries written the old way.
    let version_1 = include_str!("../migrations/0001_registry.sql");
    admin.batch_execute("CREATE SCHEMA registry; CREATE TABLE registry.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())").await.expect("schema");
    admin.batch_execute(version_1).await.expect("version 1");
    admin
        .execute(
            "INSERT INTO registry.schema_migrations (version, name, checksum) VALUES (1, 'registry', $1)",
            &[&registry_store::secrets::sha256_hex(version_1.as_bytes())],
        )
        .await
        .expect("record version 1");
    admin
        .batch_execute(
            "INSERT INTO registry.audit_log (action, performed_by, success) VALUES ('create', 'old', true), ('status', 'old', true)",
        )
        .await
        .expect("old entries");

    let store = Store::open(support::config(&url).allowing_privileged_runtime()).await.expect("upgrade");
    let report = store.verify_audit().await.expect("verify");
    assert!(report.intact, "{report:?}");
    assert_eq!(report.entries, 2);
    store.create_request(&fixture("01_caricatures.json"), "alice").await.expect("created");
    assert!(store.verify_audit().await.expect("verify").intact);

    let other = registry_store::store::StoreConfig::new(&url)
        .allowing_privileged_runtime()
        .with_audit_key(AuditKey::from_bytes([1; 32]));
    match Store::open(other).await {
        Err(StoreError::AuditKeyMismatch { .. }) => {}
        other => panic!("another key must be refused, got {other:?}"),
    }
}
