//! Apply and rollback through the real binary under faults: a target that never answers,
//! SIGTERM in the middle of an apply, and `kill -9` of the server at every step boundary of
//! an apply and a rollback (the debug build's `SCHEMA_REGISTRY_CRASH_AT` hook picks it).

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Actors, Server, actors, cleanup, fixture};

/// Seed 001's request under table and index names of its own.
fn request_named(table: &str) -> Value {
    let mut request = fixture("01_caricatures.json");
    request["tableName"] = json!(table);
    request["schemaJson"]["tableName"] = json!(table);
    if let Some(indexes) = request["schemaJson"]["indexes"].as_array_mut() {
        for (i, index) in indexes.iter_mut().enumerate() {
            index["name"] = json!(format!("idx_{table}_{i}"));
        }
    }
    request
}

/// Submits and approves; the request's id.
fn approved(server: &Server, who: &Actors, table: &str) -> String {
    support::submit_and_approve(server, who, &request_named(table)).0
}

fn status_of(server: &Server, who: &Actors, id: &str) -> String {
    let (status, body) = server.call("GET", &format!("/api/schema-requests/{id}"), Some(&who.requester), None);
    assert_eq!(status, 200, "{body}");
    body["status"].as_str().unwrap().to_owned()
}

/// The request's audit entries for `action` that succeeded and say what SQL ran.
fn entries_that_ran(server: &Server, who: &Actors, id: &str, action: &str) -> usize {
    let (status, body) = server.call("GET", &format!("/api/schema-requests/{id}/audit"), Some(&who.requester), None);
    assert_eq!(status, 200, "{body}");
    let entries = body["audit"].as_array().cloned().unwrap_or_default();
    entries.iter().filter(|e| e["action"] == action && e["success"] == true && e["sqlExecuted"].is_string()).count()
}

#[test]
fn a_target_that_never_answers_fails_every_apply_and_health_stays_up() {
    // Accepts TCP connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().map_while(Result::ok) {
            held.push(stream);
        }
    });
    let config = format!(
        "apply_timeout_seconds = 2\n[targets]\nsilent = \"postgresql://nobody@127.0.0.1:{port}/nothing?connect_timeout=2\"\n"
    );
    let server = Server::start(None, &config);
    let who = actors(&server);
    let ids: Vec<String> = (0..16).map(|i| approved(&server, &who, &format!("silents_{i}"))).collect();
    let answers = std::thread::scope(|scope| {
        let calls: Vec<_> = ids
            .iter()
            .map(|id| {
                let (server, who) = (&server, &who);
                scope.spawn(move || {
                    server.call(
                        "POST",
                        &format!("/api/schema-requests/{id}/apply"),
                        Some(&who.operator),
                        Some(&json!({"target": "silent"})),
                    )
                })
            })
            .collect();
        let mut health_checks = 0;
        while !calls.iter().all(std::thread::ScopedJoinHandle::is_finished) {
            let (status, body) = server.call("GET", "/health", None, None);
            assert_eq!(status, 200, "health stays up while applies hang: {body}");
            let (status, body) = server.call("GET", "/api/schema-requests?limit=1", Some(&who.requester), None);
            assert_eq!(status, 200, "authenticated calls keep working while applies hang: {body}");
            health_checks += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(health_checks > 0);
        calls.into_iter().map(|call| call.join().unwrap()).collect::<Vec<_>>()
    });
    for (status, body) in &answers {
        assert_eq!(*status, 503, "{body}");
        let code = body["error"]["code"].as_str().unwrap_or_default();
        assert!(["busy", "unavailable"].contains(&code), "{body}");
        assert!(body["retryAfterHeader"].is_string() || code == "unavailable", "{body}");
    }
    assert!(
        answers
            .iter()
            .any(|(_, body)| body["error"]["message"].as_str().unwrap_or_default().contains("did not answer")),
        "some applies reached the silent target and gave up: {answers:?}"
    );
    for id in &ids {
        assert_eq!(status_of(&server, &who, id), "approved");
    }
    assert_eq!(server.sql("registry", "SELECT count(*) FROM registry.operations"), "0", "no lease left behind");
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn sigterm_during_an_apply_whose_request_timed_out_lets_it_finish_with_its_audit_entry() {
    // The HTTP request gives up after 1 s; the apply goes on detached from it.
    let server = Server::start(None, "request_timeout_seconds = 1\napply_lock_wait_seconds = 30\n");
    let who = actors(&server);
    let id = approved(&server, &who, "interruptions");
    let lock = registry_store::apply::APPLY_LOCK;
    std::thread::scope(|scope| {
        // Another session holds the target's apply lock for 4 s: the apply waits for it.
        let holder =
            scope.spawn(|| server.sql("target", &format!("SELECT pg_advisory_lock({lock}); SELECT pg_sleep(4);")));
        while server.sql("target", "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") != "1" {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (status, body) =
            server.call("POST", &format!("/api/schema-requests/{id}/apply"), Some(&who.operator), Some(&json!({})));
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "timeout", "{body}");
        assert_eq!(server.sql("registry", "SELECT count(*) FROM registry.operations"), "1", "still running");
        // While it runs: another apply and a reject are told at once, with a retry hint.
        let (status, body) =
            server.call("POST", &format!("/api/schema-requests/{id}/apply"), Some(&who.operator), Some(&json!({})));
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "in_progress", "{body}");
        assert_eq!(body["retryAfterHeader"], "1", "{body}");
        let (status, body) = server.call(
            "PATCH",
            &format!("/api/schema-requests/{id}"),
            Some(&who.reviewer),
            Some(&json!({"status": "rejected"})),
        );
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "in_progress", "{body}");

        // Shutdown waits for the apply before it stops the database under it.
        server.signal("TERM");
        holder.join().unwrap();
    });
    let (clean, dir) = server.wait_for_exit();
    assert!(clean, "a clean exit after the apply finished");
    let server = Server::start(Some(dir), "");
    assert_eq!(status_of(&server, &who, &id), "migrated");
    assert_eq!(entries_that_ran(&server, &who, &id, "apply"), 1, "the apply is audited");
    assert_eq!(server.target_sql("SELECT count(*) FROM public.interruptions"), "0", "the table is there");
    assert_eq!(server.sql("registry", "SELECT count(*) FROM registry.operations"), "0");
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn kill_9_at_every_step_boundary_is_settled_exactly_once_on_restart() {
    let steps = ["claimed", "target-committed", "recorded"];
    let mut server = Server::start(None, "");
    let who = actors(&server);
    let mut ids = Vec::new();
    // Each round: the server is armed to kill itself at one point; the call dies with it;
    // the next start settles what it left, and the state is checked before the next round.
    let points: Vec<String> =
        steps.iter().map(|s| format!("apply:{s}")).chain(steps.iter().map(|s| format!("rollback:{s}"))).collect();
    for (round, point) in points.iter().enumerate() {
        let dir = server.stop();
        server = Server::start_with_env(Some(dir), "", &[("SCHEMA_REGISTRY_CRASH_AT", point)]);
        let (action, step) = point.split_once(':').unwrap();
        let id = if action == "apply" {
            let id = approved(&server, &who, &format!("crashes_{round}"));
            ids.push(id.clone());
            id
        } else {
            ids[round - steps.len()].clone()
        };
        let died = server.try_call(
            "POST",
            &format!("/api/schema-requests/{id}/{action}"),
            Some(&who.operator),
            Some(&json!({})),
        );
        assert!(died.is_err(), "{point}: the server died under the call: {died:?}");
        let (clean, dir) = server.wait_for_exit();
        assert!(!clean, "{point}: killed");
        server = Server::start(Some(dir), "");
        assert_eq!(
            server.sql("registry", "SELECT count(*) FROM registry.operations"),
            "0",
            "{point}: settled at start"
        );
        let table = format!("crashes_{}", if action == "apply" { round } else { round - steps.len() });
        let ran_before_restart = step != "claimed";
        let expected = match (action, ran_before_restart) {
            ("apply", true) | ("rollback", false) => "migrated",
            _ => "approved",
        };
        assert_eq!(status_of(&server, &who, &id), expected, "{point}: settled from the target's history");
        // The same call again finishes the job, running the SQL only if it never ran.
        let (status, body) =
            server.call("POST", &format!("/api/schema-requests/{id}/{action}"), Some(&who.operator), Some(&json!({})));
        match (action, ran_before_restart) {
            (_, false) => {
                assert_eq!(status, 200, "{point}: {body}");
                assert_eq!(body["ranSql"], true, "{point}: {body}");
            }
            ("apply", true) => {
                assert_eq!(status, 200, "{point}: {body}");
                assert_eq!(body["ranSql"], false, "{point}: the SQL ran once, before the crash: {body}");
            }
            _ => {
                // A rollback that ran leaves nothing to roll back.
                assert_eq!(status, 409, "{point}: {body}");
                assert_eq!(body["error"]["code"], "invalid_transition", "{point}: {body}");
            }
        }
        assert_eq!(entries_that_ran(&server, &who, &id, action), 1, "{point}: one audit entry says what ran");
        let exists = server.target_sql(&format!("SELECT count(*) FROM pg_tables WHERE tablename = '{table}'"));
        assert_eq!(exists, if action == "apply" { "1" } else { "0" }, "{point}");
        let history = server
            .target_sql(&format!("SELECT count(*) FROM schema_registry.applied_migrations WHERE request_id = '{id}'"));
        assert_eq!(history, if action == "apply" { "1" } else { "0" }, "{point}");
    }
    let dir = server.stop();
    cleanup(&dir);
}
