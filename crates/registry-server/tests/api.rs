//! The real binary, started on its embedded PostgreSQL, driven over HTTP: seed 001's
//! workflow with both example requests, every status code, roles, racing approvals,
//! restarts and SIGTERM under load.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, cleanup, fixture, free_port};

#[test]
fn seed_001_workflow_from_submission_to_table() {
    let server = Server::start(None, "");
    let requester = server.token("omega-bot", "requester");
    let reviewer = server.token("rita", "reviewer");
    let operator = server.token("olaf", "operator");

    let mut ids = Vec::new();
    for name in ["01_caricatures.json", "02_generated_images.json"] {
        let (status, answer) = server.call("POST", "/api/schema-requests", Some(&requester), Some(&fixture(name)));
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["success"], true);
        assert!(answer["migrationPreview"]["upSql"].as_str().unwrap().contains("CREATE TABLE IF NOT EXISTS"));
        ids.push(answer["registryId"].as_str().unwrap().to_owned());
    }
    let (status, list) = server.call("GET", "/api/schema-requests?status=requested&limit=10", Some(&requester), None);
    assert_eq!(status, 200);
    assert_eq!(list["total"], 2);
    assert_eq!(list["requests"][0]["tableName"], "generated_images");
    for key in ["id", "tableName", "status", "createdAt"] {
        assert!(list["requests"][0].get(key).is_some(), "{key} in {list}");
    }
    for (id, table) in ids.iter().zip(["caricatures", "generated_images"]) {
        let (status, request) = server.call("GET", &format!("/api/schema-requests/{id}"), Some(&requester), None);
        assert_eq!((status, request["tableName"].as_str()), (200, Some(table)));
        let (status, migration) =
            server.call("GET", &format!("/api/schema-requests/{id}/migration"), Some(&requester), None);
        assert_eq!(status, 200);
        assert!(migration["fileName"].as_str().unwrap().ends_with(&format!("create_{table}")));
        let (status, approved) = server.call(
            "PATCH",
            &format!("/api/schema-requests/{id}"),
            Some(&reviewer),
            Some(&json!({"status": "approved", "performedBy": "rita"})),
        );
        assert_eq!((status, approved["status"].as_str()), (200, Some("approved")), "{approved}");
        let (status, outcome) = server.call(
            "POST",
            &format!("/api/schema-requests/{id}/apply"),
            Some(&operator),
            Some(&json!({"target": "default"})),
        );
        assert_eq!(status, 200, "{outcome}");
        assert_eq!(outcome["ranSql"], true);
        assert_eq!(server.target_sql(&format!("SELECT count(*) FROM pg_tables WHERE tablename = '{table}'")), "1");
        let (status, audit) = server.call("GET", &format!("/api/schema-requests/{id}/audit"), Some(&requester), None);
        assert_eq!(status, 200);
        let steps: Vec<(String, String)> = audit["audit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap().to_owned(), e["performedBy"].as_str().unwrap().to_owned()))
            .collect();
        let expected = [("create", "omega-bot"), ("status", "rita"), ("apply", "olaf")];
        assert_eq!(steps, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    }
    let (status, tables) = server.call("GET", "/api/tables", Some(&requester), None);
    assert_eq!((status, tables["tables"].as_array().unwrap().len()), (200, 2));
    let (status, table) = server.call("GET", "/api/tables/caricatures", Some(&requester), None);
    assert_eq!((status, table["currentVersion"].as_i64()), (200, Some(1)), "{table}");
    let (status, history) = server.call("GET", "/api/tables/caricatures/audit", Some(&requester), None);
    assert_eq!((status, history["audit"].as_array().map(Vec::len)), (200, Some(3)), "{history}");
    let (status, databases) = server.call("GET", "/api/databases", Some(&requester), None);
    assert_eq!((status, databases["databases"][0]["name"].as_str()), (200, Some("default")));
    let data_dir = server.stop();
    cleanup(&data_dir);
}

/// An error answer: the status, the stable code, and a message that says what (`mentions`).
fn assert_error(status: u16, body: &serde_json::Value, want_status: u16, code: &str, mentions: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(mentions), "the message should mention {mentions:?}: {body}");
}

#[test]
fn every_status_code_and_role_check() {
    let server = Server::start(None, "body_limit_bytes = 65536\nrate_limit_per_second = 2.0\n");
    let requester = server.token("req", "requester");
    let reviewer = server.token("rev", "reviewer");
    let caricatures = fixture("01_caricatures.json");

    // 400: malformed JSON with line and column, and a wrong shape with its path.
    let (status, body) =
        server.raw("POST", "/api/schema-requests", Some(&requester), Some("{\n  \"tableName\": \"x\",\n  oops\n}"));
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("malformed_json")), "{body}");
    assert_eq!(
        (body["error"]["details"]["line"].as_u64(), body["error"]["details"]["column"].as_u64()),
        (Some(3), Some(3))
    );
    let mut wrong = caricatures.clone();
    wrong["schemaJson"]["columns"][2]["type"] = json!("textt");
    let (status, body) = server.call("POST", "/api/schema-requests", Some(&requester), Some(&wrong));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["details"]["path"], "schemaJson.columns[2].type");
    // 401: no token, an unknown token.
    let (status, body) = server.call("GET", "/api/schema-requests", None, None);
    assert_error(status, &body, 401, "unauthorized", "bearer token");
    let (status, body) = server.call("GET", "/api/schema-requests", Some("sr_nope"), None);
    assert_error(status, &body, 401, "unauthorized", "bearer token");
    // 422: policy errors; nothing stored.
    let (status, body) =
        server.call("POST", "/api/schema-requests", Some(&requester), Some(&fixture("91_bad_legacy_event_log.json")));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("policy_violation")), "{body}");
    let violations = body["error"]["details"]["violations"].as_array().unwrap();
    assert!(
        violations.iter().any(|v| v["severity"] == "error" && v["rule"].is_string() && v["path"].is_string()),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["success"], false, "{body}");
    assert_eq!(server.call("GET", "/api/schema-requests", Some(&requester), None).1["total"], 0);
    // 413: a body over the configured limit.
    let huge = format!("{{\"tableName\": \"{}\"}}", "x".repeat(70_000));
    let (status, body) = server.raw("POST", "/api/validate", Some(&requester), Some(&huge));
    assert_error(status, &body, 413, "payload_too_large", "65536");

    let (_, created) = server.call("POST", "/api/schema-requests", Some(&requester), Some(&caricatures));
    let id = created["registryId"].as_str().unwrap().to_owned();
    let path = format!("/api/schema-requests/{id}");
    // 403: a requester approving, a performedBy that is not the caller, a requester applying.
    let (status, body) = server.call("PATCH", &path, Some(&requester), Some(&json!({"status": "approved"})));
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    let (status, body) =
        server.call("PATCH", &path, Some(&reviewer), Some(&json!({"status": "approved", "performedBy": "admin"})));
    assert_error(status, &body, 403, "forbidden", "performedBy");
    let (status, body) = server.call("POST", &format!("{path}/apply"), Some(&requester), Some(&json!({})));
    assert_error(status, &body, 403, "forbidden", "apply");
    // 403: nobody approves their own request.
    let (_, own) =
        server.call("POST", "/api/schema-requests", Some(&reviewer), Some(&fixture("02_generated_images.json")));
    let own_path = format!("/api/schema-requests/{}", own["registryId"].as_str().unwrap());
    let (status, body) = server.call("PATCH", &own_path, Some(&reviewer), Some(&json!({"status": "approved"})));
    assert_error(status, &body, 403, "forbidden", "cannot review");
    // 200 then 409: approving twice.
    let (status, body) = server.call("PATCH", &path, Some(&reviewer), Some(&json!({"status": "approved"})));
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["status"].as_str(), body["id"].as_str()), (Some("approved"), Some(id.as_str())), "{body}");
    assert_eq!(body["version"], 2, "{body}");
    let (status, body) = server.call("PATCH", &path, Some(&reviewer), Some(&json!({"status": "approved"})));
    assert_error(status, &body, 409, "conflict", "already approved");
    // 404: an unknown request, an unknown endpoint; 400: a malformed id; 405.
    let (status, body) =
        server.call("GET", "/api/schema-requests/00000000-0000-0000-0000-000000000000", Some(&requester), None);
    assert_error(status, &body, 404, "not_found", "00000000-0000-0000-0000-000000000000");
    let (status, body) = server.call("GET", "/api/nothing-here", Some(&requester), None);
    assert_error(status, &body, 404, "not_found", "/api/nothing-here");
    let (status, body) = server.call("GET", "/api/schema-requests/not-an-id", Some(&requester), None);
    assert_error(status, &body, 400, "bad_request", "not-an-id");
    let (status, body) = server.call("DELETE", "/api/schema-requests", Some(&requester), None);
    assert_error(status, &body, 405, "method_not_allowed", "DELETE");
    // The page size is capped, and a bad status is a 400.
    let (status, page) = server.call("GET", "/api/schema-requests?limit=100000", Some(&requester), None);
    assert_eq!((status, page["limit"].as_i64()), (200, Some(200)));
    let (status, body) = server.call("GET", "/api/schema-requests?status=done", Some(&requester), None);
    assert_error(status, &body, 400, "bad_request", "done");
    // Public endpoints.
    let (status, openapi) = server.call("GET", "/api/openapi.json", None, None);
    assert_eq!((status, openapi["openapi"].as_str()), (200, Some("3.0.3")));
    for route in registry_server::server::openapi::ROUTES {
        assert!(openapi["paths"][route.path][route.method].is_object(), "{} {}", route.method, route.path);
    }
    let (status, rules) = server.call("GET", "/api/rules", None, None);
    assert_eq!((status, rules["rules"].as_array().unwrap().len()), (200, policy::registry::all().len()));
    let (status, metrics) = server.call("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    assert!(metrics.as_str().unwrap().contains(
        "registry_http_requests_total{method=\"PATCH\",route=\"/api/schema-requests/{id}\",status=\"409\"} 1"
    ));
    // 429 with Retry-After once the burst (20 at 2/s) is spent.
    let limited = (0..40)
        .map(|_| server.call("GET", "/api/databases", Some(&requester), None))
        .find(|(status, _)| *status == 429)
        .expect("rate limited within 40 calls");
    assert!(limited.1["retryAfterHeader"].as_str().is_some_and(|s| s.parse::<u64>().is_ok()), "{}", limited.1);
    // 503 while the database is gone (until the server has restarted it).
    let pid_file = std::fs::read_to_string(server.data_dir.join("postgres/postmaster.pid")).unwrap();
    let postmaster = pid_file.lines().next().unwrap().trim().to_owned();
    Command::new("kill").args(["-KILL", &postmaster]).status().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let unavailable = loop {
        let (status, body) = server.call("GET", "/health", None, None);
        if status == 503 {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "no 503 while the database was down");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(unavailable["error"]["code"], "unavailable", "{unavailable}");
    let data_dir = server.data_dir.clone();
    drop(server);
    cleanup(&data_dir);
}

#[test]
fn racing_approvals_get_one_200_and_409s() {
    let server = Server::start(None, "");
    let requester = server.token("req", "requester");
    let reviewers: Vec<String> = (0..8).map(|n| server.token(&format!("rev{n}"), "reviewer")).collect();
    let (_, created) =
        server.call("POST", "/api/schema-requests", Some(&requester), Some(&fixture("01_caricatures.json")));
    let path = format!("/api/schema-requests/{}", created["registryId"].as_str().unwrap());
    let barrier = std::sync::Barrier::new(reviewers.len());
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = reviewers
            .iter()
            .map(|token| {
                let (server, path, barrier) = (&server, &path, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let (status, body) = server.call("PATCH", path, Some(token), Some(&json!({"status": "approved"})));
                    match status {
                        200 => assert_eq!(body["status"], "approved", "{body}"),
                        _ => assert_eq!(body["error"]["code"], "conflict", "{body}"),
                    }
                    status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), reviewers.len() - 1, "{statuses:?}");
    let data_dir = server.stop();
    cleanup(&data_dir);
}

#[test]
fn a_restart_keeps_all_data_and_sigterm_under_load_loses_no_acknowledged_request() {
    let server = Server::start(None, "rate_limit_per_second = 0\n");
    let requester = server.token("loader", "requester");
    let admin = server.admin.clone();
    let acknowledged = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let (server, requester, acknowledged) = (&server, &requester, &acknowledged);
            scope.spawn(move || {
                let body = fixture("02_generated_images.json").to_string();
                for _ in 0..200 {
                    let agent = ureq::Agent::new_with_config(
                        ureq::Agent::config_builder()
                            .http_status_as_error(false)
                            .timeout_global(Some(Duration::from_secs(10)))
                            .build(),
                    );
                    let result = agent
                        .post(&format!("{}/api/schema-requests", server.url))
                        .header("Authorization", &format!("Bearer {requester}"))
                        .send(body.as_str());
                    let Ok(mut response) = result else { break };
                    if response.status().as_u16() != 201 {
                        break;
                    }
                    let answer: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default())
                        .unwrap_or_default();
                    if let Some(id) = answer["registryId"].as_str() {
                        acknowledged.lock().unwrap().push(id.to_owned());
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(700));
        server.signal("TERM");
    });
    let data_dir = server.stop();
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(!acknowledged.is_empty(), "some requests were acknowledged before SIGTERM");

    let restarted = Server::start(Some(data_dir.clone()), "rate_limit_per_second = 0\n");
    assert_eq!(restarted.admin, admin, "the admin token survives; no second one is made");
    for id in &acknowledged {
        let (status, body) = restarted.call("GET", &format!("/api/schema-requests/{id}"), Some(&requester), None);
        assert_eq!(status, 200, "acknowledged request {id} survives the restart: {body}");
        assert_eq!((body["id"].as_str(), body["status"].as_str()), (Some(id.as_str()), Some("requested")), "{body}");
    }
    let (_, page) = restarted.call("GET", "/api/schema-requests?limit=1", Some(&requester), None);
    assert_eq!(page["total"].as_u64(), Some(u64::try_from(acknowledged.len()).unwrap()));
    drop(restarted);
    cleanup(&data_dir);
}

#[test]
fn the_command_line_client_drives_the_workflow() {
    let server = Server::start(None, "");
    let requester = server.token("cli-requester", "requester");
    let reviewer = server.token("cli-reviewer", "reviewer");
    let operator = server.token("cli-operator", "operator");
    let cli = |token: &str, args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_registry-server"))
            .args(args)
            .env("REGISTRY_SERVER", &server.url)
            .env("REGISTRY_TOKEN", token)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) =
        cli(&requester, &["request", "submit", "fixtures/requests/01_caricatures.json", "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let id = serde_json::from_str::<Value>(&stdout).unwrap()["registryId"].as_str().unwrap().to_owned();
    let (code, stdout, _) = cli(&requester, &["request", "list"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains(&id) && stdout.contains("caricatures") && stdout.contains("1 of 1"), "{stdout}");
    let (code, stdout, _) = cli(&requester, &["request", "show", &id]);
    assert!(code == Some(0) && stdout.contains("status    requested"), "{stdout}");
    let (code, _, stderr) = cli(&requester, &["request", "approve", &id]);
    assert_eq!(code, Some(1), "a requester cannot approve");
    assert!(stderr.contains("403 forbidden"), "{stderr}");
    let (code, stdout, _) = cli(&reviewer, &["request", "approve", &id, "--note", "fine"]);
    assert!(code == Some(0) && stdout.contains("is now approved"), "{stdout}");
    let (code, stdout, _) = cli(&operator, &["request", "apply", &id, "--target", "default"]);
    assert!(code == Some(0) && stdout.contains("ran the SQL"), "{stdout}");
    let (code, stdout, _) = cli(&requester, &["request", "audit", &id]);
    assert_eq!(code, Some(0));
    for who in ["cli-requester", "cli-reviewer", "cli-operator"] {
        assert!(stdout.contains(who), "{who} in {stdout}");
    }
    let (code, _, stderr) = cli(&requester, &["request", "submit", "fixtures/requests/91_bad_legacy_event_log.json"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("422 policy_violation") && stderr.contains("table.require-primary-key"), "{stderr}");
    let (code, stdout, _) = cli(&server.admin, &["token", "list"]);
    assert!(code == Some(0) && stdout.contains("cli-operator"), "{stdout}");
    let (code, _, _) = cli(&server.admin, &["token", "revoke", "cli-operator"]);
    assert_eq!(code, Some(0));
    let (code, _, stderr) = cli(&operator, &["request", "list"]);
    assert_eq!(code, Some(1), "a revoked token no longer works: {stderr}");
    let unreachable = Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .args(["request", "list", "--server", &format!("http://127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(2));
    let data_dir = server.stop();
    cleanup(&data_dir);
}

#[test]
fn the_admin_token_file_is_private_even_if_it_existed() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("schema-registry-api-test-{}-perm", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("admin.token");
    std::fs::write(&file, "stale\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Server::start(Some(dir.clone()), "");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(server.admin.starts_with("sr_"), "a fresh token replaced the stale file");
    let (status, tokens) = server.call("GET", "/api/tokens", Some(&server.admin), None);
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.to_string().contains("\"admin\""), "the fresh admin token is listed: {tokens}");
    let data_dir = server.stop();
    cleanup(&data_dir);
}

#[test]
fn bots_lint_a_migration_folder_through_the_api() {
    let server = Server::start(None, "");
    let token = server.token("lint-bot", "requester");
    let files = json!({"files": [
        {"path": "2024-01-01-000000_users/up.sql", "sql": "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n"},
        {"path": "2024-02-01-000000_index/up.sql", "sql": "CREATE INDEX CONCURRENTLY idx_users_email ON users (email);\n"},
    ]});
    let (status, report) = server.call("POST", "/api/lint", Some(&token), Some(&files));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["files"], 2);
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "statement.concurrently-in-transaction")
        .unwrap_or_else(|| panic!("diesel runs each file in a transaction: {report}"));
    assert_eq!(
        (finding["path"].as_str(), finding["line"].as_u64(), finding["severity"].as_str()),
        (Some("2024-02-01-000000_index/up.sql"), Some(1), Some("error"))
    );

    for (body, code) in [
        (json!({"files": []}), "bad_request"),
        (json!({"files": [{"path": "a.sql"}]}), "invalid_request"),
        (json!({"files": [{"path": "a.sql", "sql": "SELECT 1", "extra": 1}]}), "invalid_request"),
    ] {
        let (status, answer) = server.call("POST", "/api/lint", Some(&token), Some(&body));
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    let (status, _) = server.call("POST", "/api/lint", None, Some(&files));
    assert_eq!(status, 401);
    let dir = server.stop();
    cleanup(&dir);
}
