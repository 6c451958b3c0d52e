//! Issue 7 on the real binary: the audit chain verified by the command line and the API,
//! what was approved is what runs, names are checked schema-wide, rehearsal refuses what
//! PostgreSQL would, rollbacks never lose data in one call, HTTP hygiene, and the database
//! coming back after its postmaster is killed.

mod support;

use serde_json::json;
use support::{Server, cleanup, fixture};

#[test]
fn the_audit_chain_is_verified_by_the_command_line_and_the_api() {
    let server = Server::start(None, "");
    let requester = server.token("omega-bot", "requester");
    let reviewer = server.token("rita", "reviewer");
    let (status, answer) =
        server.call("POST", "/api/schema-requests", Some(&requester), Some(&fixture("01_caricatures.json")));
    assert_eq!(status, 201, "{answer}");
    let id = answer["registryId"].as_str().unwrap().to_owned();
    let (status, _) = server.call(
        "PATCH",
        &format!("/api/schema-requests/{id}"),
        Some(&reviewer),
        Some(&json!({"status": "approved"})),
    );
    assert_eq!(status, 200);

    let (status, report) = server.call("GET", "/api/audit/verify", Some(&server.admin), None);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["entries"], 2);
    let (status, _) = server.call("GET", "/api/audit/verify", Some(&reviewer), None);
    assert_eq!(status, 403, "only admins verify");

    let data_dir = server.data_dir.display().to_string();
    let intact = server.command(&["audit", "verify", "--data-dir", &data_dir]);
    assert_eq!(intact.status.code(), Some(0), "{}", String::from_utf8_lossy(&intact.stderr));
    assert!(String::from_utf8_lossy(&intact.stdout).contains("intact: 2 entries"));

    // The approval's entry, rewritten by the superuser with the trigger out of the way.
    let approval = server.sql("registry", "SELECT id FROM registry.audit_log WHERE action = 'status'");
    server.sql(
        "registry",
        &format!(
            "ALTER TABLE registry.audit_log DISABLE TRIGGER USER;
             UPDATE registry.audit_log SET performed_by = 'omega-bot' WHERE id = {approval};
             ALTER TABLE registry.audit_log ENABLE TRIGGER USER"
        ),
    );
    let (_, report) = server.call("GET", "/api/audit/verify", Some(&server.admin), None);
    assert_eq!(report["intact"], false, "{report}");
    assert_eq!(report["firstBroken"].to_string(), approval, "{report}");
    let broken = server.command(&["audit", "verify", "--data-dir", &data_dir, "--format", "json"]);
    assert_eq!(broken.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&broken.stdout).unwrap();
    assert_eq!(json["firstBroken"].to_string(), approval);

    // With the server stopped, the command starts the embedded cluster itself.
    let dir = server.stop();
    let offline = std::process::Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .args(["audit", "verify", "--data-dir", &data_dir])
        .output()
        .unwrap();
    assert_eq!(offline.status.code(), Some(1), "{}", String::from_utf8_lossy(&offline.stderr));
    assert!(String::from_utf8_lossy(&offline.stdout).contains(&format!("BROKEN at entry {approval}")));
    let no_key = std::process::Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .args(["audit", "verify", "--data-dir", &data_dir, "--audit-key-file", "/nonexistent/audit.key"])
        .output()
        .unwrap();
    assert_eq!(no_key.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("audit key file"));
    cleanup(&dir);
}

#[test]
fn setup_roles_and_migrate_give_a_working_least_privilege_deployment() {
    use std::os::unix::fs::PermissionsExt as _;

    use registry_store::audit::AuditKey;
    use registry_store::store::{Store, StoreConfig};

    let cluster = pg_cluster::LocalCluster::start_temporary().unwrap();
    cluster.create_database("app").unwrap();
    let dir = std::env::temp_dir().join(format!("schema-registry-roles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_registry-server");
    let output = std::process::Command::new(bin).args(["setup-roles", "--target-database", "app"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let script = String::from_utf8(output.stdout).unwrap();
    let password = |role: &str| -> String {
        let line = script.lines().find(|l| l.starts_with(&format!("CREATE ROLE {role} "))).unwrap();
        line.split("PASSWORD '").nth(1).unwrap().split('\'').next().unwrap().to_owned()
    };
    let script_path = dir.join("roles.sql");
    std::fs::write(&script_path, &script).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&script_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    cluster.psql_file("postgres", &script_path).unwrap();

    let socket = pg_cluster::percent_encode(&cluster.socket_dir().display().to_string());
    let url = |role: &str, database: &str| {
        format!("postgresql://{role}:{}@{socket}:{}/{database}", password(role), cluster.port())
    };
    let key_file = dir.join("audit.key");
    let migrated = std::process::Command::new(bin)
        .args(["migrate", "--database-url", &url("registry_owner", "registry"), "--audit-key-file"])
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(String::from_utf8_lossy(&migrated.stdout).contains("registry_app granted"));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let key = AuditKey::load_or_create(&key_file, false).unwrap();
        let config = StoreConfig::new(url("registry_app", "registry"))
            .with_audit_key(key)
            .with_target("default", url("registry_target", "app"));
        let store = Store::open(config).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(store.warnings().is_empty(), "{:?}", store.warnings());
        let request =
            schema_model::request::SchemaRequest::from_json(&fixture("01_caricatures.json").to_string()).unwrap();
        let created = store.create_request(&request, "alice").await.unwrap();
        let id = created.request.id;
        store.change_status(&id, schema_model::status::RequestStatus::Approved, "bob", None, None).await.unwrap();
        store.apply(&id, "default", "olaf").await.unwrap_or_else(|e| panic!("apply: {e}"));
        assert!(store.verify_audit().await.unwrap().intact);
    });
    let owner = cluster.psql("app", "SELECT tableowner FROM pg_tables WHERE tablename = 'caricatures'").unwrap();
    assert_eq!(owner.trim(), "registry_target");
    cleanup(&dir);
}
