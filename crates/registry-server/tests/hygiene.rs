//! HTTP hygiene and the database going away (issue 7, points 9 and 10), on the real binary:
//! half-open connections, method names as metric labels, floods of bad tokens, text
//! PostgreSQL cannot store, and the embedded postmaster killed.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Server, cleanup, fixture};

fn port(server: &Server) -> u16 {
    server.url.rsplit(':').next().unwrap().parse().unwrap()
}

/// Sends raw bytes on a new connection and returns what came back (status line first).
fn raw_http(server: &Server, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port(server))).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn open_descriptors(server: &Server) -> usize {
    let pid = server.child.as_ref().unwrap().id();
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

#[test]
fn half_open_connections_never_stop_the_api() {
    // A cap below the number of attackers shows that the oldest idle connections make room.
    let server = Server::start(None, "max_connections = 300\nheader_timeout_seconds = 30\n");
    let mut half_open = Vec::new();
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(("127.0.0.1", port(&server))).unwrap();
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: registry\r\nX-Never-Ending: ").unwrap();
        half_open.push(stream);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let (status, body) = loop {
        let answer = std::panic::catch_unwind(|| server.call("GET", "/health", None, None));
        match answer {
            Ok((200, body)) => break (200, body),
            other if Instant::now() > deadline => panic!("/health did not answer: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert_eq!(status, 200, "{body}");
    assert!(open_descriptors(&server) < 500, "{} descriptors open", open_descriptors(&server));
    drop(half_open);
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn strange_methods_never_grow_the_metrics() {
    let server = Server::start(None, "");
    for i in 0..200 {
        let method: String =
            (0..1024).map(|k| char::from(b'A' + u8::try_from((i * 7 + k * 13) % 26).unwrap())).collect();
        let answer = raw_http(
            &server,
            format!("{method} /api/rules/{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(answer.starts_with("HTTP/1.1 4"), "{}", &answer[..answer.len().min(80)]);
    }
    let answer = raw_http(&server, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(answer.len() < 16 * 1024, "/metrics grew to {} bytes", answer.len());
    assert!(answer.contains("method=\"other\""), "{answer}");
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn a_flood_of_bad_tokens_is_refused_before_the_database_is_asked() {
    let server = Server::start(None, "rate_limit_per_second = 0\n");
    // A legitimate client, authenticated a moment ago (from the same address: loopback).
    let (status, _) = server.call("GET", "/api/schema-requests", Some(&server.admin), None);
    assert_eq!(status, 200);
    let mut limited = 0;
    for i in 0..100 {
        let token = format!("sr_{:064x}", 0xdead_beef_u64 + i);
        let (status, body) = server.call("GET", "/api/schema-requests", Some(&token), None);
        match status {
            401 => {}
            429 => {
                limited += 1;
                assert!(body["retryAfterHeader"].is_string(), "{body}");
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(limited >= 70, "only {limited} of 100 bad tokens were rate limited");
    let (status, body) = server.call("GET", "/api/schema-requests", Some("not-a-token"), None);
    assert_eq!(status, 401, "text that cannot be a token is refused at once: {body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let (status, body) = server.call("GET", "/api/schema-requests", Some(&server.admin), None);
    assert_eq!(status, 200, "the legitimate client keeps working: {body}");
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn an_enormous_request_is_answered_at_once() {
    let server = Server::start(None, "");
    let requester = server.token("omega-bot", "requester");
    // 8,000 columns and a unique constraint naming 60,000 columns that do not exist.
    let columns: Vec<serde_json::Value> = (0..8000).map(|i| json!({"name": format!("c{i}"), "type": "int"})).collect();
    let unknown: Vec<String> = (0..60_000).map(|i| format!("x{i}")).collect();
    let request = json!({"tableName": "huge", "columns": columns, "uniques": [{"columns": unknown}]});
    assert!(request.to_string().len() < 1024 * 1024, "under the body limit");
    let (status, body) = server.call("POST", "/api/validate", Some(&requester), Some(&request));
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("at most 1600"), "{body}");
    // Within PostgreSQL's limits the work stays bounded too (see policy's
    // `tens_of_thousands_of_unknown_references_get_a_bounded_answer`): the answer is small.
    let columns: Vec<serde_json::Value> = (0..1600).map(|i| json!({"name": format!("c{i}"), "type": "int"})).collect();
    let uniques: Vec<serde_json::Value> =
        (0..1600).map(|u| json!({"columns": (0..32).map(|k| format!("x{u}_{k}")).collect::<Vec<_>>()})).collect();
    let request = json!({"tableName": "wide", "columns": columns, "uniques": uniques});
    let (status, body) = server.call("POST", "/api/validate", Some(&requester), Some(&request));
    assert_eq!(status, 200, "{}", &body.to_string()[..200]);
    // The preview repeats the definition (linear in it); the violations are capped per rule
    // rather than one per unknown reference (51,200 of them).
    let violations = body["violations"].as_array().unwrap();
    assert!(violations.len() < 300, "{} violations", violations.len());
    assert!(body["violations"].to_string().len() < 100_000, "{} bytes", body["violations"].to_string().len());
    assert!(body.to_string().len() < 2 * request.to_string().len(), "{} bytes", body.to_string().len());
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn text_postgresql_cannot_store_is_a_client_error_never_a_500() {
    let server = Server::start(None, "");
    let requester = server.token("omega-bot", "requester");
    for field in
        ["owner", "requestMetadata.requestedBy", "requestMetadata.justification", "requestMetadata.relatedIssue"]
    {
        let mut request = fixture("01_caricatures.json");
        match field.split_once('.') {
            Some((outer, inner)) => request[outer][inner] = json!("with a \u{0} inside"),
            None => request[field] = json!("with a \u{0} inside"),
        }
        let (status, body) = server.call("POST", "/api/schema-requests", Some(&requester), Some(&request));
        assert_eq!(status, 400, "{field}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(field), "{field}: {body}");
    }
    let (status, answer) =
        server.call("POST", "/api/schema-requests", Some(&requester), Some(&fixture("01_caricatures.json")));
    assert_eq!(status, 201);
    let id = answer["registryId"].as_str().unwrap();
    let reviewer = server.token("rita", "reviewer");
    let (status, body) = server.call(
        "PATCH",
        &format!("/api/schema-requests/{id}"),
        Some(&reviewer),
        Some(&json!({"status": "approved", "note": "fine\u{0}"})),
    );
    assert_eq!(status, 400, "{body}");
    for path in ["/api/schema-requests?status=%00", "/api/tables/a%00b", "/api/tables?database=x%00"] {
        let (status, body) = server.call("GET", path, Some(&requester), None);
        assert_eq!(status, 400, "{path}: {body}");
    }
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn the_embedded_database_comes_back_after_its_postmaster_is_killed() {
    let server = Server::start(None, "");
    let pid_file = std::fs::read_to_string(server.data_dir.join("postgres/postmaster.pid")).unwrap();
    let postmaster = pid_file.lines().next().unwrap().trim().to_owned();
    assert!(std::process::Command::new("kill").args(["-9", &postmaster]).status().unwrap().success());
    let killed = Instant::now();
    let mut saw_unavailable = false;
    let restarted = || {
        std::fs::read_to_string(server.data_dir.join("postgres/postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().map(|line| line.trim().to_owned()))
            .is_some_and(|pid| pid != postmaster)
    };
    loop {
        // A backend of the dead postmaster may answer for a moment; a new postmaster must.
        let (status, body) = server.call("GET", "/health", None, None);
        match status {
            200 if restarted() => break,
            200 => {}
            503 => saw_unavailable = true,
            other => panic!("{other}: {body}"),
        }
        assert!(killed.elapsed() < Duration::from_secs(15), "/health is not 200 again within 15 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = server.call("GET", "/api/rules", Some(&server.admin), None);
    assert_eq!(status, 200, "{body}");
    println!("back after {:?} (503 seen: {saw_unavailable})", killed.elapsed());
    let log = server.log();
    assert!(
        log.lines().any(|l| l.contains("ERROR") && l.contains("the embedded PostgreSQL stopped running")),
        "the death is logged at ERROR:\n{log}"
    );
    let dir = server.stop();
    cleanup(&dir);
}
