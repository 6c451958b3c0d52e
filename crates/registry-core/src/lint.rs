//! Linting SQL files: the statement rules on every statement (knowing what the earlier
//! statements and files built), the table rules on every table the files create or change
//! (a rule is written once, for requests and for SQL alike), suppressions, and findings with
//! exact 1-based positions. What the parser could not read is a finding too, never silence.

use ddl_parse::parallel::on_every_core;
use ddl_parse::replay::{LintedFile, LintedStatement, SqlFile, replay_for_lint};
use policy::config::Policy;
use schema_model::request::SchemaRequest;
use schema_model::violation::{Severity, Violation};
use serde::Serialize;

/// The id of the finding for a statement the parser could not read.
pub const NOT_UNDERSTOOD: &str = "lint.not-understood";
/// The id of the finding for a suppression comment without a reason or for an unknown rule.
pub const INVALID_SUPPRESSION: &str = "lint.invalid-suppression";
/// The id of the note for a psql meta-command, which is skipped.
pub const PSQL_COMMAND: &str = "lint.psql-command";
/// The id of the finding for a suppression that suppressed nothing.
pub const UNUSED_SUPPRESSION: &str = "lint.unused-suppression";

/// One finding, at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The file.
    pub path: String,
    /// First line (1-based).
    pub line: u32,
    /// First column (1-based, in characters).
    pub column: u32,
    /// Last line.
    pub end_line: u32,
    /// Last column.
    pub end_column: u32,
    /// The rule.
    pub rule: String,
    /// How bad.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub suggestion: String,
}

/// A lint run's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LintReport {
    /// Files read.
    pub files: usize,
    /// Statements read.
    pub statements: usize,
    /// Statements the parser could not read (each is also a finding).
    pub not_understood: usize,
    /// The findings, by file (in the order given), then position.
    pub findings: Vec<Finding>,
}

impl LintReport {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// A `-- registry:ignore` or `-- registry:ignore-file` comment.
struct Suppression {
    line: u32,
    rule: String,
    whole_file: bool,
    /// For a statement's own: the statement's index.
    statement: Option<usize>,
    used: bool,
}

/// What the rules said about one file: each statement's violations (none for a psql
/// command or COPY data), and each table's the file created or changed, with the index of
/// the first statement that did.
struct Judged {
    statements: Vec<Option<Vec<Violation>>>,
    tables: Vec<(String, String, usize, Vec<Violation>)>,
}

/// The statements whose suppressions may silence a finding: its own statement's, or for a
/// table's finding those of every statement of the file that touched the table.
enum Silencers<'s> {
    Statement(usize),
    Statements(&'s [usize]),
}

impl Silencers<'_> {
    fn contains(&self, statement: usize) -> bool {
        match self {
            Self::Statement(one) => *one == statement,
            Self::Statements(all) => all.contains(&statement),
        }
    }
}

/// What the rules judge: a statement's facts, or a table as a file left it.
enum Work<'l> {
    Statement(Option<&'l schema_model::statement::StatementFacts>),
    Table(Option<Box<(String, String, u32, schema_model::table::TableSchema)>>),
}

/// A table's schema, name, first line in the file and what the table rules said of it.
type TableJudgement = (String, String, u32, Vec<Violation>);

/// What the rules said of one [`Work`].
enum Judgement {
    Statement(Option<Vec<Violation>>),
    /// Boxed: one is kept for every statement, and few are tables.
    Table(Option<Box<TableJudgement>>),
}

/// Lints `files` (in the order they run) under `policy`.
pub fn lint(files: &[SqlFile<'_>], policy: &Policy) -> LintReport {
    let (_, mut linted) = replay_for_lint(files);
    let statement_rules = policy::StatementRules::of(policy);
    // The rules judge each file's statements and tables on their own, so on every core; what
    // is said once (a table's finding by the first file that made it so) is settled after.
    let mut tables = Vec::new();
    for (at, file) in linted.iter_mut().enumerate() {
        tables.extend(std::mem::take(&mut file.tables).into_iter().map(|table| (at, table)));
    }
    let mut judged: Vec<Judged> = linted
        .iter()
        .map(|file| Judged { statements: Vec::with_capacity(file.statements.len()), tables: Vec::new() })
        .collect();
    // Tables and statements in one round of threads; the tables (many rules each) first.
    let statements = linted
        .iter()
        .enumerate()
        .flat_map(|(at, file)| file.statements.iter().map(move |s| (at, Work::Statement(s.facts.as_ref()))));
    let mut work: Vec<(usize, Work<'_>)> =
        tables.into_iter().map(|(at, table)| (at, Work::Table(Some(Box::new(table))))).chain(statements).collect();
    let judgements = on_every_core(&mut work, 64, |(_, work)| match work {
        Work::Statement(facts) => Judgement::Statement(facts.map(|f| statement_rules.check(f))),
        Work::Table(table) => Judgement::Table(table.take().map(|table| {
            let (schema, name, line, table) = *table;
            let violations = policy::check(&SchemaRequest::bare(table), policy);
            Box::new((schema, name, line, violations))
        })),
    });
    for ((at, _), judgement) in work.iter().zip(judgements) {
        match judgement {
            Judgement::Statement(violations) => judged[*at].statements.push(violations),
            Judgement::Table(Some(table)) => {
                let (schema, name, line, violations) = *table;
                // Statements are in the order of their lines.
                let statements = &linted[*at].statements;
                let index = statements.partition_point(|s| s.start.line < line);
                if statements.get(index).is_some_and(|s| s.start.line == line) {
                    judged[*at].tables.push((schema, name, index, violations));
                }
            }
            Judgement::Table(None) => {}
        }
    }
    // A table's finding is said once, by the first file that made it so; a later file that
    // touches the table repeats only what is new. Settled in file order, before the files'
    // findings are written on every core.
    // Found with the words borrowed (copying them was most of this serial step), then kept.
    let mut reported = std::collections::HashSet::new();
    let first_said: Vec<bool> = judged
        .iter()
        .flat_map(|judged| &judged.tables)
        .flat_map(|(schema, name, _, violations)| violations.iter().map(move |v| (schema, name, v)))
        .map(|(schema, name, v)| reported.insert((schema, name, &v.rule, &v.path, &v.message)))
        .collect();
    drop(reported);
    let mut first_said = first_said.into_iter();
    for (_, _, _, violations) in judged.iter_mut().flat_map(|judged| &mut judged.tables) {
        violations.retain(|_| first_said.next().unwrap_or(true));
    }
    // The largest files first, so that no thread is left with a large one at the end.
    let mut per_file: Vec<(usize, &LintedFile, &SqlFile<'_>, Option<Judged>)> = linted
        .iter()
        .zip(files)
        .zip(judged)
        .enumerate()
        .map(|(at, ((file, input), judged))| (at, file, input, Some(judged)))
        .collect();
    per_file.sort_by_key(|(_, file, _, _)| std::cmp::Reverse(file.statements.len()));
    let mut reports: Vec<(usize, FileFindings)> = on_every_core(&mut per_file, 1, |(at, file, input, judged)| {
        let judged = judged.take().unwrap_or(Judged { statements: Vec::new(), tables: Vec::new() });
        (*at, file_findings(file, input, judged))
    });
    reports.sort_by_key(|(at, _)| *at);
    let mut report = LintReport { files: files.len(), statements: 0, not_understood: 0, findings: Vec::new() };
    report.findings.reserve(reports.iter().map(|(_, (findings, _, _))| findings.len()).sum());
    for (_, (findings, statements, not_understood)) in reports {
        report.findings.extend(findings);
        report.statements += statements;
        report.not_understood += not_understood;
    }
    report
}

/// A file's findings, with how many statements it has and how many the parser could not
/// read.
type FileFindings = (Vec<Finding>, usize, usize);

/// One file's findings (its statements' and its tables', suppressions applied, sorted by
/// position), with how many statements it has and how many the parser could not read.
fn file_findings(file: &LintedFile, input: &SqlFile<'_>, mut judged: Judged) -> FileFindings {
    let (mut findings, mut statements, mut not_understood) = (Vec::new(), 0, 0);
    let mut suppressions = Vec::new();
    let mut read_lines = std::collections::BTreeSet::new();
    for (index, statement) in file.statements.iter().enumerate() {
        for (line, comment) in &statement.comments_before {
            read_lines.insert(*line);
            read_suppression(file, *line, comment, index, &mut suppressions, &mut findings);
        }
    }
    // One written where it can apply to nothing (inside a statement, after the last one)
    // is said so, never ignored in silence.
    let lines = if input.text.contains("registry:ignore") { input.text.lines() } else { "".lines() };
    for (number, text) in lines.enumerate() {
        let line = u32::try_from(number + 1).unwrap_or(u32::MAX);
        if text.contains("registry:ignore") && text.trim_start().starts_with("--") && !read_lines.contains(&line) {
            findings.push(at_line(
                file,
                line,
                INVALID_SUPPRESSION,
                Severity::Error,
                "This suppression is not on the lines just before a statement, so it applies to nothing".to_owned(),
                "Move it to the line above the statement it is about (or to the top of the file for -ignore-file)"
                    .to_owned(),
            ));
        }
    }
    // Each finding with the statements whose suppressions may silence it: its own, or for
    // a table's finding every statement of the file that touched the table.
    let violations: usize = judged.statements.iter().flatten().map(Vec::len).sum::<usize>()
        + judged.tables.iter().map(|(_, _, _, violations)| violations.len()).sum::<usize>();
    let mut found: Vec<(Silencers<'_>, Finding)> = Vec::with_capacity(violations + file.statements.len() / 4);
    for (index, statement) in file.statements.iter().enumerate() {
        if statement.facts.is_some() {
            statements += 1;
        }
        if statement.facts.is_none() && statement.kind.starts_with('\\') {
            let finding = at_statement(
                file,
                statement,
                PSQL_COMMAND,
                Severity::Info,
                format!("psql meta-command {} skipped: it is not SQL", statement.kind.to_ascii_lowercase()),
                "Nothing to do if the file is run with psql; other tools fail on it".to_owned(),
            );
            found.push((Silencers::Statement(index), finding));
        }
        if let Some(reason) = &statement.not_understood {
            not_understood += 1;
            let finding = at_statement(
                file,
                statement,
                NOT_UNDERSTOOD,
                Severity::Info,
                format!(
                    "{} not understood by the SQL parser, so not linted: {reason}",
                    if statement.kind.is_empty() { "This statement" } else { &statement.kind }
                ),
                "Check this statement by hand; the rest of the file is linted".to_owned(),
            );
            found.push((Silencers::Statement(index), finding));
        }
        if let Some(violations) = judged.statements.get_mut(index).and_then(Option::take) {
            for violation in violations {
                let finding = at_statement(
                    file,
                    statement,
                    &violation.rule,
                    violation.severity,
                    violation.message,
                    violation.suggestion,
                );
                found.push((Silencers::Statement(index), finding));
            }
        }
    }
    // The statements of the file that touch each table.
    let mut touching_table: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    if !judged.tables.is_empty() {
        for (index, statement) in file.statements.iter().enumerate() {
            if let Some(table) = statement.facts.as_ref().and_then(|f| f.table.as_deref()) {
                touching_table.entry(table).or_default().push(index);
            }
        }
    }
    for (schema, name, index, violations) in judged.tables {
        let qualified = format!("{schema}.{name}");
        let touching = touching_table.get(qualified.as_str()).map_or(&[][..], Vec::as_slice);
        for Violation { severity, message, suggestion, rule, path } in violations {
            let message = if path.is_empty() {
                format!("table {schema}.{name}: {message}")
            } else {
                format!("table {schema}.{name}, {path}: {message}")
            };
            found.push((
                Silencers::Statements(touching),
                at_statement(file, &file.statements[index], &rule, severity, message, suggestion),
            ));
        }
    }
    findings.reserve(found.len() + suppressions.len());
    for (statements, finding) in found {
        let suppressed = suppressions.iter_mut().find(|s| {
            s.rule == finding.rule && (s.whole_file || s.statement.is_some_and(|at| statements.contains(at)))
        });
        match suppressed {
            Some(suppression) => suppression.used = true,
            None => findings.push(finding),
        }
    }
    for suppression in suppressions.iter().filter(|s| !s.used) {
        findings.push(at_line(
            file,
            suppression.line,
            UNUSED_SUPPRESSION,
            Severity::Warning,
            format!("This suppression of {} suppresses nothing", suppression.rule),
            "Remove it, so that it cannot hide a finding later".to_owned(),
        ));
    }
    // Sorted by position within the file; files keep the order they run in.
    findings.sort_by(|a, b| a.line.cmp(&b.line).then(a.column.cmp(&b.column)).then(a.rule.cmp(&b.rule)));
    (findings, statements, not_understood)
}

fn read_suppression(
    file: &LintedFile,
    line: u32,
    comment: &str,
    statement: usize,
    suppressions: &mut Vec<Suppression>,
    findings: &mut Vec<Finding>,
) {
    let text = comment.trim_start_matches('-').trim();
    let (whole_file, rest) = if let Some(rest) = text.strip_prefix("registry:ignore-file") {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix("registry:ignore") {
        (false, rest)
    } else {
        return;
    };
    if suppressions.iter().any(|s| s.line == line) {
        return;
    }
    let mut words = rest.split_whitespace();
    let rule = words.next().unwrap_or_default().to_owned();
    let reason: Vec<&str> = words.collect();
    let known = policy::registry::find(&rule).is_some() || [NOT_UNDERSTOOD, PSQL_COMMAND].contains(&rule.as_str());
    if rule.is_empty() || reason.is_empty() || !known {
        let problem = if rule.is_empty() {
            "names no rule".to_owned()
        } else if !known {
            format!("names {rule}, which is not a rule")
        } else {
            "gives no reason".to_owned()
        };
        findings.push(at_line(
            file,
            line,
            INVALID_SUPPRESSION,
            Severity::Error,
            format!("This suppression {problem}"),
            "Write `-- registry:ignore <rule-id> <why it is fine here>`".to_owned(),
        ));
        return;
    }
    suppressions.push(Suppression {
        line,
        rule,
        whole_file,
        statement: (!whole_file).then_some(statement),
        used: false,
    });
}

fn at_statement(
    file: &LintedFile,
    statement: &LintedStatement,
    rule: &str,
    severity: Severity,
    message: String,
    suggestion: String,
) -> Finding {
    let span = (statement.start.line, statement.start.column, statement.end.line, statement.end.column);
    finding(file, span, rule, severity, message, suggestion)
}

fn at_line(
    file: &LintedFile,
    line: u32,
    rule: &str,
    severity: Severity,
    message: String,
    suggestion: String,
) -> Finding {
    finding(file, (line, 1, line, 1), rule, severity, message, suggestion)
}

fn finding(
    file: &LintedFile,
    (line, column, end_line, end_column): (u32, u32, u32, u32),
    rule: &str,
    severity: Severity,
    message: String,
    suggestion: String,
) -> Finding {
    Finding {
        path: file.path.clone(),
        line,
        column,
        end_line,
        end_column,
        rule: rule.to_owned(),
        severity,
        message,
        suggestion,
    }
}
