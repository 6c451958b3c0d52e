//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask docs` writes `docs/rules.md` from the policy registry (`--check` fails
//!   when it is stale instead; the test suite runs the same check).
//! - `cargo xtask snapshots [--accept]` renders every request fixture (violations under
//!   both presets, up and down SQL) into insta snapshots beside the fixtures, then lists
//!   the snapshots that changed for review.
//! - `cargo xtask corpus <folder>` lints and imports every third-party corpus below the
//!   folder and prints what it found; a panic or an unreadable file fails it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod corpus;
mod docs;
mod layers;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["docs"] => docs::write(&workspace_root()),
        ["docs", "--check"] => docs::check(&workspace_root()),
        ["snapshots"] => snapshots(false),
        ["snapshots", "--accept"] => snapshots(true),
        ["corpus", folder] => corpus::run(Path::new(folder)),
        _ => Err(anyhow::format_err!(
            "usage: cargo xtask docs [--check] | cargo xtask snapshots [--accept] | cargo xtask corpus <folder>"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs the snapshot test; new or changed snapshots are written as `.snap.new` for
/// review, or accepted in place with `--accept`.
fn snapshots(accept: bool) -> anyhow::Result<()> {
    let root = workspace_root();
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["test", "--quiet", "--package", "xtask", "--test", "snapshots", "fixtures"])
        .env("INSTA_UPDATE", if accept { "always" } else { "new" })
        .env("INSTA_FORCE_PASS", "1")
        .current_dir(&root)
        .status()?;
    if !status.success() {
        anyhow::bail!("the snapshot test failed to run");
    }
    let pending = pending_snapshots(&root.join("fixtures"))?;
    if pending.is_empty() {
        println!("snapshots are up to date");
        return Ok(());
    }
    println!(
        "changed snapshots to review (diff each .snap.new against its .snap, then rename it or run with --accept):"
    );
    for path in &pending {
        println!("  {}", path.display());
    }
    anyhow::bail!("{} snapshot(s) changed", pending.len())
}

fn pending_snapshots(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(pending_snapshots(&path)?);
        } else if path.extension().is_some_and(|e| e == "new") {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}
