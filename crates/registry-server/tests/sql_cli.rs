//! `registry-server import` on migration folders and files, through the real binary.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_registry-server")).args(args).output().unwrap()
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn import_replays_a_diesel_folder_in_its_order_and_lists_what_it_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "2024-01-02-000000_posts/up.sql",
        "CREATE TABLE posts (id bigint PRIMARY KEY, author_id bigint REFERENCES users);\n",
    );
    write(root, "2024-01-02-000000_posts/down.sql", "DROP TABLE posts;\n");
    write(
        root,
        "2024-01-01-000000_users/up.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n\nCREATE VIEW v AS SELECT 1;\n",
    );
    write(root, "2024-01-01-000000_users/down.sql", "DROP TABLE users;\n");
    let folder = root.to_str().unwrap();
    let out = run(&["import", folder]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> =
        answer["tables"].as_array().unwrap().iter().map(|t| t["tableName"].as_str().unwrap()).collect();
    assert_eq!(names, ["users", "posts"], "users first: the folder's order, and the reference resolved");
    assert_eq!(answer["tables"][1]["columns"][1]["references"]["column"], "id");
    let skipped = answer["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{answer}");
    assert_eq!(skipped[0]["kind"], "CREATE VIEW");
    assert_eq!(skipped[0]["line"], 3);
    assert!(skipped[0]["path"].as_str().unwrap().ends_with("2024-01-01-000000_users/up.sql"), "{answer}");

    let out = run(&["import", folder, "--table", "posts"]);
    let posts: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(posts["tableName"], "posts");
    let out = run(&["import", folder, "--format", "sql"]);
    let sql = String::from_utf8(out.stdout).unwrap();
    assert!(
        sql.contains(r#"CREATE TABLE IF NOT EXISTS "public"."users""#) && sql.contains(r#""public"."posts""#),
        "{sql}"
    );

    for (args, expected) in [
        (vec!["import", folder, "--table", "nothing"], "there is no table public.nothing"),
        (vec!["import", "/nonexistent/dir"], "cannot read /nonexistent/dir"),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains(expected), "{}", String::from_utf8_lossy(&out.stderr));
    }
    write(root, "binary.sql", "");
    std::fs::write(root.join("binary.sql"), [0xff, 0xfe, 0x00]).unwrap();
    let out = run(&["import", root.join("binary.sql").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));
}

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A lint report as reviewable lines: `file:line:column severity rule`, then the counts.
fn compact(report: &Value) -> String {
    let mut lines: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{}-{}:{} {} {}: {}",
                f["path"].as_str().unwrap(),
                f["line"],
                f["column"],
                f["endLine"],
                f["endColumn"],
                f["severity"].as_str().unwrap(),
                f["rule"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect();
    lines.push(format!(
        "files {}, statements {}, not understood {}",
        report["files"], report["statements"], report["notUnderstood"]
    ));
    lines.join("\n")
}

#[test]
fn lint_of_each_layout_matches_its_reviewed_snapshot() {
    let dir = root().join("fixtures/sql");
    let mut layouts: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "snapshots")
        .collect();
    layouts.sort();
    assert!(layouts.len() >= 8, "{layouts:?}");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir.join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    for layout in layouts {
        let out = Command::new(env!("CARGO_BIN_EXE_registry-server"))
            .current_dir(root())
            .args(["lint", &format!("fixtures/sql/{layout}"), "--format", "json"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{layout}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        let has_error = report["findings"].as_array().unwrap().iter().any(|f| f["severity"] == "error");
        assert_eq!(out.status.code(), Some(i32::from(has_error)), "{layout}");
        settings.bind(|| insta::assert_snapshot!(layout.clone(), compact(&report)));
    }
}

#[test]
fn lint_speaks_json_sarif_and_github_and_answers_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "m.sql",
        "-- registry:ignore statement.rename readers moved to the view first\nALTER TABLE a RENAME COLUMN b TO c;\nCREATE INDEX i ON a (c);\nDO $$ BEGIN PERFORM 1; END $$;\n",
    );
    let file = dir.path().join("m.sql");
    let file = file.to_str().unwrap();
    let out = run(&["lint", file, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "warnings only");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["files"].as_u64(), report["statements"].as_u64(), report["notUnderstood"].as_u64()),
        (Some(1), Some(3), Some(1))
    );
    let rules: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(!rules.contains(&"statement.rename"), "suppressed: {rules:?}");
    assert!(
        rules.contains(&"statement.require-concurrent-index") && rules.contains(&"lint.not-understood"),
        "{rules:?}"
    );
    let index = &report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "statement.require-concurrent-index")
        .unwrap();
    assert_eq!(
        (index["line"].as_u64(), index["column"].as_u64(), index["endLine"].as_u64(), index["endColumn"].as_u64()),
        (Some(3), Some(1), Some(3), Some(24))
    );

    let out = run(&["lint", file, "--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run0 = &sarif["runs"][0];
    let result = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "statement.require-concurrent-index")
        .unwrap();
    assert_eq!(result["level"], "warning");
    assert_eq!(result["locations"][0]["physicalLocation"]["region"]["startLine"], 3);
    let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
    assert_eq!(run0["tool"]["driver"]["rules"][index]["id"], "statement.require-concurrent-index");

    let out = run(&["lint", file, "--format", "github"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("::warning file=")
            && l.contains(",line=3,col=1,endLine=3,endColumn=24,title=statement.require-concurrent-index::")),
        "{text}"
    );

    write(dir.path(), "bad.sql", "BEGIN;\nCREATE INDEX CONCURRENTLY i ON a (c);\nCOMMIT;\n");
    let out = run(&["lint", dir.path().join("bad.sql").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "an error finding");
    assert!(String::from_utf8_lossy(&out.stdout).contains("bad.sql:2:1: error statement.concurrently-in-transaction"));

    for (args, expected) in [
        (vec!["lint", "/nonexistent.sql"], "cannot read /nonexistent.sql"),
        (vec!["lint", file, "--policy", "/nonexistent.toml"], "/nonexistent.toml"),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(expected), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
