//! Trust (issue 7, points 1 and 2): the embedded cluster is reachable only by its owner,
//! the server's runtime role cannot rewrite the audit log, a privileged runtime role is
//! refused, a least-privilege target role can apply, and TLS to external databases works
//! as libpq's `sslmode` says.

mod support;

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use pg_cluster::{ClusterOptions, LocalCluster, TlsListener};
use registry_store::connect::{Endpoint, TlsSettings};
use registry_store::embedded::Embedded;
use registry_store::error::StoreError;
use registry_store::store::Store;
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;

fn fixture(name: &str) -> SchemaRequest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests").join(name);
    SchemaRequest::from_json(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture parses")
}

fn tls_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tls").join(name)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("schema-registry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Uid:")).map(|ids| ids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

async fn connect(url: &str) -> tokio_postgres::Client {
    Endpoint::parse(url, &TlsSettings::default(), "test URL")
        .expect("URL parses")
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// The SQLSTATE of a failed statement.
async fn refused(client: &tokio_postgres::Client, sql: &str) -> String {
    match client.batch_execute(sql).await {
        Ok(()) => panic!("`{sql}` was allowed"),
        Err(error) => error.as_db_error().map_or_else(|| error.to_string(), |db| db.code().code().to_owned()),
    }
}

/// Starts the embedded cluster in `dir` off the async runtime's threads.
async fn start_embedded(dir: &Path) -> Embedded {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || Embedded::start(&dir))
        .await
        .expect("task")
        .unwrap_or_else(|e| panic!("embedded start: {e}"))
}

#[test]
fn another_os_user_cannot_reach_the_embedded_cluster() {
    let dir = temp_dir("reach");
    let embedded = Embedded::start(&dir).unwrap_or_else(|e| panic!("embedded start: {e}"));
    let cluster = embedded.cluster();
    assert_eq!(cluster.psql("postgres", "SHOW listen_addresses").expect("psql").trim(), "", "no TCP listener");
    let socket_dir = cluster.socket_dir().to_path_buf();
    let meta = std::fs::metadata(&socket_dir).expect("socket dir");
    assert_eq!(meta.mode() & 0o777, 0o700, "the socket directory is private");
    let hba = std::fs::read_to_string(cluster.data_dir().join("pg_hba.conf")).unwrap_or_default();
    assert!(
        hba.lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .all(|l| l.starts_with("local ") && !l.contains("trust")),
        "{hba}"
    );
    if is_root() {
        // nobody (65534) tries the socket and the TCP port PostgreSQL would use.
        let psql = pg_cluster::tool(cluster.bin_dir(), "psql");
        for host in [socket_dir.display().to_string(), "127.0.0.1".to_owned()] {
            let output = Command::new(&psql)
                .args(["-X", "-h", &host, "-p", &cluster.port().to_string(), "-U", "postgres", "-d", "registry"])
                .args(["-c", "INSERT INTO registry.api_tokens DEFAULT VALUES"])
                .env("PGCONNECT_TIMEOUT", "3")
                .current_dir("/")
                .uid(65534)
                .gid(65534)
                .output()
                .expect("psql runs as nobody");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "nobody connected through {host}");
            assert!(stderr.contains("Permission denied") || stderr.contains("Connection refused"), "{host}: {stderr}");
        }
    } else {
        assert_eq!(meta.uid(), std::fs::metadata(cluster.data_dir()).expect("data dir").uid());
    }
    embedded.stop();
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_role_cannot_rewrite_the_audit_log() {
    let dir = temp_dir("runtime-role");
    let embedded = start_embedded(&dir).await;
    let config = support::config(embedded.registry_url())
        .with_migration_url(embedded.migration_url())
        .with_target("default", embedded.target_url())
        .with_rehearsal_url(embedded.rehearsal_url());
    let store = Store::open(config).await.unwrap_or_else(|e| panic!("open: {e}"));
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
    store.create_request(&fixture("01_caricatures.json"), "alice").await.expect("created");

    let runtime = connect(&embedded.registry_url()).await;
    assert_eq!(
        runtime.query_one("SELECT count(*) FROM registry.audit_log", &[]).await.expect("read").get::<_, i64>(0),
        1
    );
    for sql in [
        "UPDATE registry.audit_log SET performed_by = 'mallory'",
        "DELETE FROM registry.audit_log",
        "TRUNCATE registry.audit_log",
        "ALTER TABLE registry.audit_log DISABLE TRIGGER ALL",
        "SET session_replication_role = replica",
        "UPDATE registry.migrations SET up_sql = up_sql || 'DROP TABLE public.other;'",
        "INSERT INTO registry.api_tokens (principal_id, name, token_hash) SELECT id, 'x', '\\x00' FROM registry.principals LIMIT 1; DROP TABLE registry.audit_log",
        "CREATE TABLE registry.mine (x int)",
    ] {
        let code = refused(&runtime, sql).await;
        assert_eq!(code, "42501", "`{sql}` must be refused for lack of privilege, got {code}");
    }
    drop(store);
    embedded.stop();
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privileged_runtime_role_is_refused_unless_allowed() {
    let server = support::server();
    let registry = server.create_unique_database("registry").expect("database");
    let url = server.url(&registry);
    match Store::open(support::config(&url)).await {
        Err(StoreError::PrivilegedRuntime(message)) => {
            assert!(message.contains("superuser"), "{message}");
            assert!(StoreError::PrivilegedRuntime(message).to_string().contains("--allow-superuser"));
        }
        other => panic!("a superuser runtime must be refused, got {other:?}"),
    }
    let store = Store::open(support::config(&url).allowing_privileged_runtime()).await.expect("allowed");
    assert!(store.warnings().iter().any(|w| w.contains("superuser")), "{:?}", store.warnings());

    // The owner of the schema as the runtime role is refused too.
    let dir = temp_dir("owner-runtime");
    let embedded = start_embedded(&dir).await;
    let owner_as_runtime = support::config(embedded.migration_url()).with_migration_url(embedded.migration_url());
    match Store::open(owner_as_runtime).await {
        Err(StoreError::PrivilegedRuntime(message)) => assert!(message.contains("owns"), "{message}"),
        other => panic!("the schema owner as runtime must be refused, got {other:?}"),
    }
    // The runtime role alone, with the schema current, needs no owner.
    Store::open(support::config(embedded.registry_url()).with_migration_url(embedded.migration_url()))
        .await
        .expect("first open migrates");
    Store::open(support::config(embedded.registry_url())).await.expect("a current schema needs no migration URL");
    embedded.stop();
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_role_without_create_on_the_database_can_apply_and_roll_back() {
    let mut cluster = tokio::task::spawn_blocking(|| {
        LocalCluster::start_temporary_with(&ClusterOptions::default().with_peer_role("applier"))
    })
    .await
    .expect("task")
    .unwrap_or_else(|e| panic!("{e}"));
    cluster.create_database("registry").expect("registry database");
    cluster.create_database("app").expect("target database");
    cluster.psql("postgres", "CREATE ROLE applier LOGIN").expect("role");
    cluster.allow_peer_role("applier").expect("peer");
    let target_url = cluster.url_as("applier", "app");
    let store = Store::open(
        support::config(cluster.url("registry")).allowing_privileged_runtime().with_target("default", &target_url),
    )
    .await
    .expect("open");
    let created = store.create_request(&fixture("01_caricatures.json"), "alice").await.expect("created");
    let id = created.request.id;
    store.change_status(&id, RequestStatus::Approved, "bob", None, None).await.expect("approved");

    // No history schema and no right to create one: a clear error, nothing changed.
    let no_create = cluster.psql("app", "SELECT has_database_privilege('applier', 'app', 'CREATE')").expect("psql");
    assert_eq!(no_create.trim(), "f");
    match store.apply(&id, "default", "olaf").await {
        Err(StoreError::MigrationFailed { message, .. }) => {
            assert!(message.contains("CREATE SCHEMA schema_registry AUTHORIZATION"), "{message}");
        }
        other => panic!("expected a clear refusal, got {other:?}"),
    }
    // What the README tells an administrator to do; the role still has no CREATE on the database.
    cluster
        .psql(
            "app",
            "CREATE SCHEMA schema_registry AUTHORIZATION applier; GRANT USAGE, CREATE ON SCHEMA public TO applier",
        )
        .expect("grants");
    let applied = store.apply(&id, "default", "olaf").await.expect("apply as applier");
    assert_eq!(applied.status, RequestStatus::Migrated);
    let owner = cluster.psql("app", "SELECT tableowner FROM pg_tables WHERE tablename = 'caricatures'").expect("psql");
    assert_eq!(owner.trim(), "applier");
    store.rollback(&id, "default", "olaf").await.expect("rollback as applier");
    assert_eq!(cluster.psql("app", "SELECT to_regclass('public.caricatures') IS NULL").expect("psql").trim(), "t");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_follow_sslmode() {
    let listener = TlsListener { certificate: tls_fixture("server.crt"), key: tls_fixture("server.key") };
    let cluster = tokio::task::spawn_blocking(move || {
        LocalCluster::start_temporary_with(&ClusterOptions::default().with_tls_listener(listener))
    })
    .await
    .expect("task")
    .unwrap_or_else(|e| panic!("{e}"));
    cluster.psql("postgres", "CREATE ROLE remote LOGIN PASSWORD 'tls-test-password'").expect("role");
    let port = cluster.tcp_port().expect("a TLS listener");
    let url = |host: &str, query: &str| format!("postgresql://remote:tls-test-password@{host}:{port}/postgres?{query}");
    let uses_tls = async |url: String| -> Result<bool, StoreError> {
        let client = Endpoint::parse(&url, &TlsSettings::default(), "test")?.connect().await?;
        let row = client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await?;
        Ok(row.get(0))
    };
    assert!(uses_tls(url("127.0.0.1", "sslmode=require")).await.expect("require connects"));
    assert!(uses_tls(url("127.0.0.1", "sslmode=prefer")).await.expect("prefer connects"));
    assert!(uses_tls(url("127.0.0.1", "sslmode=disable")).await.is_err(), "the server takes TLS only");
    let ca = tls_fixture("ca.crt").display().to_string();
    let other = tls_fixture("other-ca.crt").display().to_string();
    assert!(uses_tls(url("localhost", &format!("sslmode=verify-full&sslrootcert={ca}"))).await.expect("verify-full"));
    assert!(uses_tls(url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"))).await.expect("verify-ca"));
    let wrong_ca = uses_tls(url("localhost", &format!("sslmode=verify-full&sslrootcert={other}"))).await;
    assert!(wrong_ca.is_err(), "an untrusted certificate must be refused");
    // The default root certificate setting stands in for sslrootcert.
    let defaults = TlsSettings { root_cert: Some(tls_fixture("ca.crt")) };
    let client = Endpoint::parse(&url("localhost", "sslmode=verify-full"), &defaults, "test")
        .expect("parse")
        .connect()
        .await
        .expect("verify-full with the default root certificate");
    client.simple_query("SELECT 1").await.expect("query");
}
