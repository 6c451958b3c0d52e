//! Every statement rule on its own SQL fixtures, read by the real SQL reader: it fires on
//! exactly the lines its firing fixtures name (in the last file of a fixture; `-- next file`
//! starts another file) and stays silent on its passing ones. The table-rule fixtures are
//! checked in `policy` itself.

use ddl_parse::replay::{SqlFile, replay_for_lint};
use policy::registry::all;

/// The lines of the last file on which `rule` fires.
fn fired_lines(rule: &policy::rule::RuleDef, sql: &str) -> Vec<String> {
    let texts: Vec<&str> = sql.split("-- next file\n").collect();
    let paths: Vec<String> = (0..texts.len()).map(|i| format!("{i:03}.sql")).collect();
    let files: Vec<SqlFile<'_>> = texts.iter().zip(&paths).map(|(text, path)| SqlFile::alone(path, text)).collect();
    let (_, linted) = replay_for_lint(&files);
    let last = linted.last().expect("a file");
    let mut lines = Vec::new();
    for statement in &last.statements {
        let Some(facts) = &statement.facts else { continue };
        let mut out = Vec::new();
        policy::run_statement_rule(rule, rule.default_severity, facts, &mut out);
        for violation in out {
            assert!(!violation.message.is_empty() && !violation.suggestion.is_empty(), "{violation:?}");
            lines.push(format!("line {}", statement.start.line));
        }
    }
    lines
}

#[test]
fn every_statement_rule_fires_where_its_fixtures_say_and_passes_its_passing_ones() {
    let rules: Vec<_> = all().iter().filter(|r| r.is_statement_rule()).collect();
    assert!(rules.len() >= 16, "{} statement rules", rules.len());
    for rule in rules {
        assert!(rule.id.starts_with("statement."), "{}", rule.id);
        for firing in rule.fires {
            assert_eq!(fired_lines(rule, firing.input), firing.at, "{} on\n{}", rule.id, firing.input);
        }
        for input in rule.passes {
            assert_eq!(
                fired_lines(rule, input),
                Vec::<String>::new(),
                "{} fired on a passing fixture\n{input}",
                rule.id
            );
        }
    }
}

#[test]
fn suppressions_that_can_apply_to_nothing_are_reported_and_one_query_files_are_one_transaction() {
    use registry_core::lint::{INVALID_SUPPRESSION, lint};
    let sql = "CREATE TABLE t (\n  -- registry:ignore statement.unnamed-constraint inside\n  a int PRIMARY KEY\n);\n-- registry:ignore statement.rename at the end\n";
    let report = lint(&[SqlFile::alone("a.sql", sql)], &policy::config::Policy::standard());
    let lines: Vec<u32> = report.findings.iter().filter(|f| f.rule == INVALID_SUPPRESSION).map(|f| f.line).collect();
    assert_eq!(lines, [2, 5], "{:#?}", report.findings);

    // diesel sends a file without a transaction as one query: an implicit transaction.
    let files = [
        (
            "2024-01-01-000000_idx/up.sql",
            "CREATE INDEX CONCURRENTLY i ON t (a);\nCREATE INDEX CONCURRENTLY j ON t (b);",
        ),
        ("2024-01-01-000000_idx/metadata.toml", "run_in_transaction = false"),
    ];
    let (_, migrations) = ddl_parse::layout::migrations(&files);
    let inputs: Vec<SqlFile<'_>> = migrations.iter().map(SqlFile::of_migration).collect();
    let report = lint(&inputs, &policy::config::Policy::standard());
    let fired = report.findings.iter().filter(|f| f.rule == "statement.concurrently-in-transaction").count();
    assert_eq!(fired, 2, "{:#?}", report.findings);
}

#[test]
fn a_table_finding_is_suppressed_on_the_statement_that_caused_it() {
    use registry_core::lint::{UNUSED_SUPPRESSION, lint};
    let sql = "CREATE TABLE IF NOT EXISTS t (id int CONSTRAINT pk_t PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());\n\
               SET lock_timeout = '5s';\n\
               -- registry:ignore column.timestamp-with-time-zone the legacy importer writes local times\n\
               ALTER TABLE t ADD COLUMN seen_at timestamp;\n";
    let report = lint(&[SqlFile::alone("a.sql", sql)], &policy::config::Policy::standard());
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    assert!(!rules.contains(&"column.timestamp-with-time-zone"), "{rules:?}");
    assert!(!rules.contains(&UNUSED_SUPPRESSION), "{rules:?}");
}
