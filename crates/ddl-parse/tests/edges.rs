//! Edges found in review: multibyte text beside section markers, Flyway's own transaction
//! rules, sqlx's exact marker, comments after a statement, operator chains too long to parse,
//! lock timeouts turned off, and index names that merely contain a keyword.

use ddl_parse::layout::{Direction, Layout, migrations};
use ddl_parse::parse::{Outcome, parse};
use ddl_parse::replay::{SqlFile, replay_for_lint};
use schema_model::statement::StatementAction;

#[test]
fn section_markers_beside_multibyte_lines() {
    let dbmate = "-- 创建用户表\n-- migrate:up\nCREATE TABLE t (a int);\n-- migrate:down\nDROP TABLE t;\n";
    let (layout, found) = migrations(&[("1.sql", dbmate)]);
    assert_eq!(layout, Layout::Dbmate);
    assert!(found[0].sql.contains("CREATE TABLE") && found[1].sql.contains("DROP TABLE"));
    let goose = "-- 创建用户表格式\n-- +goose Up\nSELECT 1;\n";
    let (layout, _) = migrations(&[("1.sql", goose)]);
    assert_eq!(layout, Layout::Goose);
}

#[test]
fn flyway_runs_concurrently_outside_a_transaction_and_only_its_own_files() {
    let files = [
        ("V1__t.sql", "CREATE TABLE t (a int);"),
        ("V2__idx.sql", "CREATE INDEX CONCURRENTLY i ON t (a);"),
        ("R__views.sql", "CREATE OR REPLACE VIEW v AS SELECT 1;"),
        ("views.sql", "SELECT 1;"),
        ("utils.sql", "SELECT 1;"),
    ];
    let (layout, found) = migrations(&files);
    assert_eq!(layout, Layout::Flyway);
    let summary: Vec<(&str, bool)> = found.iter().map(|m| (m.path.as_str(), m.in_transaction)).collect();
    assert_eq!(summary, [("V1__t.sql", true), ("V2__idx.sql", false), ("R__views.sql", true)]);
    assert!(found.iter().all(|m| m.direction == Direction::Up));
}

#[test]
fn sqlx_reads_its_marker_only_at_the_very_start() {
    let (_, found) =
        migrations(&[("1_a.up.sql", "\n-- no-transaction\nSELECT 1;"), ("2_b.up.sql", "-- no-transaction\nSELECT 1;")]);
    assert_eq!(found.iter().map(|m| m.in_transaction).collect::<Vec<_>>(), [true, false]);
}

#[test]
fn a_comment_after_a_statement_on_its_line_belongs_to_it() {
    let sql = "DROP TABLE a; -- registry:ignore statement.drops-data archived\nDROP TABLE b;\n";
    let statements = parse(sql);
    assert_eq!(statements[0].piece.comments_before, [(1, "-- registry:ignore statement.drops-data archived")]);
    assert!(statements[1].piece.comments_before.is_empty());
}

#[test]
fn an_operator_chain_too_long_for_a_table_is_not_parsed() {
    let sql = format!("CREATE TABLE t (a int DEFAULT 0{});", "+0".repeat(5_000));
    let statements = parse(&sql);
    let Outcome::NotUnderstood { reason, .. } = &statements[0].outcome else { panic!("parsed") };
    assert!(reason.contains("operators"), "{reason}");
}

#[test]
fn lock_timeouts_turned_off_and_names_that_contain_keywords() {
    let sql = "SET lock_timeout = 0;\nALTER TABLE t ADD COLUMN c int;\nDROP INDEX idx_built_concurrently;\n";
    let (_, linted) = replay_for_lint(&[SqlFile::alone("a.sql", sql)]);
    let facts: Vec<_> = linted[0].statements.iter().filter_map(|s| s.facts.clone()).collect();
    assert!(!facts[1].lock_timeout_set, "a zero lock_timeout waits forever");
    assert!(matches!(facts[2].action, StatementAction::DropIndex { concurrently: false, .. }));
}
