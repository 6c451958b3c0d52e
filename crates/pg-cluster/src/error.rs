//! [`ClusterError`]: why a local cluster or test server could not be found, started or used.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::binaries::BIN_DIR_ENV;

/// Environment variable with the URL of an existing server that the tests use instead of
/// a local cluster (see the `test-support` feature).
pub const TEST_DATABASE_URL_ENV: &str = "REGISTRY_TEST_DATABASE_URL";

/// Why a local cluster or test server could not be found, started or used.
///
/// Every message says what failed and what to do about it; failures of `initdb`,
/// `postgres` and `psql` quote the end of their output or log.
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

    /// The effective user id, or a user's name, could not be determined.
    #[error("could not determine {what}: {detail}")]
    UnknownUser {
        /// What was looked up.
        what: String,
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

    /// A directory the cluster relies on for its privacy is not private.
    #[error("{} cannot be used: {detail}", path.display())]
    UnsafePath {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
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

    /// No free TCP port could be picked (for the TLS listener).
    #[error("could not find a free TCP port on 127.0.0.1: {source}")]
    NoFreePort {
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// `postgres` exited while starting.
    #[error(
        "the PostgreSQL server for {} exited during startup ({status}); its log {} ends with:\n{log_tail}",
        data_dir.display(),
        log_path.display()
    )]
    ServerExited {
        /// The data directory.
        data_dir: PathBuf,
        /// Its exit status.
        status: String,
        /// The server log.
        log_path: PathBuf,
        /// The end of what this start wrote to the log.
        log_tail: String,
    },

    /// `postgres` did not become ready in time.
    #[error(
        "the PostgreSQL server for {} did not accept connections within {} s (it was shut down \
         again); its log {} ends with:\n{log_tail}",
        data_dir.display(),
        waited.as_secs(),
        log_path.display()
    )]
    StartTimeout {
        /// The data directory.
        data_dir: PathBuf,
        /// How long we waited.
        waited: Duration,
        /// The server log.
        log_path: PathBuf,
        /// The end of what this start wrote to the log.
        log_tail: String,
    },

    /// The server could not be stopped (during [`crate::LocalCluster::restart`]).
    #[error("could not stop the PostgreSQL server for {}: {detail}", data_dir.display())]
    Stop {
        /// The data directory.
        data_dir: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// The cluster's server is not running (it died, or a restart failed).
    #[error(
        "the PostgreSQL server for {} is not running; call restart() or start a new cluster",
        data_dir.display()
    )]
    NotRunning {
        /// The data directory.
        data_dir: PathBuf,
    },

    /// A database or role name outside the accepted form.
    #[error(
        "invalid {kind} name {name:?}: {reason}; use 1 to 63 characters from [a-z0-9_] not \
         starting with a digit"
    )]
    InvalidName {
        /// `database` or `role`.
        kind: &'static str,
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
    /// Whether this is a start failure that a retry a moment later may not have: the TCP
    /// port was taken, or a killed server's processes still hold its shared memory or lock
    /// file.
    pub(crate) fn is_transient_start_failure(&self) -> bool {
        matches!(self, Self::ServerExited { log_tail, .. }
            if log_tail.contains("Address already in use")
                || log_tail.contains("could not create any TCP/IP sockets")
                || log_tail.contains("pre-existing shared memory block")
                || log_tail.contains("lock file") && log_tail.contains("already exists"))
    }
}

/// A `map_err` adapter for [`ClusterError::Io`].
pub(crate) fn io_error(action: &'static str, path: &std::path::Path) -> impl FnOnce(io::Error) -> ClusterError {
    move |source| ClusterError::Io { action, path: path.to_path_buf(), source }
}
