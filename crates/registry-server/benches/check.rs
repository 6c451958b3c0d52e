//! `check` (parse + validate + generate) on seed 001's caricatures request and on a
//! 60-column table, reported as a ratio to parsing the same JSON into a `serde_json::Value`.
//!
//! Run: `cargo bench -p registry-server --bench check`. Criterion prints absolute times;
//! the last lines print the ratios, measured in the same process, interleaved.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use policy::config::Policy;
use schema_model::request::SchemaRequest;

const CARICATURES: &str = include_str!("../../../fixtures/requests/01_caricatures.json");

/// A 60-column table with a spread of types, defaults, checks and indexes.
fn wide_table() -> String {
    let types =
        ["uuid", "text", "bigint", "integer", "numeric(12,2)", "boolean", "timestamptz", "jsonb", "text[]", "date"];
    let mut columns = vec![
        r#"{"name": "id", "type": "uuid", "primaryKey": true, "nullable": false, "defaultValue": "gen_random_uuid()"}"#
            .to_owned(),
    ];
    for i in 1..60 {
        let ty = types[i % types.len()];
        let extra = match ty {
            "integer" => format!(r#", "check": "c{i} >= 0""#),
            "boolean" => r#", "defaultValue": "false", "nullable": false"#.to_owned(),
            "timestamptz" => r#", "defaultValue": "CURRENT_TIMESTAMP""#.to_owned(),
            _ => String::new(),
        };
        columns.push(format!(r#"{{"name": "c{i}", "type": "{ty}"{extra}}}"#));
    }
    let indexes: Vec<String> = (1..60).filter(|i| i % 7 == 0).map(|i| format!(r#"{{"columns": ["c{i}"]}}"#)).collect();
    format!(
        r#"{{"tableName": "wide_rows", "owner": "bench", "schemaJson": {{"tableName": "wide_rows", "columns": [{}], "indexes": [{}]}}, "requestMetadata": {{"requestedBy": "bench", "justification": "benchmark", "requestedAt": 1701792000}}}}"#,
        columns.join(", "),
        indexes.join(", ")
    )
}

fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("benchmark input is JSON")
}

fn check(text: &str, policy: &Policy) -> bool {
    let request = SchemaRequest::from_json(text).expect("benchmark input is a valid request");
    registry_core::check::answer(&request, policy).success
}

/// Mean time per call of `f`, over the fastest of several rounds of about 300 ms.
fn time_per_call(mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut calls = 0u32;
        while start.elapsed() < Duration::from_millis(300) {
            f();
            calls += 1;
        }
        best = best.min(start.elapsed() / calls);
    }
    best
}

fn main() {
    let policy = Policy::standard();
    let wide = wide_table();
    let inputs = [("caricatures", CARICATURES.to_owned()), ("wide_60_columns", wide)];

    let mut criterion = Criterion::default().configure_from_args();
    for (name, text) in &inputs {
        let mut group = criterion.benchmark_group(*name);
        group.bench_function("parse_json", |b| b.iter(|| parse_json(black_box(text))));
        group.bench_function("check", |b| b.iter(|| check(black_box(text), &policy)));
        group.finish();
    }
    criterion.final_summary();

    println!("\nratio of check (parse + validate + generate) to parsing the same JSON alone:");
    for (name, text) in &inputs {
        let parse = time_per_call(|| {
            black_box(parse_json(black_box(text)));
        });
        let full = time_per_call(|| {
            black_box(check(black_box(text), &policy));
        });
        println!(
            "  {name:<16} parse_json {:>9.2?}  check {:>9.2?}  ratio {:.1}x",
            parse,
            full,
            full.as_secs_f64() / parse.as_secs_f64()
        );
    }
}
