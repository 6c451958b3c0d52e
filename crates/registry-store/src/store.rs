//! [`Store`]: the registry's PostgreSQL persistence behind a connection pool.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use policy::config::Policy;
use serde::Serialize;
use tokio_postgres::NoTls;

use crate::error::StoreError;
use crate::schema::{self, SchemaReport};

/// How to reach the registry database and the targets, and how patient to be.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The registry database, `postgresql://user[:password]@host:port/database`.
    pub url: String,
    /// Most connections the pool opens.
    pub pool_size: usize,
    /// How long to wait for a new connection.
    pub connect_timeout: Duration,
    /// How long one statement may run on the registry database.
    pub statement_timeout: Duration,
    /// How long a caller waits for a free pooled connection.
    pub wait_timeout: Duration,
    /// The policy requests are checked against.
    pub policy: Policy,
    /// Target databases by name.
    pub targets: BTreeMap<String, String>,
}

impl StoreConfig {
    /// Defaults: 16 connections, 5 s connect, 30 s statements, 10 s pool wait, the
    /// `standard` policy, no targets.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(10),
            policy: Policy::standard(),
            targets: BTreeMap::new(),
        }
    }

    /// Adds a target database.
    #[must_use]
    pub fn with_target(mut self, name: impl Into<String>, url: impl Into<String>) -> Self {
        self.targets.insert(name.into(), url.into());
        self
    }
}

/// The registry's persistence. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) policy: Policy,
    pub(crate) targets: BTreeMap<String, String>,
    pub(crate) connect_timeout: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("targets", &self.inner.targets.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

/// A page of results with the total count.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// How many items match in all.
    pub total: i64,
    /// The page size asked for.
    pub limit: i64,
    /// How many matching items were skipped.
    pub offset: i64,
}

impl Store {
    /// Connects, brings the registry schema up to date, and registers the targets in the
    /// catalog.
    pub async fn open(config: StoreConfig) -> Result<Self, StoreError> {
        let mut pg = tokio_postgres::Config::from_str(&config.url)
            .map_err(|e| StoreError::Invalid(format!("database URL: {e}")))?;
        pg.connect_timeout(config.connect_timeout);
        let statement_ms = config.statement_timeout.as_millis();
        pg.options(format!("-c statement_timeout={statement_ms} -c lock_timeout={statement_ms}"));
        pg.application_name("schema-registry");
        // Fast recycling checks `is_closed` before handing out a connection: a server
        // restart closes the sockets, the connection tasks end, and the pool replaces
        // them instead of failing a call (tests/store.rs restarts the server to check).
        let manager = Manager::from_config(pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .wait_timeout(Some(config.wait_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Invalid(format!("connection pool: {e}")))?;
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                policy: config.policy,
                targets: config.targets,
                connect_timeout: config.connect_timeout,
            }),
        };
        store.migrate().await?;
        let client = store.client().await?;
        for name in store.inner.targets.keys() {
            client
                .execute("INSERT INTO registry.databases (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", &[name])
                .await?;
        }
        Ok(store)
    }

    /// Applies pending registry schema migrations (also done by [`Store::open`]).
    pub async fn migrate(&self) -> Result<SchemaReport, StoreError> {
        let mut client = self.client().await?;
        schema::migrate(&mut client).await
    }

    /// The policy requests are checked against.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The configured target names.
    pub fn target_names(&self) -> Vec<&str> {
        self.inner.targets.keys().map(String::as_str).collect()
    }

    /// Checks that the registry database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// A server setting as the store's connections see it (`SHOW name`).
    pub async fn setting(&self, name: &str) -> Result<String, StoreError> {
        let row = self.client().await?.query_one("SELECT current_setting($1)", &[&name]).await?;
        Ok(row.get(0))
    }

    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        Ok(self.inner.pool.get().await?)
    }
}

/// The tokio-postgres client inside a pooled connection.
pub(crate) fn raw(object: &Object) -> &tokio_postgres::Client {
    object
}

/// Checks that `id` looks like a UUID, so a malformed id is a clear error rather than a
/// database cast failure.
pub(crate) fn parse_id(id: &str) -> Result<&str, StoreError> {
    let valid = id.len() == 36
        && id.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    if valid { Ok(id) } else { Err(StoreError::Invalid(format!("\"{id}\" is not a request id (a UUID)"))) }
}
