//! The router, in process, against arbitrary methods, paths, queries, headers and bodies:
//! never a 5xx, never a panic (issue 7, point 9). The store behind it is real (a throw-away
//! cluster), so every path a request can take is taken for real.

#![allow(clippy::unwrap_used, reason = "test setup fails loudly")]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use registry_server::server::{AppState, Limits, app};
use registry_store::audit::AuditKey;
use registry_store::store::{Store, StoreConfig};
use registry_store::tokens::Role;
use tower::ServiceExt as _;

const PATHS: &[&str] = &[
    "/health",
    "/metrics",
    "/api/openapi.json",
    "/api/rules",
    "/api/validate",
    "/api/schema-requests",
    "/api/schema-requests/{id}",
    "/api/schema-requests/{id}/migration",
    "/api/schema-requests/{id}/audit",
    "/api/schema-requests/{id}/apply",
    "/api/schema-requests/{id}/rollback",
    "/api/schema-requests/{id}/rollback/approve",
    "/api/tables",
    "/api/tables/{id}",
    "/api/tables/{id}/audit",
    "/api/databases",
    "/api/tokens",
    "/api/tokens/{id}",
    "/api/audit/verify",
    "/{id}",
];

/// Every route the router serves, as method and path.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/api/rules"),
    ("POST", "/api/validate"),
    ("POST", "/api/schema-requests"),
    ("GET", "/api/schema-requests"),
    ("GET", "/api/schema-requests/{id}"),
    ("PATCH", "/api/schema-requests/{id}"),
    ("GET", "/api/schema-requests/{id}/migration"),
    ("GET", "/api/schema-requests/{id}/audit"),
    ("POST", "/api/schema-requests/{id}/apply"),
    ("POST", "/api/schema-requests/{id}/rollback"),
    ("POST", "/api/schema-requests/{id}/rollback/approve"),
    ("GET", "/api/tables"),
    ("GET", "/api/tables/{id}"),
    ("GET", "/api/tables/{id}/audit"),
    ("GET", "/api/databases"),
    ("POST", "/api/tokens"),
    ("GET", "/api/tokens"),
    ("DELETE", "/api/tokens/{id}"),
    ("GET", "/api/audit/verify"),
];

const SEED: &str = include_str!("../../../fixtures/requests/01_caricatures.json");
/// Seed 001 with a default its column cannot hold (a policy error: 422).
const SEED_BAD: &str = r#"{"tableName": "fuzzed", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "n", "type": "integer", "defaultValue": "'abc'"}]}"#;

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("6f1a8c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b".to_owned()),
        Just("%00".to_owned()),
        Just("..%2F..".to_owned()),
        Just("caricatures".to_owned()),
        "[a-zA-Z0-9_%.-]{0,40}",
        "\\PC{0,12}".prop_map(|s| {
            use std::fmt::Write as _;
            s.bytes().fold(String::new(), |mut out, b| {
                let _ = write!(out, "%{b:02X}");
                out
            })
        }),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![Just("status"), Just("limit"), Just("offset"), Just("database"), Just("schema"), Just("x")];
    let value = prop_oneof![
        Just("-1".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("requested".to_owned()),
        Just("%00".to_owned()),
        "[a-z0-9%]{0,12}",
    ];
    let pairs = prop_oneof![3 => Just(Vec::new()), 1 => proptest::collection::vec((key, value), 1..4)];
    pairs.prop_map(|pairs: Vec<(&str, String)>| {
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
        }
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        5 => Just(SEED.as_bytes().to_vec()),
        5 => Just(SEED_BAD.as_bytes().to_vec()),
        1 => Just(br#"{"status": "approved", "note": "n\u0000"}"#.to_vec()),
        1 => Just(br#"{"status": "approved"}"#.to_vec()),
        1 => Just(br#"{"target": "nowhere", "confirmDataLoss": true}"#.to_vec()),
        1 => Just(br#"{"name": "x", "role": "admin"}"#.to_vec()),
        3 => (0..SEED.len(), "\\PC{0,8}").prop_map(|(at, insert)| {
            let mut text = SEED.to_owned();
            let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            text.insert_str(at, &insert);
            text.into_bytes()
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => "\\PC{0,200}".prop_map(String::into_bytes),
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just("GET".to_owned()),
        6 => Just("POST".to_owned()),
        2 => Just("PATCH".to_owned()),
        1 => Just("DELETE".to_owned()),
        1 => Just("PUT".to_owned()),
        1 => Just("HEAD".to_owned()),
        1 => Just("OPTIONS".to_owned()),
        1 => "[A-Z]{1,40}",
    ]
}

#[test]
fn no_request_gets_a_5xx_or_a_panic() {
    let server = pg_cluster::test_support::test_server().unwrap();
    let registry = server.create_unique_database("fuzz_registry").unwrap();
    let target = server.create_unique_database("fuzz_target").unwrap();
    let scratch = server.create_unique_database("fuzz_rehearsal").unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (router, admin) = runtime.block_on(async {
        let config = StoreConfig::new(server.url(&registry))
            .allowing_privileged_runtime()
            .with_audit_key(AuditKey::from_bytes([9; 32]))
            .with_target("default", server.url(&target))
            .with_rehearsal_url(server.url(&scratch));
        let store = Store::open(config).await.unwrap();
        let admin = store.create_token("admin", Role::Admin).await.unwrap().token;
        let limits = Limits { rate_per_second: 0.0, failed_auth_per_second: 0.0, ..Limits::default() };
        (app(AppState::new(store, limits)), admin)
    });
    let authorization = prop_oneof![
        1 => Just(None),
        5 => Just(Some(format!("Bearer {admin}"))),
        1 => Just(Some("Bearer sr_0000000000000000000000000000000000000000000000000000000000000000".to_owned())),
        1 => "[ -~]{0,80}".prop_map(Some),
    ];
    let content_type = prop_oneof![Just(None), Just(Some("application/json")), Just(Some("text/plain"))];
    let route = prop_oneof![
        5 => proptest::sample::select(ROUTES).prop_map(|(m, p)| (m.to_owned(), p)),
        1 => (method(), proptest::sample::select(PATHS)),
    ];
    let strategy = (route, segment(), query(), authorization, content_type, body());
    // A fresh random run, and a run from a fixed seed whose spread of answers is checked:
    // the cases must reach the handlers, not only the front door.
    let run = |mut runner: TestRunner| {
        let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
        let result =
            runner.run(&strategy, |((method, template), segment, query, authorization, content_type, body)| {
                let uri = format!("{}{query}", template.replace("{id}", &segment));
                let mut request = Request::builder().method(method.as_str()).uri(uri.as_str());
                if let Some(value) = &authorization {
                    request = request.header("authorization", value.as_str());
                }
                if let Some(value) = content_type {
                    request = request.header("content-type", value);
                }
                // A method or URI that HTTP itself cannot carry never reaches the router.
                let Ok(request) = request.body(Body::from(body)) else { return Ok(()) };
                let response = runtime.block_on(router.clone().oneshot(request));
                let status = response.map_or(StatusCode::INTERNAL_SERVER_ERROR, |r| r.status());
                *seen.lock().unwrap().entry(status.as_u16()).or_default() += 1;
                if status.is_server_error() {
                    return Err(TestCaseError::fail(format!("{method} {uri} answered {status}")));
                }
                Ok(())
            });
        if let Err(error) = result {
            panic!("{error}");
        }
        let seen = seen.into_inner().unwrap();
        println!("statuses: {seen:?}");
        seen
    };
    let config = Config { cases: 768, failure_persistence: None, ..Config::default() };
    run(TestRunner::new(config.clone()));
    let fixed = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let seen = run(TestRunner::new_with_rng(config, fixed));
    for status in [200, 201, 400, 401, 404, 422] {
        assert!(seen.get(&status).is_some_and(|n| *n > 0), "no case answered {status}: {seen:?}");
    }
}
