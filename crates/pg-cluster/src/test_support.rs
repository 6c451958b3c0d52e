//! Test helpers (feature `test-support`): the PostgreSQL server a test should use.
//!
//! [`test_server`] starts a throw-away [`LocalCluster`], with the same private socket and
//! authentication as every cluster of this crate, or, when [`TEST_DATABASE_URL_ENV`] is
//! set, uses the external server it names (clearly separate: its access is whatever that
//! server allows).

use std::fmt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

use crate::LocalCluster;
use crate::binaries::find_psql;
use crate::cluster::{Created, create_database_via};
use crate::error::ClusterError;
pub use crate::error::TEST_DATABASE_URL_ENV;
use crate::tools::{MAX_IDENTIFIER_BYTES, PSQL_FLAGS, percent_encode, run_psql, unique_suffix, validate_name};

/// A PostgreSQL server for a test: either an external one named by
/// [`TEST_DATABASE_URL_ENV`] or a temporary [`LocalCluster`] owned (and stopped on drop)
/// by this value. Get one with [`test_server`].
///
/// Tests should work in their own databases ([`TestServer::create_unique_database`]),
/// since an external server is shared. On an external server, the databases created
/// through this value are dropped again when it is dropped, unless the thread is
/// panicking (then they are kept for inspection and named on stderr).
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

/// The server tests should use: the one at [`TEST_DATABASE_URL_ENV`] if that variable is
/// set (checked with a `select 1` so a wrong URL fails early and clearly), else a freshly
/// started temporary [`LocalCluster`].
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
    /// Uses the external server at `url` (its database is the one administrative commands
    /// connect to, usually `postgres`). Fails unless `psql` is found and can run
    /// `select 1` there.
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

    /// The local cluster, if this server is one; `None` for an external server.
    pub fn local_cluster(&self) -> Option<&LocalCluster> {
        match &self.backend {
            Backend::Local(cluster) => Some(cluster),
            Backend::External { .. } => None,
        }
    }

    /// Mutable access to the local cluster (to restart it); `None` for an external server.
    pub fn local_cluster_mut(&mut self) -> Option<&mut LocalCluster> {
        match &mut self.backend {
            Backend::Local(cluster) => Some(cluster),
            Backend::External { .. } => None,
        }
    }

    /// The connection URL for `database` on this server, as its superuser (with the user
    /// and password of [`TEST_DATABASE_URL_ENV`] for an external server).
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

    /// Creates a new database named `<prefix>_<pid>_<time>_<counter>` and returns its
    /// name; the way for a test to get a database of its own on a shared server.
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
        Err(ClusterError::InvalidName {
            kind: "database",
            name,
            reason: "ten generated names with this prefix all existed already",
        })
    }

    /// Runs `sql` with psql on `database` as the superuser, like [`LocalCluster::psql`].
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, ClusterError> {
        match &self.backend {
            Backend::Local(cluster) => cluster.psql(database, sql),
            Backend::External { url, psql } => {
                validate_name("database", database)?;
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

    /// Runs the script at `path` with `psql -v ON_ERROR_STOP=1 -f` on `database` as the
    /// superuser (the file must be readable by the cluster's OS user).
    pub fn psql_file(&self, database: &str, path: &std::path::Path) -> Result<String, ClusterError> {
        match &self.backend {
            Backend::Local(cluster) => cluster.psql_file(database, path),
            Backend::External { url, psql } => {
                validate_name("database", database)?;
                let mut command = Command::new(psql);
                command
                    .args(PSQL_FLAGS)
                    .arg("-d")
                    .arg(url.with_database(database))
                    .arg("-f")
                    .arg(path)
                    .env("PGCLIENTENCODING", "UTF8")
                    .stdin(Stdio::null());
                run_psql(command, database, &format!("\\i {}", path.display()))
            }
        }
    }

    /// Runs `sql` on the administrative database (`postgres` locally, the URL's own
    /// database externally).
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
                "pg-cluster: keeping test databases {} on {} for inspection",
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
                eprintln!("pg-cluster: could not drop test database {name}: {err}");
            }
        }
    }
}

/// A database name `<prefix>_<pid>_<time>_<counter>` unlikely to exist on a shared server,
/// cut to 63 bytes.
fn unique_database_name(prefix: &str) -> Result<String, ClusterError> {
    validate_name("database", prefix)?;
    let suffix = format!("_{}", unique_suffix().replace('-', "_"));
    let keep = MAX_IDENTIFIER_BYTES.saturating_sub(suffix.len());
    let prefix = prefix.get(..keep.min(prefix.len())).unwrap_or(prefix);
    Ok(format!("{prefix}{suffix}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_and_redacted() {
        let url = ServerUrl::parse("postgresql://u:secret@db:5432/postgres?sslmode=disable")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.database, "postgres");
        assert_eq!(url.with_database("t_1"), "postgresql://u:secret@db:5432/t_1?sslmode=disable");
        let bare = ServerUrl::parse("postgres://localhost").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bare.database, "");
        assert_eq!(bare.with_database("x"), "postgres://localhost/x");
        assert!(ServerUrl::parse("mysql://x/y").is_err());
        assert!(ServerUrl::parse("postgresql://h/a/b").is_err());

        assert_eq!(redact_url("postgresql://u:secret@db:5432/postgres"), "postgresql://u:***@db:5432/postgres");
        assert_eq!(redact_url("postgresql://u@db/p"), "postgresql://u@db/p");
    }

    #[test]
    fn unique_names_fit() {
        let long = unique_database_name(&"p".repeat(63)).unwrap_or_else(|e| panic!("{e}"));
        assert!(validate_name("database", &long).is_ok(), "{long}");
        assert_ne!(unique_database_name("p").ok(), unique_database_name("p").ok());
    }

    #[tokio::test]
    async fn test_server_url_works_with_tokio_postgres() {
        let server = test_server().unwrap_or_else(|e| panic!("{e}"));
        let database = server.create_unique_database("cluster_test").unwrap_or_else(|e| panic!("{e}"));
        assert!(database.starts_with("cluster_test_") && database.len() <= 63, "{database}");
        assert_eq!(server.psql(&database, "select 1").unwrap_or_default().trim(), "1");

        let (client, connection) = tokio_postgres::connect(&server.url(&database), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let connection = tokio::spawn(connection);
        let row = client.query_one("select current_database()", &[]).await.unwrap_or_else(|e| panic!("{e}"));
        let name: String = row.get(0);
        assert_eq!(name, database);
        drop(client);
        assert!(connection.await.is_ok());
    }
}
