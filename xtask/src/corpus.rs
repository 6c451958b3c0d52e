//! `cargo xtask corpus <folder>`: lint and import every corpus below the folder (each
//! subfolder one corpus: a migration folder or a dump), and print per corpus the files,
//! statements, what the parser did not understand (by kind), findings by rule, tables
//! imported and the time taken. A panic, or a file that cannot be read, fails the run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, bail};
use ddl_parse::layout::{Direction, migrations};
use ddl_parse::replay::{SqlFile, replay};
use policy::config::Policy;

/// Runs every corpus under `root`.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let mut corpora: Vec<_> = std::fs::read_dir(root)
        .with_context(|| format!("cannot read {}", root.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    corpora.sort();
    if corpora.is_empty() {
        bail!("{} holds no corpus folder", root.display());
    }
    let mut failures = Vec::new();
    for corpus in &corpora {
        let name = corpus.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut files = Vec::new();
        collect(corpus, corpus, &mut files, &mut failures)?;
        let bytes: usize = files.iter().map(|(_, text)| text.len()).sum();
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        let (layout, ordered) = migrations(&borrowed);
        let inputs: Vec<SqlFile<'_>> =
            ordered.iter().map(|m| SqlFile { path: &m.path, text: &m.sql, in_transaction: m.in_transaction }).collect();
        let started = Instant::now();
        let linted = std::panic::catch_unwind(|| registry_core::lint::lint(&inputs, &Policy::standard()));
        let lint_time = started.elapsed();
        let started = Instant::now();
        let ups = ordered.iter().filter(|m| m.direction == Direction::Up).map(|m| (m.path.as_str(), m.sql.as_str()));
        let imported = std::panic::catch_unwind(|| replay(ups));
        let import_time = started.elapsed();
        let (Ok(report), Ok(imported)) = (linted, imported) else {
            failures.push(format!("{name}: panicked"));
            continue;
        };
        let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
        for finding in &report.findings {
            *by_rule.entry(finding.rule.as_str()).or_default() += 1;
        }
        let mut not_understood: BTreeMap<&str, usize> = BTreeMap::new();
        for skipped in imported.skipped.iter().filter(|s| s.reason.starts_with("not understood")) {
            *not_understood.entry(skipped.kind.as_str()).or_default() += 1;
        }
        println!("## {name} ({layout:?}, {} files, {} KB)", files.len(), bytes / 1024);
        println!(
            "lint: {} statements, {} not understood, {} findings, {:.0} ms; import: {} tables, {} skipped, {:.0} ms",
            report.statements,
            report.not_understood,
            report.findings.len(),
            lint_time.as_secs_f64() * 1000.0,
            imported.schema.tables.len(),
            imported.skipped.len(),
            import_time.as_secs_f64() * 1000.0
        );
        let list = |map: &BTreeMap<&str, usize>| {
            let mut entries: Vec<(&&str, &usize)> = map.iter().collect();
            entries.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            entries.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        println!("not understood by kind: {}", list(&not_understood));
        println!("findings by rule: {}\n", list(&by_rule));
    }
    if !failures.is_empty() {
        bail!("corpus run failed:\n{}", failures.join("\n"));
    }
    Ok(())
}

/// The `.sql` files and `metadata.toml` files below `dir`, relative to `root`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>, failures: &mut Vec<String>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out, failures)?;
            continue;
        }
        let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        if !(ddl_parse::layout::is_sql(&name) || name == "metadata.toml") {
            continue;
        }
        match std::fs::read(&path).map(String::from_utf8) {
            Ok(Ok(text)) => {
                let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
                out.push((relative, text));
            }
            Ok(Err(_)) => failures.push(format!("{}: not UTF-8", path.display())),
            Err(error) => failures.push(format!("{}: {error}", path.display())),
        }
    }
    Ok(())
}
