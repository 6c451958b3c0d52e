//! [`Store`]: the registry's PostgreSQL persistence behind a connection pool.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use policy::config::Policy;
use serde::Serialize;

use crate::apply::{ApplyLimits, FaultHook, Operations};
use crate::audit::AuditKey;
use crate::connect::{Endpoint, PoolTimeouts, TlsSettings};
use crate::error::StoreError;
use crate::schema;

/// How to reach the registry database and the targets, and how patient to be.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The registry database as the server's runtime role,
    /// `postgresql://user[:password]@host:port/database` (libpq's `sslmode` and
    /// `sslrootcert` are honoured; see [`crate::connect`]).
    pub url: String,
    /// The registry database as the owner of the `registry` schema, used only to migrate
    /// it and to grant the runtime role its privileges. Without it the schema must already
    /// be current (see `registry-server migrate`), unless the runtime role is privileged
    /// and that is allowed.
    pub migration_url: Option<String>,
    /// Accept a runtime role that is a superuser, can create roles, or owns (or may become
    /// the owner of) the registry schema. Such a role could rewrite the audit log; opening
    /// refuses it unless this is set, and then reports a warning ([`Store::warnings`]).
    pub allow_privileged_runtime: bool,
    /// TLS defaults for every connection.
    pub tls: TlsSettings,
    /// The key of the audit chain's HMACs (see [`crate::audit`]); required.
    pub audit_key: Option<AuditKey>,
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
    /// The target of requests that name none (else the one named `default`, else the only
    /// one).
    pub default_target: Option<String>,
    /// A scratch database where submitted migrations are rehearsed (see
    /// [`crate::rehearsal`]); `None` turns rehearsal off, which [`Store::warnings`] says.
    pub rehearsal_url: Option<String>,
    /// How long applies and rollbacks may take and how many run at once.
    pub apply: ApplyLimits,
    /// Test hook: where an apply or rollback stops as if the process died (see
    /// [`FaultHook`]).
    pub faults: Option<FaultHook>,
}

impl StoreConfig {
    /// Defaults: no migration URL, a runtime role that must not be privileged, 16
    /// connections, 5 s connect, 30 s statements, 10 s pool wait, the `standard` policy,
    /// no targets.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            migration_url: None,
            allow_privileged_runtime: false,
            tls: TlsSettings::default(),
            audit_key: None,
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(10),
            policy: Policy::standard(),
            targets: BTreeMap::new(),
            default_target: None,
            rehearsal_url: None,
            apply: ApplyLimits::default(),
            faults: None,
        }
    }

    /// Adds a target database.
    #[must_use]
    pub fn with_target(mut self, name: impl Into<String>, url: impl Into<String>) -> Self {
        self.targets.insert(name.into(), url.into());
        self
    }

    /// Rehearses submitted migrations in the database at `url`.
    #[must_use]
    pub fn with_rehearsal_url(mut self, url: impl Into<String>) -> Self {
        self.rehearsal_url = Some(url.into());
        self
    }

    /// Migrates through `url` (the schema owner's connection).
    #[must_use]
    pub fn with_migration_url(mut self, url: impl Into<String>) -> Self {
        self.migration_url = Some(url.into());
        self
    }

    /// Seals and verifies the audit chain with `key`.
    #[must_use]
    pub fn with_audit_key(mut self, key: AuditKey) -> Self {
        self.audit_key = Some(key);
        self
    }

    /// Accepts a privileged runtime role (see [`StoreConfig::allow_privileged_runtime`]).
    #[must_use]
    pub fn allowing_privileged_runtime(mut self) -> Self {
        self.allow_privileged_runtime = true;
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
    pub(crate) targets: BTreeMap<String, Target>,
    pub(crate) default_target: Option<String>,
    pub(crate) rehearsal: Option<Pool>,
    pub(crate) audit_key: AuditKey,
    pub(crate) operations: Operations,
    warnings: Vec<String>,
}

/// A configured target: how to connect to it (an apply makes a connection of its own), and
/// a few pooled read-only connections to read what exists there.
pub(crate) struct Target {
    pub(crate) endpoint: Endpoint,
    pub(crate) readers: Pool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("targets", &self.inner.targets.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

/// A connection's role, and what it may do that the runtime role should not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeRole {
    /// Its name.
    pub name: String,
    /// Why it is privileged, if it is: superuser, CREATEROLE, or owner of (or able to act
    /// as the owner of) the registry schema or one of its tables.
    pub privileged: Option<String>,
}

/// Who the connection's role is and what it may do that it should not.
pub async fn runtime_role(client: &tokio_postgres::Client) -> Result<RuntimeRole, StoreError> {
    let row = client
        .query_one(
            "SELECT current_user::text, r.rolsuper, r.rolcreaterole,
                    EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = 'registry'
                            AND pg_has_role(current_user, n.nspowner, 'MEMBER')),
                    EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE n.nspname = 'registry' AND pg_has_role(current_user, c.relowner, 'MEMBER'))
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await?;
    let name: String = row.get(0);
    let reasons: Vec<&str> = [
        (row.get::<_, bool>(1), "is a superuser"),
        (row.get::<_, bool>(2), "can create roles (and so grant itself any other role)"),
        (row.get::<_, bool>(3), "owns the registry schema (or may act as its owner)"),
        (row.get::<_, bool>(4), "owns tables of the registry schema (or may act as their owner)"),
    ]
    .into_iter()
    .filter_map(|(yes, why)| yes.then_some(why))
    .collect();
    let privileged = (!reasons.is_empty()).then(|| reasons.join(" and "));
    Ok(RuntimeRole { name, privileged })
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
    /// Connects, brings the registry schema up to date (through the migration URL, as its
    /// owner), checks that the runtime role is not privileged, and registers the targets in
    /// the catalog.
    pub async fn open(config: StoreConfig) -> Result<Self, StoreError> {
        let audit_key = config.audit_key.clone().ok_or_else(|| {
            StoreError::Invalid("no audit key was given; the audit chain cannot be sealed without one".to_owned())
        })?;
        let registry =
            Endpoint::parse(&config.url, &config.tls, "the registry database URL")?.bounded(config.connect_timeout);
        let timeouts = PoolTimeouts { connect: config.connect_timeout, wait: config.wait_timeout };
        let statement_ms = config.statement_timeout.as_millis();
        // A transaction left idle (a stuck client, a bug) must not hold its locks forever.
        let idle_ms = statement_ms.saturating_mul(2);
        let bounded_sessions = format!(
            "-c statement_timeout={statement_ms} -c lock_timeout={statement_ms} \
             -c idle_in_transaction_session_timeout={idle_ms}"
        );
        // tests/store.rs restarts the server under the pool to check that closed
        // connections are replaced.
        let pool = registry.pool("schema-registry", Some(&bounded_sessions), config.pool_size, timeouts)?;
        let mut targets = BTreeMap::new();
        for (name, url) in &config.targets {
            let endpoint = Endpoint::parse(url, &config.tls, &format!("the URL of target \"{name}\""))?
                .bounded(config.connect_timeout);
            // Reading what exists on a target is a few catalog queries: on a warm connection
            // they take a fraction of what connecting takes. The readers can write nothing.
            let readers = endpoint.pool(
                "schema-registry-reader",
                Some(&format!("{bounded_sessions} -c default_transaction_read_only=on")),
                config.pool_size.clamp(1, 4),
                timeouts,
            )?;
            targets.insert(name.clone(), Target { endpoint, readers });
        }
        let mut warnings = Vec::new();
        if let Some(name) = &config.default_target
            && !targets.contains_key(name)
        {
            return Err(StoreError::Invalid(format!("the default target \"{name}\" is not a configured target")));
        }
        let rehearsal = if let Some(url) = &config.rehearsal_url {
            let endpoint =
                Endpoint::parse(url, &config.tls, "the rehearsal database URL")?.bounded(config.connect_timeout);
            let pool = endpoint.pool("schema-registry-rehearsal", None, config.pool_size.clamp(1, 4), timeouts)?;
            // Fail at start, not at the first submission.
            pool.get().await?.simple_query("SELECT 1").await?;
            Some(pool)
        } else {
            warnings.push(
                "rehearsal is off: submitted migrations are stored without being tried on PostgreSQL first".to_owned(),
            );
            None
        };
        {
            let object = pool.get().await?;
            let client: &tokio_postgres::Client = &object;
            let before = runtime_role(client).await?;
            let refusal = |role: &RuntimeRole, why: &str| {
                format!(
                    "the runtime role \"{}\" {why}: anyone holding its connection could rewrite the audit log",
                    role.name
                )
            };
            if let Some(why) = &before.privileged
                && !config.allow_privileged_runtime
            {
                return Err(StoreError::PrivilegedRuntime(refusal(&before, why)));
            }
            if let Some(migration_url) = &config.migration_url {
                let owner = Endpoint::parse(migration_url, &config.tls, "the migration database URL")?
                    .bounded(config.connect_timeout);
                let mut owner = owner.connect().await?;
                schema::migrate(&mut owner, &audit_key).await?;
                schema::grant_runtime(&owner, &before.name).await?;
            } else if before.privileged.is_some() && config.allow_privileged_runtime {
                let mut direct = registry.connect().await?;
                schema::migrate(&mut direct, &audit_key).await?;
            } else {
                let found = schema::current_version(client).await?;
                if found < schema::latest_version() {
                    return Err(StoreError::SchemaOutdated { found, needed: schema::latest_version() });
                }
                crate::audit::check_key(client, &audit_key).await?;
            }
            let role = runtime_role(client).await?;
            if let Some(why) = &role.privileged {
                let message = refusal(&role, why);
                if !config.allow_privileged_runtime {
                    return Err(StoreError::PrivilegedRuntime(message));
                }
                warnings.push(format!("{message} (allowed by --allow-superuser)"));
            }
            for name in targets.keys() {
                client
                    .execute("INSERT INTO registry.databases (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", &[name])
                    .await?;
            }
        }
        let operations = Operations::new(config.apply, targets.keys(), config.faults)?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                policy: config.policy,
                targets,
                default_target: config.default_target,
                rehearsal,
                audit_key,
                operations,
                warnings,
            }),
        })
    }

    /// What opening found worth a warning on every start (a privileged runtime role that
    /// was allowed).
    pub fn warnings(&self) -> &[String] {
        &self.inner.warnings
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
