//! The readable `text` report of a check.

use std::fmt::Write;

use schema_model::request::SchemaRequest;
use schema_model::violation::{CheckAnswer, Severity};

/// Renders a check's answer for a person: the verdict, each violation with its rule,
/// path and fix, then the migration.
pub fn text(source: &str, request: &SchemaRequest, answer: &CheckAnswer) -> String {
    let mut out = String::new();
    let count = |severity: Severity| answer.violations.iter().filter(|v| v.severity == severity).count();
    let (errors, warnings, infos) = (count(Severity::Error), count(Severity::Warning), count(Severity::Info));
    let _ = writeln!(out, "{source}: table \"{}\"", request.schema_json.table_name);
    for violation in &answer.violations {
        let path = if violation.path.is_empty() { "(root)" } else { violation.path.as_str() };
        let _ = writeln!(out, "  {:<7} {}  at {path}", violation.severity.as_str(), violation.rule);
        let _ = writeln!(out, "          {}", violation.message);
        let _ = writeln!(out, "          fix: {}", violation.suggestion);
    }
    let verdict = if answer.success { "accepted" } else { "refused" };
    let _ = writeln!(
        out,
        "\n{errors} {}, {warnings} {}, {infos} {}: {verdict}",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(infos, "info"),
    );
    if let Some(preview) = &answer.migration_preview {
        let _ = writeln!(out, "\nmigration {}\n", preview.file_name);
        out.push_str(&preview.up_sql);
        out.push('\n');
        out.push_str(&preview.down_sql);
    }
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 || word == "info" { word.to_owned() } else { format!("{word}s") }
}
