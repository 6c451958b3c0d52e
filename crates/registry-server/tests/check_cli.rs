//! The `check` command, driven as a user would: the real binary on the fixtures.

#![allow(clippy::unwrap_used, reason = "a test helper that cannot run its binary must fail loudly")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no .{extension} files in {dir}");
    paths
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn expected_text(path: &Path) -> String {
    let expected = path.with_extension("expected");
    std::fs::read_to_string(&expected).unwrap_or_else(|e| panic!("{}: {e}", expected.display())).trim().to_owned()
}

#[test]
fn every_request_fixture_answers_in_the_seed_shape_with_matching_exit_code() {
    for path in files("fixtures/requests", "json") {
        let out = run(&["check", path.to_str().unwrap(), "--format", "json"], None);
        let answer: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", path.display(), String::from_utf8_lossy(&out.stderr)));
        let success = answer["success"].as_bool().expect("success is a boolean");
        assert_eq!(out.status.code(), Some(i32::from(!success)), "{}", path.display());
        for violation in answer["violations"].as_array().expect("violations is an array") {
            for key in ["severity", "message", "suggestion", "rule", "path"] {
                assert!(violation.get(key).is_some_and(Value::is_string), "{}: {key} in {violation}", path.display());
            }
        }
        let has_error = answer["violations"].as_array().unwrap().iter().any(|v| v["severity"] == "error");
        assert_eq!(success, !has_error, "{}", path.display());
        if success {
            let preview = &answer["migrationPreview"];
            for key in ["fileName", "upSql", "downSql"] {
                assert!(preview[key].is_string(), "{}: {key}", path.display());
            }
        }
    }
}

#[test]
fn seed_caricatures_answer() {
    let out = run(&["check", "fixtures/requests/01_caricatures.json", "--format", "json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["success"], true);
    assert_eq!(answer["migrationPreview"]["fileName"], "20231205_160000_create_caricatures");
    let updated_at = answer["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "table.require-updated-at")
        .expect("seed 001's example warning");
    assert_eq!(updated_at["severity"], "warning");
    assert_eq!(updated_at["message"], "Table is missing updated_at timestamp column");
    let up = answer["migrationPreview"]["upSql"].as_str().unwrap();
    assert!(
        up.contains("BEGIN;")
            && up.contains("COMMIT;")
            && up.contains("CREATE TABLE IF NOT EXISTS \"public\".\"caricatures\""),
        "{up}"
    );
}

#[test]
fn text_report_and_stdin() {
    let text = std::fs::read_to_string(root().join("fixtures/requests/01_caricatures.json")).unwrap();
    let out = run(&["check", "-"], Some(&text));
    assert_eq!(out.status.code(), Some(0));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.starts_with("<stdin>: table \"caricatures\""), "{report}");
    assert!(report.contains("table.require-updated-at") && report.contains(": accepted"), "{report}");
    assert!(report.contains("migration 20231205_160000_create_caricatures"), "{report}");
}

#[test]
fn errors_exit_1_with_the_violations() {
    let bad = r#"{"tableName": "Events", "columns": [{"name": "at", "type": "timestamp"}]}"#;
    let out = run(&["check", "-", "--format", "json"], Some(bad));
    assert_eq!(out.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["success"], false);
    let rules: Vec<&str> =
        answer["violations"].as_array().unwrap().iter().map(|v| v["rule"].as_str().unwrap()).collect();
    for rule in ["table.require-primary-key", "column.timestamp-with-time-zone", "naming.table-snake-case"] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
}

#[test]
fn invalid_inputs_exit_2_with_a_clear_message_and_no_report() {
    for path in files("fixtures/invalid", "json") {
        let out = run(&["check", path.to_str().unwrap()], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        assert!(out.stdout.is_empty(), "{}: printed a report", path.display());
        let expected = expected_text(&path);
        assert!(stderr.contains(&expected), "{}: expected `{expected}` in `{stderr}`", path.display());
    }
    let out = run(&["check", "fixtures/requests/does-not-exist.json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read fixtures/requests/does-not-exist.json"));
    let out = run(&["check", "-"], Some(""));
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["check", "-", "--format", "yaml"], Some("{}"));
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2");
}

#[test]
fn policy_files_change_the_answer_and_bad_ones_exit_2() {
    let request = "fixtures/requests/01_caricatures.json";
    let standard = run(&["check", request, "--format", "json", "--policy", "fixtures/policies/standard.toml"], None);
    let strict = run(&["check", request, "--format", "json", "--policy", "fixtures/policies/strict.toml"], None);
    let count =
        |out: &Output| serde_json::from_slice::<Value>(&out.stdout).unwrap()["violations"].as_array().unwrap().len();
    assert!(count(&strict) > count(&standard), "strict finds more");
    for path in files("fixtures/policies/invalid", "toml") {
        let out = run(&["check", request, "--policy", path.to_str().unwrap()], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        let expected = expected_text(&path);
        assert!(stderr.contains(&expected), "{}: expected `{expected}` in `{stderr}`", path.display());
    }
}

#[test]
fn check_rehearse_asks_postgresql_itself() {
    // The policy cannot know that lower() takes text; PostgreSQL does.
    let request = r#"{"tableName": "meters", "columns": [{"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"}, {"name": "reading", "type": "integer", "check": "lower(reading) <> ''"}]}"#;
    let plain = run(&["check", "-", "--format", "json"], Some(request));
    assert_eq!(plain.status.code(), Some(0), "{}", String::from_utf8_lossy(&plain.stdout));
    let rehearsed = run(&["check", "-", "--format", "json", "--rehearse"], Some(request));
    assert_eq!(rehearsed.status.code(), Some(1), "{}", String::from_utf8_lossy(&rehearsed.stderr));
    let answer: Value = serde_json::from_slice(&rehearsed.stdout).unwrap();
    let refusal = answer["violations"].as_array().unwrap().iter().find(|v| v["rule"] == "postgres.refused").unwrap();
    assert!(refusal["message"].as_str().unwrap().contains("SQLSTATE 42883"), "{refusal}");
    let clean = run(&["check", "fixtures/requests/01_caricatures.json", "--rehearse"], None);
    assert_eq!(clean.status.code(), Some(0), "{}", String::from_utf8_lossy(&clean.stdout));
}
