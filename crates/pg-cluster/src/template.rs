//! The shared initdb template (running initdb costs about a second; copying a data
//! directory it made once costs a fraction of that) and the sweeping of directories that
//! killed processes left behind.
//!
//! The template lives in `$TMPDIR/schema-registry-initdb-template-<major>-<uid>-<hash>`,
//! built under a temporary name and renamed into place, so concurrent test processes are
//! safe. It is checked against a file count and size manifest on every copy; a cluster
//! falls back to plain initdb if it does not match.

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use crate::binaries::{major_version, server_version};
use crate::error::{ClusterError, io_error};
use crate::run_as::RunAs;
use crate::tools::{create_private_dir, run_initdb, unique_suffix};

/// Environment variable that, set to anything but empty or `0`, disables the shared initdb
/// template: every cluster then runs initdb itself. Meant for ruling the template out when
/// debugging.
pub const NO_TEMPLATE_ENV: &str = "REGISTRY_PG_NO_TEMPLATE";

/// Bumped whenever the template's initdb options change.
const TEMPLATE_FORMAT: &str = "initdb -U postgres --auth-local=peer --auth-host=reject -E UTF8 --no-locale; v2";
/// Name prefix of temporary cluster directories in the temp dir.
pub(crate) const TEMPORARY_PREFIX: &str = "pgreg";
/// Name prefix of initdb template directories in the temp dir.
const TEMPLATE_PREFIX: &str = "schema-registry-initdb-template";
/// Leftovers younger than this are never swept (their owner may be starting).
const STALE_AGE: Duration = Duration::from_mins(10);

/// Number and total size of the files in a directory tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TreeCounts {
    /// Regular files and symlinks.
    files: u64,
    /// Bytes in regular files.
    bytes: u64,
}

/// What [`inspect_template`] found.
enum TemplateState {
    /// Usable, with its manifest.
    Valid(TreeCounts),
    /// Not there.
    Missing,
    /// There but broken; ours to remove.
    Broken(String),
}

/// Whether the shared template may be used (see [`NO_TEMPLATE_ENV`]).
fn template_enabled() -> bool {
    std::env::var_os(NO_TEMPLATE_ENV).is_none_or(|value| value.is_empty() || value == "0")
}

/// Fills the not yet existing `data_dir` with a new cluster: a copy of the shared template
/// when that works, initdb otherwise.
pub(crate) fn populate_data_dir(bin_dir: &Path, run_as: RunAs, data_dir: &Path) -> Result<(), ClusterError> {
    if template_enabled() {
        match copy_from_template(bin_dir, run_as, data_dir) {
            Ok(()) => return Ok(()),
            Err(err) => {
                eprintln!("pg-cluster: not using the initdb template: {err}; running initdb");
                if let Err(err) = fs::remove_dir_all(data_dir)
                    && err.kind() != io::ErrorKind::NotFound
                {
                    return Err(io_error("remove", data_dir)(err));
                }
            }
        }
    }
    run_initdb(bin_dir, run_as, data_dir, false)
}

/// Copies the (possibly new) shared template into `data_dir`.
fn copy_from_template(bin_dir: &Path, run_as: RunAs, data_dir: &Path) -> Result<(), ClusterError> {
    let (template, expected) = ensure_template(bin_dir, run_as)?;
    let mut copied = TreeCounts::default();
    copy_tree(&template.join("data"), data_dir, run_as, &mut copied)?;
    if copied != expected {
        // Files vanished from under it (a temp cleaner?): retire it so the next cluster
        // builds a fresh one.
        retire_template(&template);
        return Err(ClusterError::Template {
            path: template,
            detail: format!(
                "copied {} files / {} bytes, its manifest says {} / {}; it was set aside and is \
                 rebuilt by the next cluster start",
                copied.files, copied.bytes, expected.files, expected.bytes
            ),
        });
    }
    Ok(())
}

/// 64-bit FNV-1a: a hash that stays the same across builds and processes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// Returns the shared template for `bin_dir` and `run_as`, building it first if needed,
/// with the counts its manifest records.
fn ensure_template(bin_dir: &Path, run_as: RunAs) -> Result<(PathBuf, TreeCounts), ClusterError> {
    // One builder per process; other processes race safely via rename.
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(PoisonError::into_inner);

    let version = server_version(bin_dir)?;
    let key = format!("{TEMPLATE_FORMAT}\n{}\n{version}", bin_dir.display());
    let name = format!("{TEMPLATE_PREFIX}-{}-{}-{:016x}", major_version(&version), run_as.uid, fnv1a(key.as_bytes()));
    let temp = std::env::temp_dir();
    let path = temp.join(&name);
    match inspect_template(&path, run_as)? {
        TemplateState::Valid(counts) => return Ok((path, counts)),
        TemplateState::Missing => {}
        TemplateState::Broken(detail) => {
            eprintln!("pg-cluster: replacing broken initdb template {}: {detail}", path.display());
            retire_template(&path);
        }
    }

    let building = create_private_dir(&temp, &format!("{name}.building"), run_as)?;
    let counts = match build_template(bin_dir, run_as, &building) {
        Ok(counts) => counts,
        Err(err) => {
            let _ = fs::remove_dir_all(&building);
            return Err(err);
        }
    };
    match fs::rename(&building, &path) {
        Ok(()) => {
            // Make the rename itself durable; failure only costs a rebuild.
            if let Ok(dir) = File::open(&temp) {
                let _ = dir.sync_all();
            }
            Ok((path, counts))
        }
        Err(err) => {
            let _ = fs::remove_dir_all(&building);
            // Another process won the race: use its template.
            match inspect_template(&path, run_as)? {
                TemplateState::Valid(counts) => Ok((path, counts)),
                _ => Err(io_error("rename the new initdb template to", &path)(err)),
            }
        }
    }
}

/// Runs initdb (with sync, the template is long-lived) into `dir/data` and writes
/// `dir/manifest`.
fn build_template(bin_dir: &Path, run_as: RunAs, dir: &Path) -> Result<TreeCounts, ClusterError> {
    let data = dir.join("data");
    run_initdb(bin_dir, run_as, &data, true)?;
    let mut counts = TreeCounts::default();
    measure_tree(&data, &mut counts)?;
    let manifest = dir.join("manifest");
    let mut file = File::create(&manifest).map_err(io_error("create", &manifest))?;
    file.write_all(format!("files={}\nbytes={}\n", counts.files, counts.bytes).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error("write", &manifest))?;
    Ok(counts)
}

/// Checks the template at `path`: a real directory owned by `run_as`, private, with a
/// manifest, a `data/PG_VERSION` and no `postmaster.pid`.
fn inspect_template(path: &Path, run_as: RunAs) -> Result<TemplateState, ClusterError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(TemplateState::Missing),
        Err(err) => return Err(io_error("inspect the initdb template", path)(err)),
    };
    if meta.uid() != run_as.uid {
        // Not ours (someone else's, or planted): neither use nor remove it.
        return Err(ClusterError::Template {
            path: path.to_path_buf(),
            detail: format!(
                "it is owned by uid {}, not {}; remove it so that it can be rebuilt",
                meta.uid(),
                run_as.uid
            ),
        });
    }
    if !meta.is_dir() {
        return Ok(TemplateState::Broken("it is not a directory".to_owned()));
    }
    if meta.mode() & 0o077 != 0 {
        return Ok(TemplateState::Broken("it is accessible to other users".to_owned()));
    }
    let Some(counts) = fs::read_to_string(path.join("manifest")).ok().and_then(|text| parse_manifest(&text)) else {
        return Ok(TemplateState::Broken("its manifest is missing or unreadable".to_owned()));
    };
    if !path.join("data/PG_VERSION").is_file() {
        return Ok(TemplateState::Broken("data/PG_VERSION is missing".to_owned()));
    }
    if path.join("data/postmaster.pid").exists() {
        return Ok(TemplateState::Broken("a server was started on it".to_owned()));
    }
    Ok(TemplateState::Valid(counts))
}

/// Reads `files=N` and `bytes=N` lines.
fn parse_manifest(text: &str) -> Option<TreeCounts> {
    let mut files = None;
    let mut bytes = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("files", value)) => files = value.trim().parse().ok(),
            Some(("bytes", value)) => bytes = value.trim().parse().ok(),
            _ => {}
        }
    }
    Some(TreeCounts { files: files?, bytes: bytes? })
}

/// Moves a broken template out of the way (atomically, so concurrent users see either all
/// or nothing of it) and deletes it. Best effort.
fn retire_template(path: &Path) {
    let mut retired = path.as_os_str().to_owned();
    retired.push(format!(".stale-{}", unique_suffix()));
    if fs::rename(path, &retired).is_ok() {
        let _ = fs::remove_dir_all(&retired);
    }
}

/// Adds up the files under `dir`.
fn measure_tree(dir: &Path, counts: &mut TreeCounts) -> Result<(), ClusterError> {
    for entry in fs::read_dir(dir).map_err(io_error("read directory", dir))? {
        let entry = entry.map_err(io_error("read directory", dir))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(io_error("inspect", &path))?;
        if file_type.is_dir() {
            measure_tree(&path, counts)?;
        } else if file_type.is_file() {
            counts.files += 1;
            counts.bytes += entry.metadata().map_err(io_error("inspect", &path))?.len();
        } else if file_type.is_symlink() {
            counts.files += 1;
        }
    }
    Ok(())
}

/// Copies the tree `from` to the new directory `to`, keeping modes and giving everything
/// to `run_as`, and adds up what it copied.
fn copy_tree(from: &Path, to: &Path, run_as: RunAs, counts: &mut TreeCounts) -> Result<(), ClusterError> {
    let mode = fs::symlink_metadata(from).map_err(io_error("inspect", from))?.mode() & 0o7777;
    DirBuilder::new().mode(0o700).create(to).map_err(io_error("create directory", to))?;
    fs::set_permissions(to, Permissions::from_mode(mode)).map_err(io_error("set the mode of", to))?;
    run_as.chown(to)?;
    for entry in fs::read_dir(from).map_err(io_error("read directory", from))? {
        let entry = entry.map_err(io_error("read directory", from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let file_type = entry.file_type().map_err(io_error("inspect", &source))?;
        if file_type.is_dir() {
            copy_tree(&source, &target, run_as, counts)?;
        } else if file_type.is_file() {
            // fs::copy also copies the permission bits.
            counts.bytes += fs::copy(&source, &target).map_err(io_error("copy", &source))?;
            counts.files += 1;
            run_as.chown(&target)?;
        } else if file_type.is_symlink() {
            let link = fs::read_link(&source).map_err(io_error("read link", &source))?;
            std::os::unix::fs::symlink(&link, &target).map_err(io_error("create link", &target))?;
            counts.files += 1;
            run_as.chown(&target)?;
        }
    }
    Ok(())
}

/// Runs [`sweep_stale_dirs`] on `temp` once per process.
pub(crate) fn sweep_stale_dirs_once(temp: &Path, run_as: RunAs) {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| sweep_stale_dirs(temp, run_as.uid, STALE_AGE));
}

/// The pid in a name this crate gives its directories in the temp dir: `pgreg-<pid>-...`,
/// `<template>.building-<pid>-...`, `<template>.stale-<pid>-...`.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = match name.strip_prefix(TEMPORARY_PREFIX).and_then(|rest| rest.strip_prefix('-')) {
        Some(rest) => rest,
        None if name.starts_with(TEMPLATE_PREFIX) => {
            let (_, rest) = name.rsplit_once(".building-").or_else(|| name.rsplit_once(".stale-"))?;
            rest
        }
        None => return None,
    };
    rest.split('-').next()?.parse().ok()
}

/// Removes directories in `parent` that a killed process of this crate left behind: named
/// by [`owner_pid`] after a process that no longer exists, owned by `uid`, older than
/// `min_age`, and with no server running in them (no `data/postmaster.pid`). Best effort,
/// Linux only (needs `/proc`).
fn sweep_stale_dirs(parent: &Path, uid: u32, min_age: Duration) {
    let proc_dir = Path::new("/proc");
    if !proc_dir.join("self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(owner_pid) else {
            continue;
        };
        if pid == std::process::id() || proc_dir.join(pid.to_string()).exists() {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let old_enough =
            meta.modified().ok().and_then(|modified| modified.elapsed().ok()).is_some_and(|age| age >= min_age);
        if meta.is_dir() && meta.uid() == uid && old_enough && !path.join("data/postmaster.pid").exists() {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_dirs_of_dead_processes_are_swept() {
        let parent = std::env::temp_dir().join(format!("pgreg-sweep-test-{}", unique_suffix()));
        fs::create_dir(&parent).unwrap_or_else(|e| panic!("{e}"));
        let dead = 99_999_999; // above the largest possible pid_max (2^22)
        let me = std::process::id();
        let names = [
            format!("pgreg-{dead}-1-0"),
            format!("pgreg-{dead}-2-0"),
            format!("pgreg-{me}-3-0"),
            format!("{TEMPLATE_PREFIX}-15-0-0123.building-{dead}-4-0"),
            format!("{TEMPLATE_PREFIX}-15-0-0123"),
            "unrelated-1".to_owned(),
        ];
        for name in &names {
            fs::create_dir_all(parent.join(name).join("data")).unwrap_or_else(|e| panic!("{e}"));
        }
        fs::write(parent.join(&names[1]).join("data/postmaster.pid"), "1\n").unwrap_or_else(|e| panic!("{e}"));
        let uid = fs::metadata(&parent).unwrap().uid();

        sweep_stale_dirs(&parent, uid, Duration::from_mins(10));
        assert!(names.iter().all(|name| parent.join(name).exists()), "young dirs were swept");

        sweep_stale_dirs(&parent, uid, Duration::ZERO);
        let left: Vec<bool> = names.iter().map(|name| parent.join(name).exists()).collect();
        assert_eq!(left, [false, true, true, false, true, true]);
        assert_eq!(owner_pid("pgreg-persistent-test-1"), None);

        fs::remove_dir_all(&parent).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn manifests_and_hashes() {
        assert_eq!(parse_manifest("files=3\nbytes=10\n"), Some(TreeCounts { files: 3, bytes: 10 }));
        assert_eq!(parse_manifest("files=3\n"), None);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
