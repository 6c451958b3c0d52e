//! The offline commands `check` and `diff`, and `inspect`, driven as a user would: the real
//! binary on the fixtures (and, for `inspect`, on a database of the test cluster).

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
    // An empty file, made here: an empty file in the project would be the empty blob every
    // empty file shares.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let out = run(&["check", empty.to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "empty file: {stderr}");
    assert!(out.stdout.is_empty(), "empty file: printed a report");
    assert!(stderr.contains("line 1, column 0: EOF while parsing a value"), "empty file: {stderr}");
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

/// Writes `value` to a file of the temporary directory and returns its path.
fn write_json(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The change list a reviewed change snapshot records (`- add column likes` lines).
fn snapshot_changes(stem: &str) -> Vec<String> {
    let snapshot = root().join("fixtures/changes/snapshots").join(format!("{stem}.snap"));
    let text = std::fs::read_to_string(&snapshot).unwrap();
    text.lines()
        .skip_while(|line| !line.starts_with("# changes:"))
        .skip(1)
        .take_while(|line| line.starts_with("- "))
        .map(|line| line.trim_start_matches("- ").to_owned())
        .collect()
}

#[test]
fn diff_of_each_change_fixture_lists_its_reviewed_changes_and_exits_by_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    for path in files("fixtures/changes", "json") {
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let pair: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let old = write_json(dir.path(), &format!("{stem}.old.json"), &pair["before"]);
        let new = write_json(dir.path(), &format!("{stem}.new.json"), &pair["after"]);
        let out = run(&["diff", &old, &new, "--format", "json"], None);
        let answer: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{stem}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        let descriptions: Vec<String> = answer["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["description"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(descriptions, snapshot_changes(&stem), "{stem}: the changes of the reviewed snapshot");
        let has_error = answer["violations"].as_array().unwrap().iter().any(|v| v["severity"] == "error");
        assert_eq!(out.status.code(), Some(i32::from(has_error)), "{stem}");
        if !has_error {
            let table = pair["after"]["tableName"].as_str().unwrap();
            let file_name = answer["migrationPreview"]["fileName"].as_str().unwrap();
            assert!(file_name.ends_with(&format!("_alter_{table}")), "{stem}: {file_name}");
            assert!(answer["migrationPreview"]["upSql"].as_str().unwrap().contains("ALTER "), "{stem}");
        }
    }
}

#[test]
fn diff_of_a_file_with_itself_has_no_change_and_sql_that_changes_nothing() {
    for path in files("fixtures/requests", "json") {
        let file = path.to_str().unwrap();
        let out = run(&["diff", file, file, "--format", "json"], None);
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["changes"], Value::Array(Vec::new()), "{file}");
        if answer["migrationPreview"].is_null() {
            // A definition that cannot be planned at all (two columns of one name) says so.
            assert_eq!(out.status.code(), Some(1), "{file}");
            assert!(answer["violations"].as_array().unwrap().iter().any(|v| v["rule"] == "change.invalid"), "{file}");
            continue;
        }
        for script in ["upSql", "downSql"] {
            let sql = answer["migrationPreview"][script].as_str().unwrap();
            let statements: Vec<&str> =
                sql.lines().filter(|line| !line.trim().is_empty() && !line.starts_with("--")).collect();
            assert!(statements.is_empty(), "{file}: {script} has statements {statements:?}");
        }
    }
}

#[test]
fn diff_reads_stdin_prints_text_and_answers_bad_input_with_exit_2() {
    let old = std::fs::read_to_string(root().join("fixtures/requests/01_caricatures.json")).unwrap();
    let mut new: Value = serde_json::from_str(&old).unwrap();
    new["schemaJson"]["columns"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "likes", "type": "integer", "nullable": false, "defaultValue": "0"}));
    let dir = tempfile::tempdir().unwrap();
    let new_path = write_json(dir.path(), "new.json", &new);
    let out = run(&["diff", "-", &new_path], Some(&old));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("<stdin> -> ") && text.contains("1 change at compatibility level BACKWARD"), "{text}");
    assert!(text.contains("  - add column likes"), "{text}");
    assert!(text.contains(r#"ADD COLUMN IF NOT EXISTS "likes" integer DEFAULT 0 NOT NULL"#), "{text}");

    // Another table without `renamedFrom` is not a change of this one.
    let mut other: Value = serde_json::from_str(&old).unwrap();
    other["schemaJson"]["tableName"] = Value::from("portraits");
    let other_path = write_json(dir.path(), "other.json", &other);
    let out = run(&["diff", "fixtures/requests/01_caricatures.json", &other_path, "--format", "json"], None);
    assert_eq!(out.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(answer["violations"].as_array().unwrap().iter().any(|v| v["rule"] == "change.invalid"), "{answer}");

    for (args, stdin, expected) in [
        (vec!["diff", "fixtures/requests/01_caricatures.json", "missing.json"], None, "cannot read missing.json"),
        (vec!["diff", "-", "fixtures/requests/01_caricatures.json"], Some("{\"tableName\": "), "<stdin>: "),
        (vec!["diff", "-", "-"], Some("{}"), "only one of OLD and NEW"),
        (
            vec!["diff", "fixtures/requests/01_caricatures.json", "fixtures/invalid/bad_type_modifier.json"],
            None,
            "fixtures/invalid/bad_type_modifier.json: ",
        ),
        (
            vec![
                "diff",
                "fixtures/requests/01_caricatures.json",
                "fixtures/requests/01_caricatures.json",
                "--policy",
                "missing.toml",
            ],
            None,
            "missing.toml",
        ),
    ] {
        let out = run(&args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: printed a report");
        assert!(stderr.contains(expected), "{args:?}: expected `{expected}` in `{stderr}`");
    }
}

#[test]
fn inspect_prints_the_live_table_as_the_definition_it_was_created_from() {
    let server = pg_cluster::test_support::test_server().unwrap();
    let database = server.create_unique_database("inspect").unwrap();
    let request = "fixtures/requests/01_caricatures.json";
    let checked = run(&["check", request, "--format", "json"], None);
    let answer: Value = serde_json::from_slice(&checked.stdout).unwrap();
    server.psql(&database, answer["migrationPreview"]["upSql"].as_str().unwrap()).unwrap();
    server
        .psql(
            &database,
            "CREATE TABLE public.events (id bigint, at timestamptz) PARTITION BY RANGE (at);
             CREATE SCHEMA audit; CREATE TABLE audit.notes (id integer PRIMARY KEY, body text);",
        )
        .unwrap();
    let url = server.url(&database);

    let out = run(&["inspect", "--database-url", &url, "--table", "caricatures"], None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let inspected = dir.path().join("live.json");
    std::fs::write(&inspected, &out.stdout).unwrap();
    let diff = run(&["diff", request, inspected.to_str().unwrap(), "--format", "json"], None);
    let compared: Value = serde_json::from_slice(&diff.stdout).unwrap();
    assert_eq!(compared["changes"], Value::Array(Vec::new()), "no phantom change: {compared}");

    // Every table; what the model has no place for is named on stderr and exits 1.
    let out = run(&["inspect", "--database-url", &url], None);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let tables: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = tables.as_array().unwrap().iter().map(|t| t["tableName"].as_str().unwrap()).collect();
    assert_eq!(names, ["notes", "caricatures", "events"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("public.events: ") && stderr.contains("partition"), "{stderr}");
    let out = run(&["inspect", "--database-url", &url, "--schema", "audit"], None);
    assert_eq!(out.status.code(), Some(0));
    let tables: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tables[0]["schema"], "audit", "{tables}");

    let out = run(&["inspect", "--database-url", &url, "--table", "public.nothing"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no table public.nothing"));
    let out = run(&["inspect", "--database-url", "postgres://nobody@127.0.0.1:1/none", "--table", "t"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect to the database"));
}
