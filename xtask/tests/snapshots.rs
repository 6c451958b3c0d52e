//! Snapshot of every request fixture: the violations under the `standard` and `strict`
//! presets, then the up and down SQL; and of every change fixture (a table before and a
//! change request after): its changes, violations and the lock-safe steps up and back.
//! Snapshots sit beside the fixtures (`fixtures/requests/snapshots/`,
//! `fixtures/changes/snapshots/`) so a reviewer reads input and output together.
//! `cargo xtask snapshots` runs these tests to update them for review.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use policy::config::Policy;
use schema_model::environment::{ExistingObjects, GenerationInputs};
use schema_model::request::SchemaRequest;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/requests")
}

fn fixtures() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/requests exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
}

/// What exists around a fixture's table, from `environments/<stem>.json` when there is one
/// (for the rules about names taken, shared types and existing tables).
fn environment(path: &Path) -> Option<ExistingObjects> {
    let stem = path.file_name()?;
    let file = fixtures_dir().join("environments").join(stem);
    let text = std::fs::read_to_string(&file).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
}

fn render(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("readable fixture");
    let request = SchemaRequest::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let existing = environment(path);
    let mut out = String::new();
    if existing.is_some() {
        let _ =
            writeln!(out, "# environment: environments/{}\n", path.file_name().and_then(|n| n.to_str()).unwrap_or(""));
    }
    for (name, policy) in [("standard", Policy::standard()), ("strict", Policy::strict())] {
        let violations = policy::check_in(&request, &policy, existing.as_ref());
        let _ = writeln!(out, "# violations ({name}): {}", violations.len());
        for v in violations {
            let _ = writeln!(out, "{:<7} {} at {}: {}", v.severity.as_str(), v.rule, v.path, v.message);
        }
        out.push('\n');
    }
    let mut inputs = GenerationInputs::with_naming(&Policy::standard().naming);
    if let Some(existing) = &existing {
        inputs.shared_enums =
            existing.shared_enums(request.schema_json.enums.iter().map(|e| (e.name.as_str(), e.values.as_slice())));
    }
    match ddl_gen::generate_with(&request, &inputs) {
        Ok(migration) => {
            let _ = writeln!(out, "# file: {}\n", migration.file_name);
            out.push_str(&migration.up_sql);
            out.push('\n');
            out.push_str(&migration.down_sql);
        }
        Err(error) => {
            let _ = writeln!(out, "# no migration: {error}");
        }
    }
    out
}

fn changes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/changes")
}

fn change_fixtures() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(changes_dir())
        .expect("fixtures/changes exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
}

/// A change fixture: the table before (a bare definition) and the change request.
fn read_change(path: &Path) -> (SchemaRequest, SchemaRequest) {
    let text = std::fs::read_to_string(path).expect("readable fixture");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let side = |key: &str| {
        SchemaRequest::from_value(value[key].clone()).unwrap_or_else(|e| panic!("{}: {key}: {e}", path.display()))
    };
    (side("before"), side("after"))
}

fn check_change(path: &Path, policy: &Policy) -> registry_core::change::CheckedChange {
    let (before, after) = read_change(path);
    let inputs = GenerationInputs::with_naming(&policy.naming);
    let current = registry_core::change::Current { table: &before.schema_json, inputs: &inputs, level: None };
    registry_core::change::check_change(&after, current, policy, None)
}

fn render_change(path: &Path) -> String {
    let mut out = String::new();
    for (name, policy) in [("standard", Policy::standard()), ("strict", Policy::strict())] {
        let checked = check_change(path, &policy);
        if name == "standard" {
            let _ = writeln!(out, "# level: {}", checked.level.as_str());
            let _ = writeln!(out, "# changes: {}", checked.changes.len());
            for change in &checked.changes {
                let _ = writeln!(out, "- {}", change.describe());
            }
            out.push('\n');
        }
        let violations = &checked.answer.violations;
        let _ = writeln!(out, "# violations ({name}): {}", violations.len());
        for v in violations {
            let _ = writeln!(out, "{:<7} {} at {}: {}", v.severity.as_str(), v.rule, v.path, v.message);
        }
        out.push('\n');
        if name == "standard" {
            match &checked.answer.migration_preview {
                Some(preview) => {
                    let _ = writeln!(out, "# file: {}\n", preview.file_name);
                    out.push_str(&preview.up_sql);
                    out.push('\n');
                    out.push_str(&preview.down_sql);
                    out.push('\n');
                }
                None => out.push_str("# no migration\n\n"),
            }
        }
    }
    out
}

#[test]
fn change_fixtures_snapshots() {
    let snapshot_dir = changes_dir().join("snapshots");
    for path in change_fixtures() {
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_owned();
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(&snapshot_dir);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_input_file(&path);
        settings.bind(|| insta::assert_snapshot!(stem, render_change(&path)));
    }
}

#[test]
fn request_fixtures() {
    let snapshot_dir = fixtures_dir().join("snapshots");
    for path in fixtures() {
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_owned();
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(&snapshot_dir);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_input_file(&path);
        settings.bind(|| insta::assert_snapshot!(stem, render(&path)));
    }
}

/// Every fixture has a snapshot, every snapshot a fixture, and none waits for review.
#[test]
fn snapshots_pair_with_fixtures() {
    let stems: BTreeSet<String> =
        fixtures().iter().filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned)).collect();
    let mut snapshots = BTreeSet::new();
    for entry in std::fs::read_dir(fixtures_dir().join("snapshots")).expect("snapshots folder exists") {
        let path = entry.expect("readable entry").path();
        let name = path.file_name().and_then(|s| s.to_str()).expect("utf-8 name").to_owned();
        assert!(!name.ends_with(".snap.new"), "{name} waits for review: run `cargo xtask snapshots` and review it");
        if let Some(stem) = name.strip_suffix(".snap") {
            snapshots.insert(stem.to_owned());
        }
    }
    let missing: Vec<_> = stems.difference(&snapshots).collect();
    let orphaned: Vec<_> = snapshots.difference(&stems).collect();
    assert!(missing.is_empty(), "fixtures without a snapshot: {missing:?}");
    assert!(orphaned.is_empty(), "snapshots without a fixture: {orphaned:?}");
}

/// Together the fixtures make every rule fire (under `standard`, `strict`, or the strict
/// policy file with a table prefix, which `naming.table-prefix` needs).
#[test]
fn fixtures_cover_every_rule() {
    let policy_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/policies/strict.toml");
    let prefixed =
        Policy::from_toml(&std::fs::read_to_string(policy_file).expect("strict.toml")).expect("valid policy");
    let mut fired = BTreeSet::new();
    for path in fixtures() {
        let request = SchemaRequest::from_json(&std::fs::read_to_string(&path).expect("fixture")).expect("parses");
        let existing = environment(&path);
        for policy in [Policy::standard(), Policy::strict(), prefixed.clone()] {
            fired.extend(policy::check_in(&request, &policy, existing.as_ref()).into_iter().map(|v| v.rule));
        }
    }
    for path in change_fixtures() {
        for policy in [Policy::standard(), Policy::strict()] {
            fired.extend(check_change(&path, &policy).answer.violations.into_iter().map(|v| v.rule));
        }
    }
    // The statement rules fire on the SQL folders of fixtures/sql.
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sql");
    for layout in std::fs::read_dir(&sql).expect("fixtures/sql").map(|e| e.expect("entry").path()) {
        if layout.ends_with("snapshots") {
            continue;
        }
        let mut files = Vec::new();
        sql_files(&layout, &layout, &mut files);
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        let (_, migrations) = ddl_parse::layout::migrations(&borrowed);
        let inputs: Vec<ddl_parse::replay::SqlFile<'_>> =
            migrations.iter().map(ddl_parse::replay::SqlFile::of_migration).collect();
        for policy in [Policy::standard(), Policy::strict()] {
            fired.extend(registry_core::lint::lint(&inputs, &policy).findings.into_iter().map(|f| f.rule));
        }
    }
    let silent: Vec<&str> = policy::registry::all().iter().map(|r| r.id).filter(|id| !fired.contains(*id)).collect();
    assert!(silent.is_empty(), "no fixture makes these rules fire: {silent:?}");
}

/// The files below `dir` (paths relative to `root`) with their text.
fn sql_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("readable folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sql_files(root, &path, out);
        } else {
            let relative = path.strip_prefix(root).expect("below root").to_string_lossy().into_owned();
            out.push((relative, std::fs::read_to_string(&path).expect("UTF-8 fixture")));
        }
    }
}
