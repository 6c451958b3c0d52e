//! Issue 7 on the real binary: the audit chain verified by the command line and the API,
//! what was approved is what runs, names are checked schema-wide, rehearsal refuses what
//! PostgreSQL would, rollbacks never lose data in one call, HTTP hygiene, and the database
//! coming back after its postmaster is killed.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod support;

use serde_json::json;
use support::{Actors, Server, actors, cleanup, fixture, submit_and_approve};

#[test]
fn the_audit_chain_is_verified_by_the_command_line_and_the_api() {
    let server = Server::start(None, "");
    let requester = server.token("omega-bot", "requester");
    let reviewer = server.token("rita", "reviewer");
    let (status, answer) =
        server.call("POST", "/api/schema-requests", Some(&requester), Some(&fixture("01_caricatures.json")));
    assert_eq!(status, 201, "{answer}");
    let id = answer["registryId"].as_str().unwrap().to_owned();
    let (status, body) = server.call(
        "PATCH",
        &format!("/api/schema-requests/{id}"),
        Some(&reviewer),
        Some(&json!({"status": "approved"})),
    );
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");

    let (status, report) = server.call("GET", "/api/audit/verify", Some(&server.admin), None);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["entries"], 2);
    let (status, body) = server.call("GET", "/api/audit/verify", Some(&reviewer), None);
    assert_eq!(status, 403, "only admins verify: {body}");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");

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
            .with_target("default", url("registry_target", "app"))
            .with_rehearsal_url(url("registry_rehearsal", "registry_rehearsal"));
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

/// A small clean request for `table` (with extra columns, indexes and enums merged in).
#[allow(clippy::needless_pass_by_value, reason = "callers build the value inline")]
fn request_for(table: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut schema = json!({
        "tableName": table,
        "columns": [
            {"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"},
            {"name": "created_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"},
            {"name": "updated_at", "type": "timestamptz", "nullable": false, "defaultValue": "now()"}
        ]
    });
    if let Some(columns) = extra.get("columns").and_then(|c| c.as_array()) {
        schema["columns"].as_array_mut().unwrap().extend(columns.iter().cloned());
    }
    for key in ["indexes", "enums", "schema", "uniques", "checks"] {
        if let Some(value) = extra.get(key) {
            schema[key] = value.clone();
        }
    }
    json!({
        "tableName": table,
        "owner": "trust-tests",
        "schemaJson": schema,
        "requestMetadata": {"requestedBy": "omega", "justification": "trust tests", "relatedIssue": "7", "requestedAt": 1_701_792_000}
    })
}

/// Submits, approves and applies; returns the request id.
fn migrate(server: &Server, who: &Actors, request: &serde_json::Value) -> String {
    let (id, _) = submit_and_approve(server, who, request);
    let (status, outcome) =
        server.call("POST", &format!("/api/schema-requests/{id}/apply"), Some(&who.operator), Some(&json!({})));
    assert_eq!(status, 200, "{outcome}");
    id
}

fn rules_of(answer: &serde_json::Value) -> Vec<String> {
    answer["error"]["details"]["violations"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter(|v| v["severity"] == "error")
                .map(|v| v["rule"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn total_requests(server: &Server, who: &Actors) -> i64 {
    server.call("GET", "/api/schema-requests", Some(&who.requester), None).1["total"].as_i64().unwrap()
}

#[test]
fn sql_edited_after_approval_is_refused_as_integrity_and_nothing_runs() {
    let server = Server::start(None, "");
    let who = actors(&server);
    server.target_sql("CREATE TABLE public.other (x integer); INSERT INTO public.other VALUES (1)");
    let (id, _) = submit_and_approve(&server, &who, &request_for("ledgers", json!({})));
    // The superuser appends a statement to the approved SQL.
    server.sql(
        "registry",
        &format!(
            "UPDATE registry.migrations SET up_sql = replace(up_sql, 'COMMIT;', 'DROP TABLE public.other;\nCOMMIT;')
             WHERE request_id = '{id}'"
        ),
    );
    let (status, body) =
        server.call("POST", &format!("/api/schema-requests/{id}/apply"), Some(&who.operator), Some(&json!({})));
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("integrity")), "{body}");
    assert_eq!(server.target_sql("SELECT count(*) FROM public.other"), "1", "nothing ran");
    assert_eq!(server.target_sql("SELECT to_regclass('public.ledgers') IS NULL"), "t");

    // Fixing the checksum too does not help: the approval recorded the original one.
    server.sql(
        "registry",
        &format!(
            "UPDATE registry.migrations SET checksum = encode(sha256(convert_to(up_sql || down_sql, 'UTF8')), 'hex')
             WHERE request_id = '{id}'"
        ),
    );
    let (status, body) =
        server.call("POST", &format!("/api/schema-requests/{id}/apply"), Some(&who.operator), Some(&json!({})));
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("not what the reviewer approved"), "{body}");
    // Nor does rewriting the approval's checksum: its entry no longer fits the chain.
    server.sql(
        "registry",
        &format!(
            "ALTER TABLE registry.audit_log DISABLE TRIGGER USER;
             UPDATE registry.audit_log SET checksum = (SELECT checksum FROM registry.migrations WHERE request_id = '{id}')
             WHERE request_id = '{id}' AND to_status = 'approved';
             ALTER TABLE registry.audit_log ENABLE TRIGGER USER"
        ),
    );
    let (status, body) =
        server.call("POST", &format!("/api/schema-requests/{id}/apply"), Some(&who.operator), Some(&json!({})));
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("altered"), "{body}");
    assert_eq!(server.target_sql("SELECT count(*) FROM public.other"), "1", "still nothing ran");
    let (_, audit) = server.call("GET", &format!("/api/schema-requests/{id}/audit"), Some(&who.requester), None);
    let refusals = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"] == "apply" && e["success"] == false && e["error"].as_str().unwrap().starts_with("integrity")
        })
        .count();
    assert_eq!(refusals, 3, "{audit}");
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn names_are_checked_across_the_schema_at_submit_and_again_at_apply() {
    let server = Server::start(None, "");
    let who = actors(&server);
    let email = json!({"name": "email", "type": "text", "nullable": false});
    let kinds = json!([{"name": "kinds", "values": ["bug", "feature"]}]);
    let kind = json!({"name": "kind", "type": "kinds", "nullable": false, "defaultValue": "'bug'"});
    let first = migrate(
        &server,
        &who,
        &request_for(
            "accounts",
            json!({"columns": [email, kind], "indexes": [{"name": "idx_email_unique", "columns": ["email"], "unique": true}], "enums": kinds}),
        ),
    );

    // The same index name on another table: refused at submit, naming the other table.
    let (status, answer) = server.call(
        "POST",
        "/api/schema-requests",
        Some(&who.requester),
        Some(&request_for("contacts", json!({"columns": [email], "indexes": [{"name": "idx_email_unique", "columns": ["email"], "unique": true}]}))),
    );
    assert_eq!(status, 422, "{answer}");
    assert_eq!(rules_of(&answer), ["naming.name-taken"], "{answer}");
    assert!(answer.to_string().contains("on table \\\"accounts\\\""), "{answer}");

    // The same enum with other labels: refused; with the same labels: shared.
    let other_kinds = json!([{"name": "kinds", "values": ["bug", "chore"]}]);
    let (status, answer) = server.call(
        "POST",
        "/api/schema-requests",
        Some(&who.requester),
        Some(&request_for("tickets", json!({"columns": [kind], "enums": other_kinds}))),
    );
    assert_eq!(status, 422, "{answer}");
    assert_eq!(rules_of(&answer), ["enums.conflicting-definition"], "{answer}");
    let shared = migrate(&server, &who, &request_for("tasks", json!({"columns": [kind], "enums": kinds})));
    let (status, rolled) =
        server.call("POST", &format!("/api/schema-requests/{shared}/rollback"), Some(&who.operator), Some(&json!({})));
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(server.target_sql("SELECT count(*) FROM pg_type WHERE typname = 'kinds'"), "1", "the shared type stays");

    // An index made on the target outside the registry: refused at submit...
    server.target_sql(
        "CREATE TABLE public.hand_made (e text); CREATE INDEX idx_orders_reference ON public.hand_made (e)",
    );
    let reference = json!({"name": "reference", "type": "text"});
    let (status, answer) = server.call(
        "POST",
        "/api/schema-requests",
        Some(&who.requester),
        Some(&request_for(
            "orders",
            json!({"columns": [reference], "indexes": [{"name": "idx_orders_reference", "columns": ["reference"]}]}),
        )),
    );
    assert_eq!(status, 422, "{answer}");
    assert!(answer.to_string().contains("hand_made"), "{answer}");
    // ...and, when it appears after the approval, at apply: nothing is created, and the
    // hand-made index survives every rollback.
    let (late, _) = submit_and_approve(
        &server,
        &who,
        &request_for(
            "invoices",
            json!({"columns": [reference], "indexes": [{"name": "idx_invoices_reference", "columns": ["reference"]}]}),
        ),
    );
    server.target_sql("CREATE INDEX idx_invoices_reference ON public.hand_made (e)");
    let (status, body) =
        server.call("POST", &format!("/api/schema-requests/{late}/apply"), Some(&who.operator), Some(&json!({})));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("migration_failed")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("idx_invoices_reference"), "{body}");
    assert_eq!(server.target_sql("SELECT to_regclass('public.invoices') IS NULL"), "t");
    let (status, body) =
        server.call("POST", &format!("/api/schema-requests/{first}/rollback"), Some(&who.operator), Some(&json!({})));
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["ranSql"].as_bool(), body["status"].as_str()), (Some(true), Some("approved")), "{body}");
    assert_eq!(
        server.target_sql(
            "SELECT count(*) FROM pg_indexes WHERE indexname IN ('idx_orders_reference', 'idx_invoices_reference')"
        ),
        "2",
        "indexes the registry did not create are never dropped"
    );
    assert_eq!(
        server.target_sql("SELECT count(*) FROM pg_type WHERE typname = 'kinds'"),
        "0",
        "the last user dropped it"
    );
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn what_postgresql_would_refuse_is_refused_at_submit_with_nothing_stored() {
    let server = Server::start(None, "");
    let who = actors(&server);
    let column = |name: &str, ty: &str, default: &str| json!({"name": name, "type": ty, "defaultValue": default});
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("integer default 'abc'", json!({"columns": [column("n", "integer", "'abc'")]}), "column.default-fits-type"),
        ("default 1_000", json!({"columns": [column("n", "integer", "1_000")]}), "safety.unsafe-default"),
        (
            "varchar(2) default 'abcdef'",
            json!({"columns": [column("c", "varchar(2)", "'abcdef'")]}),
            "column.default-fits-type",
        ),
        ("float8 default 1e400", json!({"columns": [column("f", "float8", "1e400")]}), "column.default-fits-type"),
        (
            "lower() on an integer",
            json!({"columns": [{"name": "n", "type": "integer", "check": "lower(n) <> ''"}]}),
            "postgres.refused",
        ),
        ("unique on json", json!({"columns": [{"name": "doc", "type": "json", "unique": true}]}), "postgres.refused"),
        (
            "a date default that is no date",
            json!({"columns": [column("d", "date", "'2023-13-45'")]}),
            "postgres.refused",
        ),
        ("a schema that does not exist", json!({"schema": "nowhere"}), "table.missing-schema"),
        ("pg_catalog", json!({"schema": "pg_catalog"}), "table.reserved-schema"),
        ("information_schema", json!({"schema": "information_schema"}), "table.reserved-schema"),
        ("pg_temp", json!({"schema": "pg_temp"}), "table.reserved-schema"),
        ("the registry's own schema", json!({"schema": "registry"}), "table.reserved-schema"),
    ];
    for (what, extra, rule) in cases {
        let (status, answer) =
            server.call("POST", "/api/schema-requests", Some(&who.requester), Some(&request_for("cases", extra)));
        assert_eq!(status, 422, "{what}: {answer}");
        assert!(rules_of(&answer).iter().any(|r| r == rule), "{what}: expected {rule} in {answer}");
        if rule == "postgres.refused" {
            assert!(answer.to_string().contains("SQLSTATE"), "{what}: PostgreSQL's own words: {answer}");
        }
    }
    let columns: Vec<serde_json::Value> = (0..1601).map(|i| json!({"name": format!("c{i}"), "type": "int"})).collect();
    let (status, answer) = server.call(
        "POST",
        "/api/schema-requests",
        Some(&who.requester),
        Some(&request_for("wide", json!({"columns": columns}))),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("1600"), "{answer}");
    assert_eq!(total_requests(&server, &who), 0, "nothing was stored");

    // character(3) with a bpchar default: accepted, and rows really get 'abc'.
    migrate(
        &server,
        &who,
        &request_for("grades", json!({"columns": [column("grade", "character(3)", "'abc'::bpchar")]})),
    );
    server.target_sql("INSERT INTO public.grades DEFAULT VALUES");
    assert_eq!(server.target_sql("SELECT grade FROM public.grades"), "abc");
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn a_rehearsal_held_up_by_someone_elses_lock_is_retried_not_judged() {
    let server = Server::start(None, "");
    let who = actors(&server);
    std::thread::scope(|scope| {
        // Another transaction in the scratch database creates the same table name and holds
        // it longer than the rehearsal's lock timeout (5 s), as a stuck rehearsal would.
        let holder = scope.spawn(|| {
            server.sql("rehearsal", "BEGIN; CREATE TABLE public.held (id int); SELECT pg_sleep(7); ROLLBACK;")
        });
        let started = std::time::Instant::now();
        while server.sql("rehearsal", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(7)%' AND state = 'active' AND pid <> pg_backend_pid()") != "1" {
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "the holder never started");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let (status, answer) =
            server.call("POST", "/api/schema-requests", Some(&who.requester), Some(&request_for("held", json!({}))));
        assert_eq!(status, 503, "a lock wait is not the request's fault: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("submit again"), "{answer}");
        assert_eq!(total_requests(&server, &who), 0, "nothing was stored");
        holder.join().unwrap();
    });
    let (status, answer) =
        server.call("POST", "/api/schema-requests", Some(&who.requester), Some(&request_for("held", json!({}))));
    assert_eq!(status, 201, "once the lock is gone the same submission goes through: {answer}");
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn a_rollback_that_would_lose_rows_needs_a_confirmation_and_a_second_principal() {
    let server = Server::start(None, "");
    let who = actors(&server);
    let id = migrate(&server, &who, &request_for("events", json!({})));
    server.target_sql("INSERT INTO public.events SELECT FROM generate_series(1, 1000)");
    let rollback = format!("/api/schema-requests/{id}/rollback");
    let (status, body) = server.call("POST", &rollback, Some(&who.operator), Some(&json!({})));
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("data_loss")), "{body}");
    assert_eq!(body["error"]["details"]["dataAtRisk"]["rows"]["public.events"], 1000, "{body}");
    assert_eq!(server.target_sql("SELECT count(*) FROM public.events"), "1000", "the rows are still there");

    let (status, body) = server.call("POST", &rollback, Some(&who.operator), Some(&json!({"confirmDataLoss": true})));
    assert_eq!((status, body["status"].as_str()), (202, Some("awaiting_approval")), "{body}");
    assert_eq!(server.target_sql("SELECT count(*) FROM public.events"), "1000");
    let approve = format!("/api/schema-requests/{id}/rollback/approve");
    let (status, body) = server.call("POST", &approve, Some(&who.operator), Some(&json!({})));
    assert_eq!(status, 403, "the confirming operator cannot approve: {body}");
    let (status, body) = server.call("POST", &approve, Some(&who.requester), Some(&json!({})));
    assert_eq!(status, 403, "a requester cannot approve: {body}");
    let (status, body) = server.call("POST", &approve, Some(&who.reviewer), Some(&json!({})));
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    assert_eq!(server.target_sql("SELECT to_regclass('public.events') IS NULL"), "t");
    let (_, audit) = server.call("GET", &format!("/api/schema-requests/{id}/audit"), Some(&who.requester), None);
    let entry =
        audit["audit"].as_array().unwrap().iter().rfind(|e| e["action"] == "rollback" && e["success"] == true).unwrap();
    assert_eq!(entry["details"]["rowsDropped"]["rows"]["public.events"], 1000, "{entry}");
    assert_eq!(entry["details"]["confirmedBy"], "olaf");
    assert_eq!(entry["details"]["approvedBy"], "rita");
    assert_eq!(entry["performedBy"], "rita");
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn a_table_that_does_not_come_out_as_requested_is_never_committed() {
    let server = Server::start(None, "");
    let who = actors(&server);
    // Something on the target changes every new table behind the registry's back.
    server.target_sql(
        "CREATE FUNCTION public.add_surprise() RETURNS event_trigger LANGUAGE plpgsql AS $$
         DECLARE object record;
         BEGIN
             FOR object IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' LOOP
                 EXECUTE format('ALTER TABLE %s ADD COLUMN surprise integer', object.object_identity);
             END LOOP;
         END $$;
         CREATE EVENT TRIGGER surprise ON ddl_command_end EXECUTE FUNCTION public.add_surprise()",
    );
    let (id, _) = submit_and_approve(&server, &who, &request_for("widgets", json!({})));
    let (status, body) =
        server.call("POST", &format!("/api/schema-requests/{id}/apply"), Some(&who.operator), Some(&json!({})));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("verification_failed")), "{body}");
    let differences = body["error"]["details"]["differences"].to_string();
    assert!(differences.contains("surprise"), "{body}");
    assert_eq!(server.target_sql("SELECT to_regclass('public.widgets') IS NULL"), "t", "rolled back before COMMIT");
    assert_eq!(
        server.target_sql("SELECT to_regclass('schema_registry.applied_migrations') IS NULL"),
        "t",
        "no history either: it was made in the same transaction"
    );
    let (_, request) = server.call("GET", &format!("/api/schema-requests/{id}"), Some(&who.requester), None);
    assert_eq!(request["status"], "approved");
    server.target_sql("DROP EVENT TRIGGER surprise");
    let (status, body) =
        server.call("POST", &format!("/api/schema-requests/{id}/apply"), Some(&who.operator), Some(&json!({})));
    assert_eq!(status, 200, "a retry once the target behaves: {body}");
    let dir = server.stop();
    cleanup(&dir);
}
