//! Finding the PostgreSQL binaries and their version.

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

use crate::error::ClusterError;
use crate::tools::{output_tail, run};

/// Environment variable naming the directory that holds the PostgreSQL server binaries.
/// When set, [`find_bin_dir`] uses it and nothing else, so a machine with several
/// PostgreSQL versions can pick one.
pub const BIN_DIR_ENV: &str = "REGISTRY_PG_BINDIR";

/// Binaries a directory must hold to count as a PostgreSQL server install.
const SERVER_BINARIES: [&str; 2] = ["initdb", "postgres"];

/// Finds the directory holding the PostgreSQL server binaries (`initdb`, `postgres`, and
/// beside them `pg_ctl`, `psql`, `createdb`, `pgbench`).
///
/// Looks, in order:
/// 1. in the directory named by [`BIN_DIR_ENV`] if that is set (and nowhere else: a wrong
///    setting is an error, not silently ignored);
/// 2. in the first `PATH` directory holding both `initdb` and `postgres` (following a
///    symlinked `initdb` to its real directory, which also holds the client tools);
/// 3. in `pg_config --bindir`, if `pg_config` is on `PATH`;
/// 4. in the highest-versioned `/usr/lib/postgresql/*/bin` (Debian, Ubuntu), then
///    `/usr/pgsql-*/bin` (RHEL), then `/usr/local/pgsql/bin` (source builds).
pub fn find_bin_dir() -> Result<PathBuf, ClusterError> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV).filter(|value| !value.is_empty()) {
        let dir = PathBuf::from(dir);
        let missing: Vec<&str> = SERVER_BINARIES.into_iter().filter(|name| !is_executable(&dir.join(name))).collect();
        if missing.is_empty() {
            return Ok(dir);
        }
        return Err(ClusterError::BadBinDir { dir, missing: missing.join(" and ") });
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.is_absolute() && has_server_binaries(&dir) {
                return Ok(real_bin_dir(&dir));
            }
        }
    }
    if let Some(dir) = pg_config_bindir()
        && has_server_binaries(&dir)
    {
        return Ok(dir);
    }
    let mut candidates = versioned_dirs(Path::new("/usr/lib/postgresql"), "", "bin");
    candidates.extend(versioned_dirs(Path::new("/usr"), "pgsql-", "bin"));
    candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
    if let Some(dir) = candidates.into_iter().find(|dir| has_server_binaries(dir)) {
        return Ok(dir);
    }
    Err(ClusterError::BinariesNotFound {
        searched: "on PATH, via pg_config --bindir, under /usr/lib/postgresql/*/bin, \
                   /usr/pgsql-*/bin and /usr/local/pgsql/bin"
            .to_owned(),
    })
}

/// Whether `path` is an executable regular file (following symlinks).
pub(crate) fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.mode() & 0o111 != 0)
}

/// Whether `dir` holds executable `initdb` and `postgres`.
fn has_server_binaries(dir: &Path) -> bool {
    SERVER_BINARIES.into_iter().all(|name| is_executable(&dir.join(name)))
}

/// The directory `dir/initdb` really lives in, if that is a full install (e.g.
/// `/usr/local/bin/initdb` symlinked into `/usr/lib/postgresql/15/bin`); `dir` otherwise.
fn real_bin_dir(dir: &Path) -> PathBuf {
    fs::canonicalize(dir.join("initdb"))
        .ok()
        .and_then(|real| real.parent().map(Path::to_path_buf))
        .filter(|real| has_server_binaries(real))
        .unwrap_or_else(|| dir.to_path_buf())
}

/// `pg_config --bindir`, if `pg_config` is on `PATH` and answers.
fn pg_config_bindir() -> Option<PathBuf> {
    let program = find_on_path("pg_config")?;
    let output = Command::new(program).arg("--bindir").stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `parent/<prefix><version>/<sub>` for every entry whose name after `prefix` is a dotted
/// version number, highest version first.
fn versioned_dirs(parent: &Path, prefix: &str, sub: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = parse_version(name.to_str()?.strip_prefix(prefix)?)?;
            Some((version, entry.path().join(sub)))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, dir)| dir).collect()
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; `None` for anything else.
fn parse_version(text: &str) -> Option<Vec<u32>> {
    text.split('.').map(|part| part.parse().ok()).collect()
}

/// The first executable `name` on `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// `bin_dir/name` if it exists, else `name` from `PATH`, else `bin_dir/name` (whose
/// absence the spawn error then reports).
pub fn tool(bin_dir: &Path, name: &str) -> PathBuf {
    let candidate = bin_dir.join(name);
    if is_executable(&candidate) {
        return candidate;
    }
    find_on_path(name).unwrap_or(candidate)
}

/// The `psql` to use for an external server: the one beside the server binaries if those
/// are found, else the first on `PATH`.
#[cfg_attr(not(feature = "test-support"), allow(dead_code, reason = "used by the test helpers"))]
pub(crate) fn find_psql() -> Result<PathBuf, ClusterError> {
    if let Ok(dir) = find_bin_dir() {
        let candidate = dir.join("psql");
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    find_on_path("psql").ok_or(ClusterError::PsqlNotFound)
}

/// The `postgres --version` output of `bin_dir`, cached per directory.
pub(crate) fn server_version(bin_dir: &Path) -> Result<String, ClusterError> {
    static CACHE: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, version)) = cache.iter().find(|(dir, _)| dir == bin_dir) {
        return Ok(version.clone());
    }
    let mut command = Command::new(tool(bin_dir, "postgres"));
    command.arg("--version").stdin(Stdio::null());
    let output = run(command)?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || version.is_empty() {
        return Err(ClusterError::Template {
            path: bin_dir.join("postgres"),
            detail: format!("`postgres --version` failed: {}", output_tail(&output)),
        });
    }
    cache.push((bin_dir.to_path_buf(), version.clone()));
    Ok(version)
}

/// `"postgres (PostgreSQL) 15.8 (Debian 15.8-1)"` → `"15"`; `"... 9.6.24"` → `"9.6"`;
/// `"unknown"` when there is no version number.
pub(crate) fn major_version(version: &str) -> String {
    let Some(number) = version.split_whitespace().find(|word| word.starts_with(|c: char| c.is_ascii_digit())) else {
        return "unknown".to_owned();
    };
    let parts: Vec<&str> = number.split(|c: char| !c.is_ascii_digit()).take(2).collect();
    match parts.as_slice() {
        [major, minor] if major.parse::<u32>().is_ok_and(|major| major < 10) => {
            format!("{major}.{minor}")
        }
        [major, ..] => (*major).to_owned(),
        [] => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_bin_dir_finds_server_binaries() {
        let dir = find_bin_dir().unwrap_or_else(|e| panic!("{e}"));
        for name in ["initdb", "postgres", "pg_ctl", "psql"] {
            assert!(is_executable(&dir.join(name)), "{} lacks {name}", dir.display());
        }
    }

    #[test]
    fn versions() {
        assert_eq!(major_version("postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"), "15");
        assert_eq!(major_version("postgres (PostgreSQL) 9.6.24"), "9.6");
        assert_eq!(major_version("postgres (PostgreSQL) 17beta1"), "17");
        assert_eq!(major_version("garbage"), "unknown");
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("x"), None);
    }
}
