//! The commands that read SQL files: `import` (migration folders and dumps replayed into
//! the table model). Files and folders are read here; `ddl-parse` does the rest on text.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use ddl_parse::layout::{Direction, Layout, migrations};
use ddl_parse::replay::{Replay, replay};
use schema_model::table::TableSchema;
use serde_json::json;

/// How `import` prints the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// `{"tables": [...], "enums": [...], "skipped": [...]}`: tables as bare request
    /// definitions.
    Json,
    /// The CREATE script the registry's generator writes for the schema.
    Sql,
}

/// Options of `import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// SQL files and migration folders (diesel, sqlx, golang-migrate, Flyway, refinery,
    /// dbmate, goose, Prisma, pop, or numbered files), replayed in order.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ImportFormat::Json)]
    pub format: ImportFormat,
    /// Only this table (`name` or `schema.name`), printed alone.
    #[arg(long, value_name = "[SCHEMA.]NAME")]
    pub table: Option<String>,
}

/// One file of the input: shown path, SQL, whether it runs in a transaction, and its version
/// and direction when it is a folder's migration.
pub(crate) type InputFile = (String, String, bool, Option<(String, Direction, bool)>);

/// Files of the input, in the order they run.
pub(crate) struct Input {
    pub(crate) files: Vec<InputFile>,
    /// The layout of each folder given.
    pub(crate) layouts: Vec<(String, Layout)>,
}

/// Reads files and folders. A folder's migrations are taken as its tool orders them, the
/// ups only when `with_downs` is false.
pub(crate) fn read_input(paths: &[PathBuf], with_downs: bool) -> Result<Input, String> {
    let mut input = Input { files: Vec::new(), layouts: Vec::new() };
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, path, &mut found)?;
            let borrowed: Vec<(&str, &str)> = found.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
            let (layout, ordered) = migrations(&borrowed);
            input.layouts.push((path.display().to_string(), layout));
            // A file's text as read is moved into its migration, not copied (unless two
            // migrations take it as it is); a rewritten one (a dbmate or goose section) is
            // the migration's own.
            let mut uses = vec![0_usize; found.len()];
            let ordered: Vec<_> = ordered
                .into_iter()
                .filter(|m| m.direction == Direction::Up || with_downs)
                .map(|m| {
                    let sql = if let std::borrow::Cow::Owned(sql) = m.sql {
                        Some(sql)
                    } else {
                        uses[m.file] += 1;
                        None
                    };
                    (m.path, m.file, sql, m.in_transaction, m.version, m.direction, m.one_query)
                })
                .collect();
            drop(borrowed);
            let mut texts: Vec<String> = found.into_iter().map(|(_, text)| text).collect();
            for (relative, file, sql, in_transaction, version, direction, one_query) in ordered {
                let sql = sql.unwrap_or_else(|| {
                    uses[file] -= 1;
                    if uses[file] == 0 { std::mem::take(&mut texts[file]) } else { texts[file].clone() }
                });
                input.files.push((
                    path.join(&relative).display().to_string(),
                    sql,
                    in_transaction,
                    Some((format!("{}:{version}", path.display()), direction, one_query)),
                ));
            }
        } else {
            let text = read_utf8(path)?;
            // A file given alone runs as psql runs it: each statement on its own.
            input.files.push((path.display().to_string(), text, false, None));
        }
    }
    Ok(input)
}

fn read_utf8(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    String::from_utf8(bytes)
        .map_err(|e| format!("{}: not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to()))
}

/// The `.sql` files and `metadata.toml` files below `dir`, with paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(root, &path, out)?;
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !(ddl_parse::layout::is_sql(name) || name == "metadata.toml") {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
        out.push((relative, read_utf8(&path)?));
    }
    Ok(())
}

/// Runs `import`: the exit code, or the message for unreadable input (exit 2).
pub fn import(args: &ImportArgs, out: &mut impl Write) -> Result<u8, String> {
    let input = read_input(&args.paths, false)?;
    let replayed = replay(input.files.iter().map(|(path, text, _, _)| (path.as_str(), text.as_str())));
    let Replay { schema, skipped, extensions, statements, not_understood } = &replayed;
    let tables: Vec<&TableSchema> = match &args.table {
        Some(wanted) => {
            let (schema_name, name) = wanted.split_once('.').unwrap_or(("public", wanted));
            let found: Vec<&TableSchema> =
                schema.tables.iter().filter(|t| t.schema_name() == schema_name && t.table_name == name).collect();
            if found.is_empty() {
                return Err(format!("there is no table {schema_name}.{name} in the input"));
            }
            found
        }
        None => schema.tables.iter().collect(),
    };
    let mut unwritten = Vec::new();
    let text = match args.format {
        ImportFormat::Json => {
            let value = if args.table.is_some() {
                serde_json::to_value(tables[0])
            } else {
                serde_json::to_value(json!({
                    "tables": tables,
                    "enums": schema.enums,
                    "extensions": extensions,
                    "skipped": skipped,
                    "statements": statements,
                    "notUnderstood": not_understood,
                }))
            }
            .map_err(|e| format!("cannot render the schema: {e}"))?;
            let mut text =
                serde_json::to_string_pretty(&value).map_err(|e| format!("cannot render the schema: {e}"))?;
            text.push('\n');
            text
        }
        ImportFormat::Sql => {
            let (script, refused) = registry_core::import::create_script(&tables, &schema.enums, extensions);
            unwritten = refused;
            script
        }
    };
    out.write_all(text.as_bytes()).map_err(|e| format!("cannot write the schema: {e}"))?;
    let _ = out.flush();
    eprintln!(
        "read {} files: {statements} statements ({not_understood} not understood), {} tables, {} skipped",
        input.files.len(),
        schema.tables.len(),
        skipped.len()
    );
    for table in &unwritten {
        eprintln!("warning: not written (the generator refuses it): {table}");
    }
    Ok(if unwritten.is_empty() { 0 } else { crate::cli::EXIT_VIOLATIONS })
}

/// How `lint` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// `path:line:column: severity rule: message`, a fix under each, a summary last.
    Text,
    /// `{"files", "statements", "notUnderstood", "findings": [...]}`.
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`).
    Github,
}

/// Options of `lint`.
#[derive(Debug, Clone, Args)]
pub struct LintArgs {
    /// SQL files and migration folders; a folder's migrations are linted in its tool's order,
    /// the downs after the ups, each against the schema it undoes.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// A policy file (TOML); the `standard` preset when absent.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// Runs `lint`: the exit code (0 no error finding, 1 error findings), or the message for
/// unreadable input (exit 2).
pub fn lint(args: &LintArgs, out: &mut impl Write) -> Result<u8, String> {
    let policy = match &args.policy {
        Some(path) => crate::settings::read_policy(path)?,
        None => policy::config::Policy::standard(),
    };
    let input = read_input(&args.paths, true)?;
    let files: Vec<ddl_parse::replay::SqlFile<'_>> = input
        .files
        .iter()
        .map(|(path, text, in_transaction, migration)| ddl_parse::replay::SqlFile {
            path,
            text,
            in_transaction: *in_transaction,
            migration: migration.as_ref().map(|(version, direction, _)| (version.as_str(), *direction)),
            one_query: migration.as_ref().is_some_and(|(_, _, one_query)| *one_query),
        })
        .collect();
    let report = registry_core::lint::lint(&files, &policy);
    // Written as rendered: a large folder's JSON is megabytes, never one string.
    let mut buffered = std::io::BufWriter::new(out);
    let written = match args.format {
        LintFormat::Text => buffered.write_all(lint_text(&report).as_bytes()),
        LintFormat::Json => write_report_json(&mut buffered, &report),
        LintFormat::Sarif => write_json(&mut buffered, &sarif(&report)),
        LintFormat::Github => buffered.write_all(github(&report).as_bytes()),
    };
    written.and_then(|()| buffered.flush()).map_err(|e| format!("cannot write the findings: {e}"))?;
    Ok(if report.has_errors() { crate::cli::EXIT_VIOLATIONS } else { 0 })
}

fn write_json(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// The JSON report, exactly as `serde_json` prints it pretty, with the findings rendered on
/// every core: a large folder's report is megabytes, and printing it was a serial step at
/// the end of the run.
pub fn write_report_json(out: &mut impl Write, report: &registry_core::lint::LintReport) -> std::io::Result<()> {
    write!(
        out,
        "{{\n  \"files\": {},\n  \"statements\": {},\n  \"notUnderstood\": {},\n  \"findings\": ",
        report.files, report.statements, report.not_understood
    )?;
    if report.findings.is_empty() {
        return out.write_all(b"[]\n}\n");
    }
    let part = report.findings.len().div_ceil(ddl_parse::parallel::threads());
    let mut parts: Vec<&[registry_core::lint::Finding]> = report.findings.chunks(part).collect();
    let rendered = ddl_parse::parallel::on_every_core(&mut parts, 1, |findings| render_findings(findings));
    out.write_all(b"[\n")?;
    for (at, part) in rendered.iter().enumerate() {
        if at > 0 {
            out.write_all(b",\n")?;
        }
        out.write_all(part)?;
    }
    out.write_all(b"\n  ]\n}\n")
}

/// Findings as the items of the pretty-printed `findings` array, separated by `,\n`.
fn render_findings(findings: &[registry_core::lint::Finding]) -> Vec<u8> {
    // Sized for the texts and the fixed part of each item, so that it is written once.
    let texts: usize =
        findings.iter().map(|f| f.path.len() + f.rule.len() + f.message.len() + f.suggestion.len()).sum();
    let mut out = Vec::with_capacity(texts + texts / 16 + findings.len() * 220);
    let string = |out: &mut Vec<u8>, name: &str, value: &str| {
        out.extend_from_slice(b"      \"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\": ");
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, value);
    };
    let number = |out: &mut Vec<u8>, name: &str, value: u32| {
        out.extend_from_slice(b",\n      \"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\": ");
        // Digits written by hand: formatting machinery for four numbers a finding was a
        // fifth of rendering.
        let mut digits = [0_u8; 10];
        let mut at = digits.len();
        let mut rest = value;
        loop {
            at -= 1;
            digits[at] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[at..]);
    };
    for (at, finding) in findings.iter().enumerate() {
        if at > 0 {
            out.extend_from_slice(b",\n");
        }
        out.extend_from_slice(b"    {\n");
        string(&mut out, "path", &finding.path);
        number(&mut out, "line", finding.line);
        number(&mut out, "column", finding.column);
        number(&mut out, "endLine", finding.end_line);
        number(&mut out, "endColumn", finding.end_column);
        out.extend_from_slice(b",\n");
        string(&mut out, "rule", &finding.rule);
        out.extend_from_slice(b",\n");
        string(&mut out, "severity", finding.severity.as_str());
        out.extend_from_slice(b",\n");
        string(&mut out, "message", &finding.message);
        out.extend_from_slice(b",\n");
        string(&mut out, "suggestion", &finding.suggestion);
        out.extend_from_slice(b"\n    }");
    }
    out
}

/// The text report.
pub fn lint_text(report: &registry_core::lint::LintReport) -> String {
    let mut out = String::new();
    let mut counts = [0_usize; 3];
    for finding in &report.findings {
        counts[finding.severity as usize] += 1;
        let _ = writeln!(
            out,
            "{}:{}:{}: {} {}: {}\n  fix: {}",
            finding.path,
            finding.line,
            finding.column,
            finding.severity.as_str(),
            finding.rule,
            finding.message,
            finding.suggestion
        );
    }
    let _ = writeln!(
        out,
        "{} files, {} statements ({} not understood): {} errors, {} warnings, {} infos",
        report.files, report.statements, report.not_understood, counts[2], counts[1], counts[0]
    );
    out
}

/// GitHub Actions workflow commands, one per finding.
pub fn github(report: &registry_core::lint::LintReport) -> String {
    let escape_data = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let escape_property = |s: &str| escape_data(s).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for f in &report.findings {
        let command = match f.severity {
            schema_model::violation::Severity::Error => "error",
            schema_model::violation::Severity::Warning => "warning",
            schema_model::violation::Severity::Info => "notice",
        };
        let _ = writeln!(
            out,
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            escape_property(&f.path),
            f.line,
            f.column,
            f.end_line,
            f.end_column,
            escape_property(&f.rule),
            escape_data(&format!("{} ({})", f.message, f.suggestion))
        );
    }
    out
}

/// A path as a relative URI reference (SARIF `artifactLocation.uri`): separators as `/`,
/// characters a URI reserves or forbids percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.replace('\\', "/").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// SARIF 2.1.0: one run, the rules that fired with their documentation, one result per
/// finding.
pub fn sarif(report: &registry_core::lint::LintReport) -> serde_json::Value {
    use schema_model::violation::Severity;
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    };
    let mut rule_ids: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules: Vec<serde_json::Value> = rule_ids
        .iter()
        .map(|id| match policy::registry::find(id) {
            Some(rule) => json!({
                "id": id,
                "shortDescription": {"text": rule.doc.what},
                "fullDescription": {"text": rule.doc.why},
                "help": {"text": rule.doc.fix},
                "defaultConfiguration": {"level": level(rule.default_severity)},
            }),
            None => json!({"id": id, "shortDescription": {"text": id}}),
        })
        .collect();
    let results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule,
                "ruleIndex": rule_ids.iter().position(|id| *id == f.rule),
                "level": level(f.severity),
                "message": {"text": format!("{} Fix: {}", f.message, f.suggestion)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&f.path)},
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.column,
                            "endLine": f.end_line,
                            "endColumn": f.end_column + 1,
                        },
                    },
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "schema-registry",
                "informationUri": "https://github.com/schema-registry/schema-registry",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use registry_core::lint::{Finding, LintReport};
    use schema_model::violation::Severity;

    #[test]
    fn the_json_report_is_what_serde_json_prints_pretty() {
        let finding = |n: u32| Finding {
            path: format!("dir/\"odd\" \\ name {n}.sql"),
            line: n,
            column: n + 1,
            end_line: n + 2,
            end_column: u32::MAX,
            rule: "statement.require-if-exists".to_owned(),
            severity: [Severity::Info, Severity::Warning, Severity::Error][n as usize % 3],
            message: format!("tab\there, newline\nthere, control \u{1} and é ✓ {n}"),
            suggestion: String::new(),
        };
        for count in [0, 1, 2, 3, 17] {
            let report =
                LintReport { files: 3, statements: 40, not_understood: 2, findings: (0..count).map(finding).collect() };
            let mut ours = Vec::new();
            super::write_report_json(&mut ours, &report).expect("written");
            let expected = serde_json::to_string_pretty(&report).expect("serialized") + "\n";
            assert_eq!(String::from_utf8(ours).expect("UTF-8"), expected, "{count} findings");
        }
    }
}
