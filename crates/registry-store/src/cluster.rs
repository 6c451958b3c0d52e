//! Throw-away and persistent local PostgreSQL clusters.
//!
//! Tests all over the workspace need a real PostgreSQL server, and the
//! registry server will later embed one as its default database. This module
//! starts such a server from the PostgreSQL binaries installed on the machine,
//! with nothing but `std`:
//!
//! * [`find_bin_dir`] locates `initdb`, `postgres`, `psql`, ... (search order
//!   and the [`BIN_DIR_ENV`] override are described there).
//! * [`LocalCluster::start_temporary`] makes a private directory under the
//!   system temp dir, puts a fresh cluster in it, starts `postgres` on a free
//!   port of 127.0.0.1 and removes everything again when dropped.
//! * [`LocalCluster::start_persistent`] does the same on a data directory that
//!   outlives the process (initdb only when it is not a cluster yet).
//! * [`test_server`] is what tests call: it uses the server named by
//!   [`TEST_DATABASE_URL_ENV`] when that is set, and starts a temporary cluster
//!   otherwise.
//!
//! How it works, and why:
//!
//! * **root.** PostgreSQL refuses to run as root. When this process is root,
//!   `initdb`, `postgres`, `pg_ctl` and `psql` run as the `postgres` system
//!   user (looked up in `/etc/passwd`), and the directories they need are
//!   chowned to it.
//! * **speed.** Running initdb costs about a second; a cluster made here
//!   instead copies a data directory that initdb made once into
//!   `$TMPDIR/schema-registry-initdb-template-<major>-<uid>-<hash>` (built
//!   under a temporary name and renamed into place, so concurrent test
//!   processes are safe; checked against a file count and size manifest on
//!   every copy, falling back to plain initdb if it does not match). Set
//!   [`NO_TEMPLATE_ENV`] to always run initdb. Temporary clusters also run
//!   with `fsync`, `synchronous_commit` and `full_page_writes` off.
//! * **no leftovers.** `postgres` runs under a tiny `/bin/sh` watchdog that
//!   reads commands from a pipe held by this process. Dropping the cluster
//!   (or this process dying, even by `SIGKILL`) closes the pipe and the
//!   watchdog shuts the server down, so an aborted test run does not leave
//!   servers behind. The directory such a run leaves in the temp dir is
//!   removed by the next process that starts a temporary cluster, once it is
//!   ten minutes old.
//! * **security.** Clusters use `trust` authentication on 127.0.0.1: any local
//!   user can connect as the superuser. That is fine for tests and single-user
//!   machines; a production embedded mode must add a password first.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Environment variable naming the directory that holds the PostgreSQL server
/// binaries. When set, [`find_bin_dir`] uses it and nothing else, so a machine
/// with several PostgreSQL versions can pick one.
pub const BIN_DIR_ENV: &str = "REGISTRY_PG_BINDIR";

/// Environment variable with the URL of an existing server (for example
/// `postgresql://postgres@127.0.0.1:5432/postgres`) that [`test_server`] uses
/// instead of starting a local cluster, e.g. in CI with a service container.
pub const TEST_DATABASE_URL_ENV: &str = "REGISTRY_TEST_DATABASE_URL";

/// Environment variable that, set to anything but empty or `0`, disables the
/// shared initdb template: every cluster then runs initdb itself. Meant for
/// ruling the template out when debugging.
pub const NO_TEMPLATE_ENV: &str = "REGISTRY_PG_NO_TEMPLATE";

/// Superuser of clusters made here; it authenticates with `trust`.
pub const SUPERUSER: &str = "postgres";

/// Address local clusters listen on (TCP only on loopback).
pub const HOST: &str = "127.0.0.1";

/// Binaries a directory must hold to count as a PostgreSQL server install.
const SERVER_BINARIES: [&str; 2] = ["initdb", "postgres"];
/// How long a starting server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a fast shutdown may take before it is turned into an immediate one.
const FAST_STOP_TIMEOUT: Duration = Duration::from_mins(1);
/// How long an immediate shutdown may take before harder means are used.
const IMMEDIATE_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Start attempts on fresh ports when a picked port was taken meanwhile.
const PORT_ATTEMPTS: u32 = 5;
/// Lines of a log or of a tool's stderr quoted in errors.
const TAIL_LINES: usize = 40;
/// At most this many bytes of a log are read for the quoted tail.
const TAIL_BYTES: u64 = 16 * 1024;
/// PostgreSQL's identifier length limit (NAMEDATALEN - 1).
const MAX_IDENTIFIER_BYTES: usize = 63;
/// Longest socket path used; `sun_path` has 108 bytes on Linux, 104 on macOS.
const MAX_SOCKET_PATH: usize = 100;
/// Bumped whenever the template's initdb options change.
const TEMPLATE_FORMAT: &str = "initdb -U postgres -A trust -E UTF8 --no-locale; v1";
/// Name prefix of temporary cluster directories in the temp dir.
const TEMPORARY_PREFIX: &str = "pgreg";
/// Name prefix of initdb template directories in the temp dir.
const TEMPLATE_PREFIX: &str = "schema-registry-initdb-template";
/// Leftovers younger than this are never swept (their owner may be starting).
const STALE_AGE: Duration = Duration::from_mins(10);
/// Name of the server log file (in the temporary root or the persistent data dir).
const LOG_FILE: &str = "postgres.log";
/// Options of every psql call: no psqlrc, unaligned tuples only, quiet, stop
/// at the first error, and verbose errors (they carry the SQLSTATE).
const PSQL_FLAGS: [&str; 8] = ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"];

/// The `/bin/sh` script `postgres` runs under (`$@` is the postgres command).
///
/// It starts postgres in the background and a watchdog that reads lines from
/// our pipe: `fast` and `immediate` request those shutdown modes, and end of
/// file (we dropped the pipe or died) requests an immediate shutdown. The
/// script exits with postgres's status once postgres is gone, so waiting for
/// the script means waiting for the server.
const WATCHDOG_SCRIPT: &str = r#"exec 3<&0 </dev/null
"$@" 3<&- &
pg=$!
(
  while read -r cmd; do
    case "$cmd" in
      fast) kill -INT "$pg" 2>/dev/null ;;
      immediate) kill -QUIT "$pg" 2>/dev/null ;;
    esac
  done
  kill -QUIT "$pg" 2>/dev/null
) <&3 3<&- &
wd=$!
exec 3<&-
wait "$pg"
status=$?
kill "$wd" 2>/dev/null
exit "$status"
"#;

/// Why a local cluster or test server could not be found, started or used.
///
/// Every message says what failed and what to do about it; failures of
/// `initdb`, `postgres` and `psql` quote the end of their output or log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No directory with `initdb` and `postgres` was found.
    #[error(
        "no PostgreSQL server binaries (initdb and postgres) found (looked {searched}); install \
         PostgreSQL (Debian: apt-get install postgresql), set {BIN_DIR_ENV} to the directory that \
         holds them, or use a running server instead (the server's --database-url / DATABASE_URL; \
         {TEST_DATABASE_URL_ENV} for the tests)"
    )]
    BinariesNotFound {
        /// Where the search looked.
        searched: String,
    },

    /// [`BIN_DIR_ENV`] names a directory without the server binaries.
    #[error(
        "{BIN_DIR_ENV}={} does not contain an executable {missing}; point it at the directory \
         that holds initdb and postgres (e.g. /usr/lib/postgresql/15/bin) or unset it",
        dir.display()
    )]
    BadBinDir {
        /// The directory named by the variable.
        dir: PathBuf,
        /// The binaries that are missing there.
        missing: String,
    },

    /// No `psql` to talk to an external server.
    #[error(
        "no psql client found (looked in the PostgreSQL binary directory and on PATH); install \
         the PostgreSQL client (Debian: apt-get install postgresql-client) or set {BIN_DIR_ENV}"
    )]
    PsqlNotFound,

    /// Running as root without a `postgres` user to run the server as.
    #[error(
        "this process runs as root, which PostgreSQL refuses, and there is no `postgres` system \
         user to run it as instead; create one (Debian: apt-get install postgresql does, or \
         useradd --system postgres) or run as an unprivileged user"
    )]
    NoPostgresUser,

    /// The effective user id could not be determined.
    #[error(
        "could not determine the effective user id (read /proc/self/status and ran `id -u`): \
         {detail}"
    )]
    UnknownUser {
        /// What went wrong.
        detail: String,
    },

    /// A file system or process operation failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("create directory", ...).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A program could not be started at all.
    #[error("could not run {}: {source}{hint}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Extra advice (may be empty).
        hint: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// `initdb` failed.
    #[error(
        "initdb failed for {} ({status}){hint}; its output ends with:\n{output}",
        data_dir.display()
    )]
    Initdb {
        /// The data directory it was creating.
        data_dir: PathBuf,
        /// Its exit status.
        status: String,
        /// Extra advice (may be empty).
        hint: String,
        /// The end of its stderr and stdout.
        output: String,
    },

    /// The shared initdb template is unusable (callers fall back to initdb).
    #[error("initdb template {} is unusable: {detail}", path.display())]
    Template {
        /// The template directory.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// No free TCP port could be picked.
    #[error("could not find a free TCP port on 127.0.0.1: {source}")]
    NoFreePort {
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// `postgres` exited while starting.
    #[error(
        "the PostgreSQL server for {} on port {port} exited during startup ({status}); its log {} \
         ends with:\n{log_tail}",
        data_dir.display(),
        log_path.display()
    )]
    ServerExited {
        /// The data directory.
        data_dir: PathBuf,
        /// The port it was to listen on.
        port: u16,
        /// Its exit status.
        status: String,
        /// The server log.
        log_path: PathBuf,
        /// The end of what this start wrote to the log.
        log_tail: String,
    },

    /// `postgres` did not become ready in time.
    #[error(
        "the PostgreSQL server for {} on port {port} did not accept connections within {} s (it \
         was shut down again); its log {} ends with:\n{log_tail}",
        data_dir.display(),
        waited.as_secs(),
        log_path.display()
    )]
    StartTimeout {
        /// The data directory.
        data_dir: PathBuf,
        /// The port it was to listen on.
        port: u16,
        /// How long we waited.
        waited: Duration,
        /// The server log.
        log_path: PathBuf,
        /// The end of what this start wrote to the log.
        log_tail: String,
    },

    /// The server could not be stopped (during [`LocalCluster::restart`]).
    #[error("could not stop the PostgreSQL server for {}: {detail}", data_dir.display())]
    Stop {
        /// The data directory.
        data_dir: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// The cluster's server is not running (a restart failed earlier).
    #[error(
        "the PostgreSQL server for {} is not running (an earlier restart failed); call restart() \
         again or start a new cluster",
        data_dir.display()
    )]
    NotRunning {
        /// The data directory.
        data_dir: PathBuf,
    },

    /// A database name outside the accepted form.
    #[error(
        "invalid database name {name:?}: {reason}; use 1 to 63 characters from [a-z0-9_] not \
         starting with a digit"
    )]
    InvalidDatabaseName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// `psql` reported an error.
    #[error("psql failed on database {database:?} ({status}) running `{sql}`: {stderr}")]
    Psql {
        /// The database it connected to.
        database: String,
        /// The SQL, shortened.
        sql: String,
        /// Its exit status.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },

    /// [`TEST_DATABASE_URL_ENV`] is not a usable PostgreSQL URL.
    #[error(
        "{TEST_DATABASE_URL_ENV}={url:?} is not usable: {reason}; use the form \
         postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE or unset it to start a local cluster"
    )]
    InvalidUrl {
        /// The URL, password masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ClusterError {
    /// Whether this is a start failure because the port was taken.
    fn is_address_in_use(&self) -> bool {
        matches!(self, Self::ServerExited { log_tail, .. }
            if log_tail.contains("Address already in use")
                || log_tail.contains("could not create any TCP/IP sockets"))
    }
}

// ---------------------------------------------------------------------------
// Finding the binaries
// ---------------------------------------------------------------------------

/// Finds the directory holding the PostgreSQL server binaries (`initdb`,
/// `postgres`, and beside them `pg_ctl`, `psql`, `createdb`, `pgbench`).
///
/// Looks, in order:
/// 1. in the directory named by [`BIN_DIR_ENV`] if that is set (and nowhere
///    else: a wrong setting is an error, not silently ignored);
/// 2. in the first `PATH` directory holding both `initdb` and `postgres`
///    (following a symlinked `initdb` to its real directory, which also holds
///    the client tools);
/// 3. in `pg_config --bindir`, if `pg_config` is on `PATH`;
/// 4. in the highest-versioned `/usr/lib/postgresql/*/bin` (Debian, Ubuntu),
///    then `/usr/pgsql-*/bin` (RHEL), then `/usr/local/pgsql/bin` (source
///    builds).
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
fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.mode() & 0o111 != 0)
}

/// Whether `dir` holds executable `initdb` and `postgres`.
fn has_server_binaries(dir: &Path) -> bool {
    SERVER_BINARIES.into_iter().all(|name| is_executable(&dir.join(name)))
}

/// The directory `dir/initdb` really lives in, if that is a full install
/// (e.g. `/usr/local/bin/initdb` symlinked into `/usr/lib/postgresql/15/bin`);
/// `dir` otherwise.
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

/// `parent/<prefix><version>/<sub>` for every entry whose name after
/// `prefix` is a dotted version number, highest version first.
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

/// `bin_dir/name` if it exists, else `name` from `PATH`, else `bin_dir/name`
/// (whose absence the spawn error then reports).
fn tool(bin_dir: &Path, name: &str) -> PathBuf {
    let candidate = bin_dir.join(name);
    if is_executable(&candidate) {
        return candidate;
    }
    find_on_path(name).unwrap_or(candidate)
}

/// The `psql` to use for an external server: the one beside the server
/// binaries if those are found, else the first on `PATH`.
fn find_psql() -> Result<PathBuf, ClusterError> {
    if let Ok(dir) = find_bin_dir() {
        let candidate = dir.join("psql");
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    find_on_path("psql").ok_or(ClusterError::PsqlNotFound)
}

// ---------------------------------------------------------------------------
// Who runs the server
// ---------------------------------------------------------------------------

/// The user the PostgreSQL tools run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunAs {
    /// Their user id (ours when not switching).
    uid: u32,
    /// `(uid, gid)` to switch to when we are root.
    switch_to: Option<(u32, u32)>,
}

impl RunAs {
    /// Ourselves, or the `postgres` user when we are root.
    fn detect() -> Result<Self, ClusterError> {
        let euid = effective_uid()?;
        if euid != 0 {
            return Ok(Self { uid: euid, switch_to: None });
        }
        let (uid, gid) = lookup_user(SUPERUSER).ok_or(ClusterError::NoPostgresUser)?;
        if uid == 0 {
            return Err(ClusterError::NoPostgresUser);
        }
        Ok(Self { uid, switch_to: Some((uid, gid)) })
    }

    /// Makes `command` run as this user.
    fn apply(self, command: &mut Command) {
        if let Some((uid, gid)) = self.switch_to {
            command.uid(uid).gid(gid);
        }
    }

    /// Gives `path` to this user (a no-op when not switching).
    fn chown(self, path: &Path) -> Result<(), ClusterError> {
        match self.switch_to {
            Some((uid, gid)) => {
                std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io_error("change the owner of", path))
            }
            None => Ok(()),
        }
    }

    /// A sentence for error messages when the tools run as someone else.
    fn hint(self, path: &Path) -> String {
        match self.switch_to {
            Some((uid, _)) => format!(
                "; it ran as user `{SUPERUSER}` (uid {uid}) because PostgreSQL refuses root, so \
                 that user must be able to write {} and enter every directory above it",
                path.display()
            ),
            None => String::new(),
        }
    }
}

/// This process's effective user id, from `/proc/self/status` or `id -u`.
fn effective_uid() -> Result<u32, ClusterError> {
    static EUID: OnceLock<u32> = OnceLock::new();
    if let Some(euid) = EUID.get() {
        return Ok(*euid);
    }
    let from_proc = fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|euid| euid.parse().ok())
    });
    let euid = if let Some(euid) = from_proc {
        euid
    } else {
        let output = Command::new("id")
            .arg("-u")
            .stdin(Stdio::null())
            .output()
            .map_err(|err| ClusterError::UnknownUser { detail: err.to_string() })?;
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim()
            .parse()
            .map_err(|_| ClusterError::UnknownUser { detail: format!("`id -u` printed {:?}", text.trim()) })?
    };
    Ok(*EUID.get_or_init(|| euid))
}

/// `(uid, gid)` of the user `name`, from `/etc/passwd` or `id`.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    if let Ok(passwd) = fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let mut fields = line.split(':');
            if fields.next() == Some(name) {
                let uid = fields.nth(1)?.parse().ok()?;
                let gid = fields.next()?.parse().ok()?;
                return Some((uid, gid));
            }
        }
    }
    // Users from NSS sources other than /etc/passwd (LDAP, ...).
    let id = |flag: &str| -> Option<u32> {
        let output = Command::new("id").args([flag, name]).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
        if !output.status.success() {
            return None;
        }
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// A `map_err` adapter for [`ClusterError::Io`].
fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ClusterError {
    move |source| ClusterError::Io { action, path: path.to_path_buf(), source }
}

/// A string unique among this machine's processes and calls:
/// `<pid>-<microseconds>-<counter>`.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_micros() % 1_000_000_000);
    format!("{}-{micros}-{count}", std::process::id())
}

/// Seconds since the epoch.
fn epoch_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// Creates a new directory `parent/<prefix>-<unique>` with mode 0700, owned
/// by `run_as`.
fn create_private_dir(parent: &Path, prefix: &str, run_as: RunAs) -> Result<PathBuf, ClusterError> {
    loop {
        let dir = parent.join(format!("{prefix}-{}", unique_suffix()));
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, Permissions::from_mode(0o700)).map_err(io_error("set the mode of", &dir))?;
                run_as.chown(&dir)?;
                return Ok(dir);
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(io_error("create directory", &dir)(err)),
        }
    }
}

/// The last `count` lines of `text`.
fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// The end of what was written to the log at `path` after byte `from`.
fn log_tail(path: &Path, from: u64) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let start = from.max(len.saturating_sub(TAIL_BYTES)).min(len);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) if text.trim().is_empty() => "(nothing was logged)".to_owned(),
        Ok(text) => last_lines(&text, TAIL_LINES),
        Err(err) => format!("(the log could not be read: {err})"),
    }
}

/// The end of a finished tool's stderr, then stdout.
fn output_tail(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !stdout.trim().is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&stdout);
    }
    if text.trim().is_empty() { "(no output)".to_owned() } else { last_lines(text.trim_end(), TAIL_LINES) }
}

/// `text` cut to about `max` characters for an error message.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A command for one of the cluster's tools: run as `run_as`, in `/` (which
/// every user can enter), without the caller's `PG*` variables (which could
/// redirect or reconfigure the connection), in the C locale.
fn local_command(program: &Path, run_as: RunAs) -> Command {
    let mut command = Command::new(program);
    run_as.apply(&mut command);
    command.current_dir("/");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            command.env_remove(key);
        }
    }
    command.env("LC_ALL", "C").env("PGCLIENTENCODING", "UTF8").env("PGCONNECT_TIMEOUT", "10").stdin(Stdio::null());
    command
}

/// Runs `command` to completion, capturing its output.
fn run(mut command: Command) -> Result<Output, ClusterError> {
    command.output().map_err(|source| spawn_error(&command, source))
}

/// A [`ClusterError::Spawn`] for `command`.
fn spawn_error(command: &Command, source: io::Error) -> ClusterError {
    let hint = if source.kind() == io::ErrorKind::NotFound {
        format!(
            " (is the PostgreSQL installation complete? set {BIN_DIR_ENV} to a directory with \
             initdb, postgres, pg_ctl and psql)"
        )
    } else {
        String::new()
    };
    ClusterError::Spawn { program: PathBuf::from(command.get_program()), hint, source }
}

/// Runs initdb for `data_dir`; `sync` makes it flush the files to disk.
fn run_initdb(bin_dir: &Path, run_as: RunAs, data_dir: &Path, sync: bool) -> Result<(), ClusterError> {
    let mut command = local_command(&tool(bin_dir, "initdb"), run_as);
    command.arg("-D").arg(data_dir).args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale"]);
    if !sync {
        command.arg("--no-sync");
    }
    let output = run(command)?;
    if output.status.success() {
        return Ok(());
    }
    Err(ClusterError::Initdb {
        data_dir: data_dir.to_path_buf(),
        status: output.status.to_string(),
        hint: run_as.hint(data_dir),
        output: output_tail(&output),
    })
}

/// Picks a TCP port on 127.0.0.1 that is free right now.
fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|source| ClusterError::NoFreePort { source })?;
    let addr = listener.local_addr().map_err(|source| ClusterError::NoFreePort { source })?;
    Ok(addr.port())
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
fn port_accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Whether `data_dir/postmaster.pid` says a postmaster started at or after
/// `not_before` (epoch seconds) on `port` is ready for connections.
///
/// This is the check `pg_ctl start -w` makes; the start time keeps a stale
/// file left by a crashed server from counting.
fn postmaster_ready(data_dir: &Path, port: u16, not_before: u64) -> bool {
    let Ok(text) = fs::read_to_string(data_dir.join("postmaster.pid")) else {
        return false;
    };
    let lines: Vec<&str> = text.lines().collect();
    let (Some(start), Some(file_port), Some(status)) = (lines.get(2), lines.get(3), lines.get(7)) else {
        return false;
    };
    start.trim().parse::<u64>().is_ok_and(|start| start >= not_before)
        && file_port.trim().parse::<u16>() == Ok(port)
        && status.trim() == "ready"
}

/// Waits up to `timeout` for `child` to exit; whether it did.
fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) => {}
            Err(_) => return false,
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

// ---------------------------------------------------------------------------
// The initdb template
// ---------------------------------------------------------------------------

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

/// Fills the not yet existing `data_dir` with a new cluster: a copy of the
/// shared template when that works, initdb otherwise.
fn populate_data_dir(bin_dir: &Path, run_as: RunAs, data_dir: &Path) -> Result<(), ClusterError> {
    if template_enabled() {
        match copy_from_template(bin_dir, run_as, data_dir) {
            Ok(()) => return Ok(()),
            Err(err) => {
                eprintln!("registry-store: not using the initdb template: {err}; running initdb");
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
        // Files vanished from under it (a temp cleaner?): retire it so the
        // next cluster builds a fresh one.
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

/// The `postgres --version` output of `bin_dir`, cached per directory.
fn server_version(bin_dir: &Path) -> Result<String, ClusterError> {
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

/// `"postgres (PostgreSQL) 15.8 (Debian 15.8-1)"` → `"15"`; `"... 9.6.24"` →
/// `"9.6"`; `"unknown"` when there is no version number.
fn major_version(version: &str) -> String {
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

/// 64-bit FNV-1a: a hash that stays the same across builds and processes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// Returns the shared template for `bin_dir` and `run_as`, building it first
/// if needed, with the counts its manifest records.
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
            eprintln!("registry-store: replacing broken initdb template {}: {detail}", path.display());
            retire_template(&path);
        }
    }

    let building = create_private_dir(&temp, &format!("{name}.building"), run_as)?;
    let built = build_template(bin_dir, run_as, &building);
    let counts = match built {
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

/// Runs initdb (with sync, the template is long-lived) into `dir/data` and
/// writes `dir/manifest`.
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

/// Checks the template at `path`: a real directory owned by `run_as`,
/// private, with a manifest, a `data/PG_VERSION` and no `postmaster.pid`.
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

/// Moves a broken template out of the way (atomically, so concurrent users
/// see either all or nothing of it) and deletes it. Best effort.
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

/// Copies the tree `from` to the new directory `to`, keeping modes and
/// giving everything to `run_as`, and adds up what it copied.
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

// ---------------------------------------------------------------------------
// Leftovers of killed processes
// ---------------------------------------------------------------------------

/// Runs [`sweep_stale_dirs`] on `temp` once per process.
fn sweep_stale_dirs_once(temp: &Path, run_as: RunAs) {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| sweep_stale_dirs(temp, run_as.uid, STALE_AGE));
}

/// The pid in a name this module gives its directories in the temp dir:
/// `pgreg-<pid>-...`, `<template>.building-<pid>-...`, `<template>.stale-<pid>-...`.
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

/// Removes directories in `parent` that a killed process of this module left
/// behind: named by [`owner_pid`] after a process that no longer exists,
/// owned by `uid`, older than `min_age`, and with no server running in them
/// (no `data/postmaster.pid`). Best effort, Linux only (needs `/proc`).
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

// ---------------------------------------------------------------------------
// LocalCluster
// ---------------------------------------------------------------------------

/// Options for starting a [`LocalCluster`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterOptions {
    /// TCP port to listen on; `None` picks a free one (and retries with
    /// another if it is taken before the server binds it).
    pub port: Option<u16>,
}

impl ClusterOptions {
    /// Listens on `port` instead of a free port picked at start, e.g. for a
    /// persistent cluster that clients find at a configured address.
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
}

/// Whether a cluster is thrown away on drop.
#[derive(Debug)]
enum Lifetime {
    /// Lives in `root`, which is deleted on drop.
    Temporary {
        /// The private directory holding data, socket and log.
        root: PathBuf,
    },
    /// Its data directory stays.
    Persistent,
}

/// How to shut the server down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopMode {
    /// SIGINT: disconnect clients, checkpoint, exit.
    Fast,
    /// SIGQUIT: exit at once; the next start runs crash recovery.
    Immediate,
}

/// A running server: the watchdog shell and our end of its command pipe.
#[derive(Debug)]
struct Server {
    /// The `/bin/sh` watchdog; it exits when postgres has.
    child: Child,
    /// Lines written here are shutdown requests; closing it is one too.
    control: Option<ChildStdin>,
}

/// Which port a start uses.
#[derive(Debug, Clone, Copy)]
enum PortChoice {
    /// A free one, picked anew for each attempt.
    Any,
    /// Exactly this one.
    Fixed(u16),
}

/// A PostgreSQL server this process started on 127.0.0.1, with superuser
/// [`SUPERUSER`] and trust authentication.
///
/// A temporary cluster ([`LocalCluster::start_temporary`]) lives in a private
/// directory under the system temp dir that is removed on drop; a persistent
/// one ([`LocalCluster::start_persistent`]) keeps its data directory. Either
/// way the server is stopped when the value is dropped (or [`stop`]ped), and
/// also if this process dies (see the module docs).
///
/// [`stop`]: LocalCluster::stop
#[derive(Debug)]
pub struct LocalCluster {
    /// Where the PostgreSQL binaries are.
    bin_dir: PathBuf,
    /// Who runs them.
    run_as: RunAs,
    /// Thrown away or kept.
    lifetime: Lifetime,
    /// The cluster's data directory (absolute).
    data_dir: PathBuf,
    /// Unix socket directory, if the path is short enough for one.
    socket_dir: Option<PathBuf>,
    /// The server log.
    log_path: PathBuf,
    /// The TCP port.
    port: u16,
    /// Whether temporary-cluster speed settings (no fsync, ...) are used.
    durable: bool,
    /// The running server, if any.
    server: Option<Server>,
}

impl LocalCluster {
    /// Starts a throw-away cluster on a free port: a private directory under
    /// [`std::env::temp_dir`] with `data/`, `socket/` and `postgres.log`,
    /// removed again when the cluster is dropped. Durability is traded for
    /// speed (`fsync=off` and friends).
    pub fn start_temporary() -> Result<Self, ClusterError> {
        Self::start_temporary_with(&ClusterOptions::default())
    }

    /// [`LocalCluster::start_temporary`] with options.
    pub fn start_temporary_with(options: &ClusterOptions) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir()?;
        let run_as = RunAs::detect()?;
        let temp = std::env::temp_dir();
        sweep_stale_dirs_once(&temp, run_as);
        let root = create_private_dir(&temp, TEMPORARY_PREFIX, run_as)?;
        // From here on, dropping `cluster` removes `root` again.
        let mut cluster = Self {
            bin_dir,
            run_as,
            data_dir: root.join("data"),
            socket_dir: None,
            log_path: root.join(LOG_FILE),
            port: 0,
            durable: false,
            server: None,
            lifetime: Lifetime::Temporary { root: root.clone() },
        };
        let socket_dir = root.join("socket");
        if socket_dir.join(".s.PGSQL.65535").as_os_str().len() <= MAX_SOCKET_PATH {
            DirBuilder::new().mode(0o700).create(&socket_dir).map_err(io_error("create directory", &socket_dir))?;
            run_as.chown(&socket_dir)?;
            cluster.socket_dir = Some(socket_dir);
        }
        populate_data_dir(&cluster.bin_dir, run_as, &cluster.data_dir)?;
        cluster.start_server(options.port.map_or(PortChoice::Any, PortChoice::Fixed))?;
        Ok(cluster)
    }

    /// Starts a cluster whose data lives on in `data_dir`: runs initdb there
    /// if `data_dir/PG_VERSION` is missing (creating the directory if
    /// needed), reuses the cluster otherwise, and starts it on a free port.
    /// Dropping it stops the server (fast shutdown) but keeps the data. The
    /// server uses PostgreSQL's default durability settings, has no Unix
    /// socket and logs to `data_dir/postgres.log`.
    pub fn start_persistent(data_dir: &Path) -> Result<Self, ClusterError> {
        Self::start_persistent_with(data_dir, &ClusterOptions::default())
    }

    /// [`LocalCluster::start_persistent`] with options (e.g. a fixed port).
    pub fn start_persistent_with(data_dir: &Path, options: &ClusterOptions) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir()?;
        let run_as = RunAs::detect()?;
        let data_dir = std::path::absolute(data_dir).map_err(io_error("resolve", data_dir))?;
        if !data_dir.join("PG_VERSION").is_file() {
            if let Some(parent) = data_dir.parent() {
                fs::create_dir_all(parent).map_err(io_error("create directory", parent))?;
            }
            match DirBuilder::new().mode(0o700).create(&data_dir) {
                Ok(()) => run_as.chown(&data_dir)?,
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    // An empty directory prepared for us: hand it over.
                    let empty =
                        fs::read_dir(&data_dir).map_err(io_error("read directory", &data_dir))?.next().is_none();
                    if empty {
                        run_as.chown(&data_dir)?;
                    }
                }
                Err(err) => return Err(io_error("create directory", &data_dir)(err)),
            }
            run_initdb(&bin_dir, run_as, &data_dir, true)?;
        }
        let mut cluster = Self {
            bin_dir,
            run_as,
            log_path: data_dir.join(LOG_FILE),
            data_dir,
            socket_dir: None,
            port: 0,
            durable: true,
            server: None,
            lifetime: Lifetime::Persistent,
        };
        cluster.start_server(options.port.map_or(PortChoice::Any, PortChoice::Fixed))?;
        Ok(cluster)
    }

    /// The TCP port the server listens on (on [`HOST`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the server listens on: always [`HOST`] (`127.0.0.1`).
    pub fn host(&self) -> &'static str {
        HOST
    }

    /// The directory of the PostgreSQL binaries used, for running further
    /// tools (`pgbench`, `createdb`, ...) against this cluster.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory of the server's Unix socket, if it has one (temporary
    /// clusters whose path is short enough).
    pub fn socket_dir(&self) -> Option<&Path> {
        self.socket_dir.as_deref()
    }

    /// The server's log file (stdout and stderr of `postgres`), the first
    /// place to look when a test sees odd server behaviour.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The connection URL for `database` as the superuser:
    /// `postgresql://postgres@127.0.0.1:PORT/DATABASE` (the name is
    /// percent-encoded where needed).
    pub fn url(&self, database: &str) -> String {
        format!("postgresql://{SUPERUSER}@{HOST}:{}/{}", self.port, percent_encode(database))
    }

    /// Creates the database `name` (see [`ClusterError::InvalidDatabaseName`]
    /// for the accepted names); one that already exists is fine.
    pub fn create_database(&self, name: &str) -> Result<(), ClusterError> {
        create_database_via(name, |sql| self.psql("postgres", sql)).map(|_| ())
    }

    /// Runs `sql` with `psql` (no psqlrc, unaligned, tuples only, quiet,
    /// stop at the first error) on `database` (a name [`create_database`]
    /// accepts, or `postgres`) and returns its stdout: one line per row,
    /// columns separated by `|`, each ending with a newline. An error carries
    /// psql's stderr.
    ///
    /// [`create_database`]: LocalCluster::create_database
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, ClusterError> {
        validate_database_name(database)?;
        if self.server.is_none() {
            return Err(ClusterError::NotRunning { data_dir: self.data_dir.clone() });
        }
        let mut command = local_command(&tool(&self.bin_dir, "psql"), self.run_as);
        command
            .args(PSQL_FLAGS)
            .args(["-h", HOST, "-p", &self.port.to_string(), "-U", SUPERUSER, "-d", database])
            .arg("-c")
            .arg(sql);
        run_psql(command, database, sql)
    }

    /// Stops the server (immediately for a temporary cluster, with a fast
    /// shutdown for a persistent one) and, for a temporary cluster, removes
    /// its directory. The same as dropping it; problems are reported on
    /// stderr.
    pub fn stop(self) {
        drop(self);
    }

    /// Stops the server (fast shutdown) and starts it again on the same port
    /// and data directory, e.g. to test that clients recover from a server
    /// restart. If starting fails, the cluster stays stopped and [`psql`]
    /// reports that.
    ///
    /// [`psql`]: LocalCluster::psql
    pub fn restart(&mut self) -> Result<(), ClusterError> {
        if let Some(server) = self.server.take() {
            self.shutdown(server, StopMode::Fast)
                .map_err(|detail| ClusterError::Stop { data_dir: self.data_dir.clone(), detail })?;
        }
        self.start_server(PortChoice::Fixed(self.port))
    }

    /// Starts `postgres`, retrying on a new port if a picked one was taken
    /// (or briefly, for a fixed one).
    fn start_server(&mut self, choice: PortChoice) -> Result<(), ClusterError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = match choice {
                PortChoice::Any => free_port()?,
                PortChoice::Fixed(port) => port,
            };
            match self.spawn_server(port) {
                Ok(server) => {
                    self.port = port;
                    self.server = Some(server);
                    return Ok(());
                }
                Err(err) if err.is_address_in_use() && attempt < PORT_ATTEMPTS => {
                    if matches!(choice, PortChoice::Fixed(_)) {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Spawns `postgres` on `port` under the watchdog and waits until it
    /// accepts connections.
    fn spawn_server(&self, port: u16) -> Result<Server, ClusterError> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(io_error("open the server log", &self.log_path))?;
        let log_offset = log.metadata().map_err(io_error("inspect", &self.log_path))?.len();
        let log_for_stderr = log.try_clone().map_err(io_error("open the server log", &self.log_path))?;

        let mut command = local_command(Path::new("/bin/sh"), self.run_as);
        command
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("registry-store-postgres")
            .arg(tool(&self.bin_dir, "postgres"))
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(self.socket_dir.as_deref().unwrap_or(Path::new("")))
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"]);
        if !self.durable {
            command.args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }
        command.stdin(Stdio::piped()).stdout(Stdio::from(log)).stderr(Stdio::from(log_for_stderr));

        let not_before = epoch_seconds().saturating_sub(1);
        let mut child = command.spawn().map_err(|source| spawn_error(&command, source))?;
        let control = child.stdin.take();
        let mut server = Server { child, control };

        let deadline = Instant::now() + START_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        loop {
            match server.child.try_wait() {
                Ok(Some(status)) => {
                    return Err(ClusterError::ServerExited {
                        data_dir: self.data_dir.clone(),
                        port,
                        status: status.to_string(),
                        log_path: self.log_path.clone(),
                        log_tail: log_tail(&self.log_path, log_offset),
                    });
                }
                Ok(None) => {}
                Err(source) => {
                    let _ = self.shutdown(server, StopMode::Immediate);
                    return Err(ClusterError::Io {
                        action: "wait for the server process of",
                        path: self.data_dir.clone(),
                        source,
                    });
                }
            }
            if postmaster_ready(&self.data_dir, port, not_before) && port_accepts(port) {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                let _ = self.shutdown(server, StopMode::Immediate);
                return Err(ClusterError::StartTimeout {
                    data_dir: self.data_dir.clone(),
                    port,
                    waited: START_TIMEOUT,
                    log_path: self.log_path.clone(),
                    log_tail: log_tail(&self.log_path, log_offset),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Shuts `server` down in `mode`, escalating to an immediate shutdown,
    /// then to `pg_ctl stop -m immediate` and killing the watchdog. Always
    /// reaps the watchdog process.
    fn shutdown(&self, server: Server, mode: StopMode) -> Result<(), String> {
        let Server { mut child, mut control } = server;
        let (request, timeout) = match mode {
            StopMode::Fast => (&b"fast\n"[..], FAST_STOP_TIMEOUT),
            StopMode::Immediate => (&b"immediate\n"[..], IMMEDIATE_STOP_TIMEOUT),
        };
        let sent = control.as_mut().is_some_and(|pipe| pipe.write_all(request).and_then(|()| pipe.flush()).is_ok());
        if sent && wait_exit(&mut child, timeout) {
            return Ok(());
        }
        // Closing the pipe asks the watchdog for an immediate shutdown.
        drop(control.take());
        if wait_exit(&mut child, IMMEDIATE_STOP_TIMEOUT) {
            return Ok(());
        }
        // The watchdog is unresponsive: signal the postmaster via its pid file.
        let mut pg_ctl = local_command(&tool(&self.bin_dir, "pg_ctl"), self.run_as);
        pg_ctl.arg("-D").arg(&self.data_dir).args(["stop", "-m", "immediate", "-w", "-t", "10"]);
        let pg_ctl_result = run(pg_ctl);
        let _ = child.kill();
        let _ = child.wait();
        match pg_ctl_result {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(format!(
                "the server did not stop when asked, and pg_ctl stop failed ({}): {}; see {}",
                output.status,
                output_tail(&output),
                self.log_path.display()
            )),
            Err(err) => Err(format!("the server did not stop when asked, and pg_ctl could not run: {err}")),
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let mode = match self.lifetime {
                Lifetime::Temporary { .. } => StopMode::Immediate,
                Lifetime::Persistent => StopMode::Fast,
            };
            if let Err(detail) = self.shutdown(server, mode) {
                eprintln!(
                    "registry-store: could not stop the PostgreSQL server for {}: {detail}",
                    self.data_dir.display()
                );
            }
        }
        if let Lifetime::Temporary { root } = &self.lifetime
            && let Err(err) = fs::remove_dir_all(root)
            && err.kind() != io::ErrorKind::NotFound
        {
            eprintln!("registry-store: could not remove the temporary cluster {}: {err}", root.display());
        }
    }
}

// ---------------------------------------------------------------------------
// Databases, psql and URLs
// ---------------------------------------------------------------------------

/// Checks that `name` is `[a-z_][a-z0-9_]*` and at most 63 bytes: a name
/// that needs no quoting or escaping in SQL, URLs or psql arguments.
fn validate_database_name(name: &str) -> Result<(), ClusterError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_IDENTIFIER_BYTES {
        Some("it is longer than 63 bytes")
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        Some("it starts with a digit")
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        Some("it contains a character outside [a-z0-9_]")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ClusterError::InvalidDatabaseName { name: name.to_owned(), reason }),
        None => Ok(()),
    }
}

/// A database name `<prefix>_<pid>_<time>_<counter>` unlikely to exist on a
/// shared server, cut to 63 bytes.
fn unique_database_name(prefix: &str) -> Result<String, ClusterError> {
    validate_database_name(prefix)?;
    let suffix = format!("_{}", unique_suffix().replace('-', "_"));
    let keep = MAX_IDENTIFIER_BYTES.saturating_sub(suffix.len());
    let prefix = prefix.get(..keep.min(prefix.len())).unwrap_or(prefix);
    Ok(format!("{prefix}{suffix}"))
}

/// Whether `CREATE DATABASE` made a new database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Created {
    /// It did.
    New,
    /// One of that name was already there.
    Existed,
}

/// Runs `CREATE DATABASE "name"` through `psql_on_postgres`.
fn create_database_via(
    name: &str,
    psql_on_postgres: impl FnOnce(&str) -> Result<String, ClusterError>,
) -> Result<Created, ClusterError> {
    validate_database_name(name)?;
    match psql_on_postgres(&format!("CREATE DATABASE \"{name}\"")) {
        Ok(_) => Ok(Created::New),
        // 42P04 duplicate_database; a concurrent CREATE of the same name can
        // also hit the unique index instead.
        Err(ClusterError::Psql { stderr, .. })
            if stderr.contains("42P04") || stderr.contains("pg_database_datname_index") =>
        {
            Ok(Created::Existed)
        }
        Err(err) => Err(err),
    }
}

/// Runs a prepared psql command and turns a failure into
/// [`ClusterError::Psql`].
fn run_psql(command: Command, database: &str, sql: &str) -> Result<String, ClusterError> {
    let output = run(command)?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(ClusterError::Psql {
        database: database.to_owned(),
        sql: shorten(sql, 200),
        status: output.status.to_string(),
        stderr: if stderr.trim().is_empty() {
            "(no error output)".to_owned()
        } else {
            last_lines(stderr.trim_end(), TAIL_LINES)
        },
    })
}

/// Percent-encodes everything but unreserved URL characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// A `postgres://` or `postgresql://` URL split around its database name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServerUrl {
    /// Scheme and authority: `postgresql://user:pw@host:port`.
    base: String,
    /// The database path segment, without the slash (may be empty).
    database: String,
    /// The query string including `?`, or empty.
    query: String,
}

impl ServerUrl {
    /// Splits `url`; the error says what is wrong.
    fn parse(url: &str) -> Result<Self, String> {
        let Some(scheme_len) =
            ["postgresql://", "postgres://"].into_iter().find(|scheme| url.starts_with(scheme)).map(str::len)
        else {
            return Err("it does not start with postgresql:// or postgres://".to_owned());
        };
        let rest = &url[scheme_len..];
        let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_len);
        let (path, query) = after.split_at(after.find('?').unwrap_or(after.len()));
        let database = path.strip_prefix('/').unwrap_or(path);
        if database.contains('/') {
            return Err("its path has more than one segment".to_owned());
        }
        Ok(Self {
            base: format!("{}{authority}", &url[..scheme_len]),
            database: database.to_owned(),
            query: query.to_owned(),
        })
    }

    /// The same server with `database` as the database.
    fn with_database(&self, database: &str) -> String {
        format!("{}/{}{}", self.base, percent_encode(database), self.query)
    }
}

/// `url` with any password replaced by `***`, for messages.
fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    match authority[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..scheme_end], &authority[..colon], &rest[at..]),
        None => url.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// TestServer
// ---------------------------------------------------------------------------

/// A PostgreSQL server for a test: either an external one named by
/// [`TEST_DATABASE_URL_ENV`] or a temporary [`LocalCluster`] owned (and
/// stopped on drop) by this value. Get one with [`test_server`].
///
/// Tests should work in their own databases ([`create_unique_database`]),
/// since an external server is shared. On an external server, the databases
/// created through this value are dropped again when it is dropped, unless
/// the thread is panicking (then they are kept for inspection and named on
/// stderr).
///
/// [`create_unique_database`]: TestServer::create_unique_database
pub struct TestServer {
    /// The server.
    backend: Backend,
    /// Databases this value created (dropped again on an external server).
    created: Mutex<Vec<String>>,
}

/// Where a [`TestServer`] runs.
enum Backend {
    /// A cluster we started.
    Local(LocalCluster),
    /// A server someone else runs.
    External {
        /// Its URL, split.
        url: ServerUrl,
        /// The psql to reach it with.
        psql: PathBuf,
    },
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Backend::Local(cluster) => f.debug_tuple("TestServer::Local").field(cluster).finish(),
            Backend::External { url, .. } => {
                f.debug_tuple("TestServer::External").field(&redact_url(&url.with_database(&url.database))).finish()
            }
        }
    }
}

/// The server tests should use: the one at [`TEST_DATABASE_URL_ENV`] if that
/// variable is set (checked with a `select 1` so a wrong URL fails early and
/// clearly), else a freshly started temporary [`LocalCluster`].
pub fn test_server() -> Result<TestServer, ClusterError> {
    match std::env::var(TEST_DATABASE_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => TestServer::from_url(url.trim()),
        Err(std::env::VarError::NotUnicode(url)) => Err(ClusterError::InvalidUrl {
            url: url.to_string_lossy().into_owned(),
            reason: "it is not valid UTF-8".to_owned(),
        }),
        _ => Ok(TestServer::from_cluster(LocalCluster::start_temporary()?)),
    }
}

impl TestServer {
    /// Uses the external server at `url` (its database is the one
    /// administrative commands connect to, usually `postgres`). Fails unless
    /// `psql` is found and can run `select 1` there.
    pub fn from_url(url: &str) -> Result<Self, ClusterError> {
        let parsed =
            ServerUrl::parse(url).map_err(|reason| ClusterError::InvalidUrl { url: redact_url(url), reason })?;
        let server =
            Self { backend: Backend::External { url: parsed, psql: find_psql()? }, created: Mutex::new(Vec::new()) };
        server.admin_psql("select 1").map_err(|err| ClusterError::InvalidUrl {
            url: redact_url(url),
            reason: format!("the server does not answer: {err}"),
        })?;
        Ok(server)
    }

    /// Wraps a cluster started by the caller (e.g. with options).
    pub fn from_cluster(cluster: LocalCluster) -> Self {
        Self { backend: Backend::Local(cluster), created: Mutex::new(Vec::new()) }
    }

    /// The local cluster, if this server is one (for [`LocalCluster::restart`]
    /// and friends); `None` for an external server.
    pub fn local_cluster(&self) -> Option<&LocalCluster> {
        match &self.backend {
            Backend::Local(cluster) => Some(cluster),
            Backend::External { .. } => None,
        }
    }

    /// Mutable access to the local cluster (to [`LocalCluster::restart`] it);
    /// `None` for an external server.
    pub fn local_cluster_mut(&mut self) -> Option<&mut LocalCluster> {
        match &mut self.backend {
            Backend::Local(cluster) => Some(cluster),
            Backend::External { .. } => None,
        }
    }

    /// The connection URL for `database` on this server (with the user and
    /// password of [`TEST_DATABASE_URL_ENV`] for an external server).
    pub fn url(&self, database: &str) -> String {
        match &self.backend {
            Backend::Local(cluster) => cluster.url(database),
            Backend::External { url, .. } => url.with_database(database),
        }
    }

    /// Creates the database `name`; one that already exists is fine.
    pub fn create_database(&self, name: &str) -> Result<(), ClusterError> {
        let created = create_database_via(name, |sql| self.admin_psql(sql))?;
        if created == Created::New {
            self.remember(name);
        }
        Ok(())
    }

    /// Creates a new database named `<prefix>_<pid>_<time>_<counter>` and
    /// returns its name; the way for a test to get a database of its own on
    /// a shared server.
    pub fn create_unique_database(&self, prefix: &str) -> Result<String, ClusterError> {
        let mut name = unique_database_name(prefix)?;
        // A name can only exist already if someone else made it; try a few.
        for _ in 0..10 {
            if create_database_via(&name, |sql| self.admin_psql(sql))? == Created::New {
                self.remember(&name);
                return Ok(name);
            }
            name = unique_database_name(prefix)?;
        }
        Err(ClusterError::InvalidDatabaseName {
            name,
            reason: "ten generated names with this prefix all existed already",
        })
    }

    /// Runs `sql` with psql on `database`, like [`LocalCluster::psql`].
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, ClusterError> {
        match &self.backend {
            Backend::Local(cluster) => cluster.psql(database, sql),
            Backend::External { url, psql } => {
                validate_database_name(database)?;
                let mut command = Command::new(psql);
                command
                    .args(PSQL_FLAGS)
                    .arg("-d")
                    .arg(url.with_database(database))
                    .arg("-c")
                    .arg(sql)
                    .env("PGCLIENTENCODING", "UTF8")
                    .stdin(Stdio::null());
                if std::env::var_os("PGCONNECT_TIMEOUT").is_none() {
                    command.env("PGCONNECT_TIMEOUT", "10");
                }
                run_psql(command, database, sql)
            }
        }
    }

    /// Runs `sql` on the administrative database (`postgres` locally, the
    /// URL's own database externally).
    fn admin_psql(&self, sql: &str) -> Result<String, ClusterError> {
        match &self.backend {
            Backend::Local(cluster) => cluster.psql("postgres", sql),
            Backend::External { url, .. } => {
                let database = if url.database.is_empty() { "postgres" } else { url.database.as_str() };
                self.psql(database, sql)
            }
        }
    }

    /// Notes a database this value created.
    fn remember(&self, name: &str) {
        self.created.lock().unwrap_or_else(PoisonError::into_inner).push(name.to_owned());
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if !matches!(self.backend, Backend::External { .. }) {
            return; // the cluster, with its databases, goes away by itself
        }
        let created = std::mem::take(self.created.get_mut().unwrap_or_else(PoisonError::into_inner));
        if created.is_empty() {
            return;
        }
        if std::thread::panicking() {
            eprintln!(
                "registry-store: keeping test databases {} on {} for inspection",
                created.join(", "),
                TEST_DATABASE_URL_ENV
            );
            return;
        }
        for name in created {
            let forced = self.admin_psql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            // WITH (FORCE) needs PostgreSQL 13; try the plain form on older ones.
            if forced.is_err()
                && let Err(err) = self.admin_psql(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            {
                eprintln!("registry-store: could not drop test database {name}: {err}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unwraps with the error's Display form, which is the readable one.
    fn ok<T>(result: Result<T, ClusterError>) -> T {
        match result {
            Ok(value) => value,
            Err(err) => panic!("{err}"),
        }
    }

    #[test]
    fn find_bin_dir_finds_server_binaries() {
        let dir = ok(find_bin_dir());
        for name in ["initdb", "postgres", "pg_ctl", "psql"] {
            assert!(is_executable(&dir.join(name)), "{} lacks {name}", dir.display());
        }
    }

    #[test]
    fn temporary_cluster_lifecycle() {
        let started = Instant::now();
        let mut cluster = ok(LocalCluster::start_temporary());
        println!("temporary cluster started in {:?}", started.elapsed());

        let port = cluster.port();
        let root = cluster.data_dir().parent().map(Path::to_path_buf).unwrap();
        assert!(root.is_dir());
        assert!(cluster.log_path().is_file());
        assert_eq!(cluster.host(), "127.0.0.1");
        assert_eq!(cluster.url("app_db"), format!("postgresql://postgres@127.0.0.1:{port}/app_db"));
        let mode = fs::metadata(&root).unwrap().mode();
        assert_eq!(mode & 0o777, 0o700);

        ok(cluster.create_database("app_db"));
        ok(cluster.create_database("app_db")); // exists: still fine
        assert_eq!(ok(cluster.psql("app_db", "select 1")).trim(), "1");
        ok(cluster.psql("app_db", "create table t (x int); insert into t values (7), (8)"));
        assert_eq!(ok(cluster.psql("app_db", "select x from t order by x")), "7\n8\n");

        let err = cluster.psql("app_db", "select nope").unwrap_err();
        assert!(matches!(err, ClusterError::Psql { .. }), "{err}");
        assert!(err.to_string().contains("nope"), "{err}");
        let err = cluster.create_database("Bad-Name").unwrap_err();
        assert!(matches!(err, ClusterError::InvalidDatabaseName { .. }), "{err}");

        let restarted = Instant::now();
        ok(cluster.restart());
        println!("restart took {:?}", restarted.elapsed());
        assert_eq!(cluster.port(), port);
        assert_eq!(ok(cluster.psql("app_db", "select count(*) from t")).trim(), "2");

        let stopped = Instant::now();
        drop(cluster);
        println!("drop took {:?}", stopped.elapsed());
        assert!(!root.exists(), "{} still exists", root.display());
        assert!(!port_accepts(port), "port {port} still accepts connections");
    }

    #[test]
    fn persistent_cluster_keeps_its_data() {
        let base = std::env::temp_dir().join(format!("pgreg-persistent-test-{}", unique_suffix()));
        let data = base.join("nested").join("data");

        let cluster = ok(LocalCluster::start_persistent(&data));
        let first_port = cluster.port();
        ok(cluster.psql("postgres", "create table kept (x int); insert into kept values (42)"));
        cluster.stop();
        assert!(data.join("PG_VERSION").is_file());
        assert!(!data.join("postmaster.pid").exists(), "server still running");
        assert!(!port_accepts(first_port));

        let port = ok(free_port());
        let cluster = ok(LocalCluster::start_persistent_with(&data, &ClusterOptions::default().with_port(port)));
        assert_eq!(cluster.port(), port);
        assert_eq!(ok(cluster.psql("postgres", "select x from kept")).trim(), "42");
        drop(cluster);
        assert!(data.join("PG_VERSION").is_file(), "data dir was removed");

        fs::remove_dir_all(&base).unwrap();
    }

    #[tokio::test]
    async fn test_server_url_works_with_tokio_postgres() {
        let server = ok(test_server());
        let database = ok(server.create_unique_database("cluster_test"));
        assert!(database.starts_with("cluster_test_") && database.len() <= 63, "{database}");
        assert_eq!(ok(server.psql(&database, "select 1")).trim(), "1");

        let (client, connection) =
            tokio_postgres::connect(&server.url(&database), tokio_postgres::NoTls).await.unwrap();
        let connection = tokio::spawn(connection);
        let row = client.query_one("select current_database()", &[]).await.unwrap();
        let name: String = row.get(0);
        assert_eq!(name, database);
        drop(client);
        connection.await.unwrap().unwrap();
    }

    #[test]
    fn database_names_are_validated() {
        for good in ["a", "_x", "app_db_1", &"a".repeat(63)] {
            assert!(validate_database_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1abc", "Upper", "has-dash", "sp ace", "quo\"te", &"a".repeat(64)] {
            assert!(validate_database_name(bad).is_err(), "{bad}");
        }
        let long = unique_database_name(&"p".repeat(63)).unwrap();
        assert!(validate_database_name(&long).is_ok(), "{long}");
        assert_ne!(unique_database_name("p").unwrap(), unique_database_name("p").unwrap());
    }

    #[test]
    fn urls_are_split_and_redacted() {
        let url = ServerUrl::parse("postgresql://u:secret@db:5432/postgres?sslmode=disable").unwrap();
        assert_eq!(url.database, "postgres");
        assert_eq!(url.with_database("t_1"), "postgresql://u:secret@db:5432/t_1?sslmode=disable");
        let bare = ServerUrl::parse("postgres://localhost").unwrap();
        assert_eq!(bare.database, "");
        assert_eq!(bare.with_database("x"), "postgres://localhost/x");
        assert!(ServerUrl::parse("mysql://x/y").is_err());
        assert!(ServerUrl::parse("postgresql://h/a/b").is_err());

        assert_eq!(redact_url("postgresql://u:secret@db:5432/postgres"), "postgresql://u:***@db:5432/postgres");
        assert_eq!(redact_url("postgresql://u@db/p"), "postgresql://u@db/p");
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn stale_dirs_of_dead_processes_are_swept() {
        let parent = std::env::temp_dir().join(format!("pgreg-sweep-test-{}", unique_suffix()));
        fs::create_dir(&parent).unwrap();
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
            fs::create_dir_all(parent.join(name).join("data")).unwrap();
        }
        fs::write(parent.join(&names[1]).join("data/postmaster.pid"), "1\n").unwrap();
        let uid = fs::metadata(&parent).unwrap().uid();

        sweep_stale_dirs(&parent, uid, Duration::from_mins(10));
        assert!(names.iter().all(|name| parent.join(name).exists()), "young dirs were swept");

        sweep_stale_dirs(&parent, uid, Duration::ZERO);
        let left: Vec<bool> = names.iter().map(|name| parent.join(name).exists()).collect();
        assert_eq!(left, [false, true, true, false, true, true]);
        assert_eq!(owner_pid("pgreg-persistent-test-1"), None);

        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn versions_and_helpers() {
        assert_eq!(major_version("postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"), "15");
        assert_eq!(major_version("postgres (PostgreSQL) 9.6.24"), "9.6");
        assert_eq!(major_version("postgres (PostgreSQL) 17beta1"), "17");
        assert_eq!(major_version("garbage"), "unknown");
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("x"), None);
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(parse_manifest("files=3\nbytes=10\n"), Some(TreeCounts { files: 3, bytes: 10 }));
        assert_eq!(parse_manifest("files=3\n"), None);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert!(ok(effective_uid()) == 0 || ok(RunAs::detect()).switch_to.is_none());
    }
}
