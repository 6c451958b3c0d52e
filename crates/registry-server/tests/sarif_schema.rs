//! `registry-server lint --format sarif` is valid SARIF 2.1.0: every report over the SQL
//! fixtures (every migration layout, findings of every severity, a file the parser cannot
//! fully read, a clean file) validated against the official JSON schema by a real validator.
//!
//! The schema is OASIS's `sarif-2.1.0-rtm.5.json` as Microsoft ships it in the npm package
//! `@microsoft/jest-sarif` (MIT); the validator is Python's `jsonschema`. Both are fetched
//! into `target/` on first use (npm and python3 with venv needed; the failure says which).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};
use std::process::Command;

const SCHEMA_PACKAGE: &str = "@microsoft/jest-sarif@1.0.0-beta.0";
const SCHEMA_IN_PACKAGE: &str = "package/lib/schemas/sarif-2.1.0-rtm.5.json";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tools_dir() -> PathBuf {
    let dir = workspace().join("target/sarif-schema");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The official schema, downloaded with npm once.
fn schema() -> PathBuf {
    let dir = tools_dir();
    let schema = dir.join("sarif-2.1.0-rtm.5.json");
    if schema.is_file() {
        return schema;
    }
    let packed = Command::new("npm")
        .args(["pack", "--silent", SCHEMA_PACKAGE, "--pack-destination"])
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("install npm (Debian: npm) to fetch the SARIF schema ({SCHEMA_PACKAGE}): {e}"));
    assert!(packed.status.success(), "npm pack {SCHEMA_PACKAGE} failed: {}", String::from_utf8_lossy(&packed.stderr));
    let tarball = dir.join(String::from_utf8_lossy(&packed.stdout).trim());
    let unpacked = Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir)
        .arg(SCHEMA_IN_PACKAGE)
        .status()
        .expect("tar runs");
    assert!(unpacked.success(), "{} holds no {SCHEMA_IN_PACKAGE}", tarball.display());
    std::fs::rename(dir.join(SCHEMA_IN_PACKAGE), &schema).unwrap();
    schema
}

/// A python3 that has `jsonschema`: the system's, or a venv in `target/` it is installed into.
fn python() -> PathBuf {
    let system = PathBuf::from("python3");
    let has_jsonschema = |python: &Path| {
        Command::new(python).args(["-c", "import jsonschema"]).output().is_ok_and(|o| o.status.success())
    };
    if has_jsonschema(&system) {
        return system;
    }
    let venv = tools_dir().join("venv");
    let python = venv.join("bin/python3");
    if !has_jsonschema(&python) {
        let created = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
        assert!(
            created.is_ok_and(|s| s.success()),
            "install python3 with venv (Debian: python3-venv) to validate SARIF"
        );
        let installed = Command::new(venv.join("bin/pip")).args(["install", "--quiet", "jsonschema>=4,<5"]).status();
        assert!(installed.is_ok_and(|s| s.success()), "pip could not install jsonschema");
    }
    python
}

/// The schema's complaints about `report` (none when it is valid).
fn violations(python: &Path, schema: &Path, report: &[u8]) -> Vec<String> {
    const VALIDATE: &str = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
report = json.load(sys.stdin)
validator = jsonschema.validators.validator_for(schema)(schema)
for error in validator.iter_errors(report):
    print("/".join(str(p) for p in error.absolute_path) + ": " + error.message[:300])
"#;
    let mut child = Command::new(python)
        .args(["-c", VALIDATE])
        .arg(schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), report).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the validator failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

fn sarif_of(paths: &[&Path]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .arg("lint")
        .args(paths)
        .args(["--format", "sarif"])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn lint_reports_are_valid_sarif_2_1_0() {
    let (python, schema) = (python(), schema());

    // The validator is no rubber stamp: a report with a line 0 and no version is refused.
    let broken = br#"{"runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.sql"}, "region": {"startLine": 0}}}]}]}]}"#;
    let complaints = violations(&python, &schema, broken);
    assert!(complaints.iter().any(|c| c.contains("version")), "{complaints:?}");
    assert!(complaints.iter().any(|c| c.contains("startLine")), "{complaints:?}");

    let fixtures = workspace().join("fixtures/sql");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let layout = entry.unwrap().path();
        if !layout.is_dir() || layout.ends_with("snapshots") {
            continue;
        }
        let report = sarif_of(&[&layout]);
        let parsed: serde_json::Value = serde_json::from_slice(&report).unwrap();
        assert!(!parsed["runs"][0]["results"].as_array().unwrap().is_empty(), "{}: no findings", layout.display());
        let complaints = violations(&python, &schema, &report);
        assert!(complaints.is_empty(), "{}: {complaints:#?}", layout.display());
        checked += 1;
    }
    assert!(checked >= 8, "every layout's folder is checked ({checked})");

    // A clean file, and one with a statement the parser cannot read and a psql command.
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.sql");
    std::fs::write(&clean, "-- nothing to say\n").unwrap();
    let odd = dir.path().join("odd file #1.sql");
    std::fs::write(
        &odd,
        "\\set ON_ERROR_STOP on\nALTER TABLE t ATTACH PARTITION p FOR VALUES IN (1);\nDROP TABLE t;\n",
    )
    .unwrap();
    for path in [&clean, &odd] {
        let complaints = violations(&python, &schema, &sarif_of(&[path]));
        assert!(complaints.is_empty(), "{}: {complaints:#?}", path.display());
    }
}
