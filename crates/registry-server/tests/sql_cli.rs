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
