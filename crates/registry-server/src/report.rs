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

fn text_of<'a>(value: &'a serde_json::Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

fn violation_lines(out: &mut String, violations: &serde_json::Value) {
    for v in violations.as_array().into_iter().flatten() {
        let _ = writeln!(out, "  {:<7} {}  at {}", text_of(v, "severity"), text_of(v, "rule"), text_of(v, "path"));
        let _ = writeln!(out, "          {}", text_of(v, "message"));
    }
}

/// The answer to `request submit`.
pub fn submitted(answer: &serde_json::Value) -> String {
    let mut out = String::new();
    let _ = write!(out, "stored request {}", text_of(answer, "registryId"));
    match answer["baseVersion"].as_i64() {
        Some(base) if answer["kind"] == "alter" => {
            let _ = writeln!(out, ": a change of the table's version {base}");
        }
        _ => out.push('\n'),
    }
    violation_lines(&mut out, &answer["violations"]);
    let _ = writeln!(out, "migration {}", text_of(&answer["migrationPreview"], "fileName"));
    // A change runs in steps; their headings in the script say what each does.
    let up = answer["migrationPreview"]["upSql"].as_str().unwrap_or_default();
    for step in up.lines().filter_map(|line| line.strip_prefix("-- step ")) {
        let _ = writeln!(out, "  step {step}");
    }
    out
}

/// The answer to `request list`.
pub fn request_list(page: &serde_json::Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<36}  {:<28}  {:<9}  CREATED", "ID", "TABLE", "STATUS");
    for r in page["requests"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{:<36}  {:<28}  {:<9}  {}",
            text_of(r, "id"),
            text_of(r, "tableName"),
            text_of(r, "status"),
            text_of(r, "createdAt")
        );
    }
    let shown = page["requests"].as_array().map_or(0, Vec::len);
    let _ = writeln!(out, "{shown} of {} (offset {})", page["total"], page["offset"]);
    out
}

/// The answer to `request show`.
pub fn request_detail(request: &serde_json::Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "request   {}", text_of(request, "id"));
    let _ = writeln!(out, "table     {}.{}", text_of(request, "tableSchema"), text_of(request, "tableName"));
    let _ = writeln!(out, "status    {} (version {})", text_of(request, "status"), request["version"]);
    let _ = writeln!(out, "by        {}", text_of(request, "requestedBy"));
    let _ = writeln!(out, "created   {}", text_of(request, "createdAt"));
    let _ = writeln!(out, "migration {}", text_of(&request["migration"], "fileName"));
    violation_lines(&mut out, &request["violations"]);
    out
}

/// The answer to `request apply` and `request rollback`.
pub fn outcome(verb: &str, outcome: &serde_json::Value) -> String {
    let ran = if outcome["ranSql"].as_bool() == Some(true) { "ran the SQL" } else { "no SQL needed" };
    format!(
        "{verb} {} on {} ({ran}); status {}\n",
        text_of(outcome, "requestId"),
        text_of(outcome, "target"),
        text_of(outcome, "status")
    )
}

/// The answer to `request audit`.
pub fn audit(history: &serde_json::Value) -> String {
    let mut out = String::new();
    for e in history["audit"].as_array().into_iter().flatten() {
        let transition = match (e["fromStatus"].as_str(), e["toStatus"].as_str()) {
            (Some(from), Some(to)) if from != to => format!("{from} -> {to}"),
            (None, Some(to)) => format!("-> {to}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{}  {:<9} {:<16} {:<22} {}{}",
            text_of(e, "createdAt"),
            text_of(e, "action"),
            text_of(e, "performedBy"),
            transition,
            if e["success"].as_bool() == Some(true) { "ok" } else { "FAILED" },
            e["error"].as_str().map(|m| format!(": {m}")).unwrap_or_default()
        );
    }
    out
}
