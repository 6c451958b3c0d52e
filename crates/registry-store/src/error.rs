//! The store's typed errors, and how database errors map onto them.

use schema_model::status::RequestStatus;
use schema_model::violation::CheckAnswer;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The request, target or table does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for (`request 550e…`, `target "prod"`).
        what: String,
    },
    /// Someone else changed the row first (optimistic lock), or a unique name is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The state machine does not allow the change.
    #[error("a request cannot go from {from} to {to}")]
    InvalidTransition {
        /// Current status.
        from: RequestStatus,
        /// Requested status.
        to: RequestStatus,
    },
    /// The request has error violations; nothing was stored.
    #[error("the request violates the policy ({} error(s)); nothing was stored", .0.violations.iter().filter(|v| v.severity == schema_model::violation::Severity::Error).count())]
    Rejected(Box<CheckAnswer>),
    /// The principal may not do this (reviewing their own request).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// Input the store refuses (a malformed id, a bad name).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The migration failed on the target; the target is unchanged and the error is in the audit log.
    #[error("the migration failed on target \"{target}\": {message}")]
    MigrationFailed {
        /// Target name.
        target: String,
        /// PostgreSQL's message.
        message: String,
    },
    /// What would run is not what was approved (edited SQL, an altered approval, a request
    /// that no longer generates its SQL); nothing ran.
    #[error("integrity: {0}; nothing was run")]
    Integrity(String),
    /// The table PostgreSQL made differs from the request; the target transaction was
    /// rolled back.
    #[error("the table on target \"{target}\" does not match the request, so nothing was committed: {}", differences.join("; "))]
    Verification {
        /// Target name.
        target: String,
        /// Every difference, in a sentence each.
        differences: Vec<String>,
    },
    /// A change was planned against a version of the table that is no longer current
    /// (someone else changed it first); nothing ran.
    #[error(
        "the table is at version {current} now, and this change was planned against version {base}; nothing was run, submit the change again against the current version"
    )]
    StaleBase {
        /// The table's current version.
        current: i32,
        /// The version the change was planned against.
        base: i32,
    },
    /// The live table differs from the version the registry has for it (changed outside the
    /// registry); nothing ran.
    #[error("the table on target \"{target}\" has drifted from the registry's version ({}); nothing was run", differences.iter().map(|d| d.change.as_str()).collect::<Vec<_>>().join("; "))]
    Drift {
        /// Target name.
        target: String,
        /// What differs, and the change that would undo each difference.
        differences: Vec<registry_core::drift::Difference>,
    },
    /// A rollback would destroy data; nothing changed. It runs after an operator confirms
    /// the loss and another principal approves it.
    #[error("rolling back on target \"{target}\" would destroy data ({}); nothing was changed", describe_rows(&at_risk.rows, at_risk.capped))]
    DataLoss {
        /// Target name.
        target: String,
        /// What would be lost.
        at_risk: crate::apply::DataAtRisk,
    },
    /// The target's history disagrees with the registry (a different checksum for this request).
    #[error("target \"{target}\" has a different migration recorded for this request: {message}")]
    Divergent {
        /// Target name.
        target: String,
        /// What differs.
        message: String,
    },
    /// The registry database's schema is newer than this program.
    #[error(
        "the registry database is at schema version {found}, newer than this program's {supported}; upgrade the program"
    )]
    SchemaTooNew {
        /// Version found in the database.
        found: i32,
        /// Latest version this program knows.
        supported: i32,
    },
    /// The registry schema is older than this program and no migration URL was given.
    #[error(
        "the registry database is at schema version {found}, this program needs {needed}; migrate it as the \
         schema's owner (registry-server migrate --database-url <owner URL>, or --migration-database-url)"
    )]
    SchemaOutdated {
        /// Version found in the database.
        found: i32,
        /// Version this program needs.
        needed: i32,
    },
    /// The runtime role could rewrite the audit log and that was not allowed.
    #[error(
        "{0}; connect as a role that is neither superuser nor owner (see `registry-server setup-roles`), or pass \
         --allow-superuser to run anyway"
    )]
    PrivilegedRuntime(String),
    /// The audit key differs from the one the chain was sealed with.
    #[error(
        "the audit key (fingerprint {given}) is not the key the audit log was sealed with (fingerprint {recorded}); \
         restore the original key file (audit.key in the data directory, or --audit-key-file), or the chain cannot \
         be verified"
    )]
    AuditKeyMismatch {
        /// The recorded key's fingerprint.
        recorded: String,
        /// The given key's fingerprint.
        given: String,
    },
    /// An embedded migration was changed after it was applied.
    #[error("registry schema migration {version} was changed after it was applied (checksum differs)")]
    SchemaChanged {
        /// The migration's version.
        version: i32,
    },
    /// Stored data the program cannot read back (a bug or a hand-edited database).
    #[error("internal error: {0}")]
    Internal(String),
    /// The database cannot be reached (down, restarting, pool timed out).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Another apply or rollback of the request is running (it holds the request's lease);
    /// nothing was done.
    #[error("{0}")]
    InProgress(String),
    /// Someone else held a lock longer than this call would wait, a statement ran out of
    /// time, or too many applies are running; nothing was changed, and retrying later may
    /// succeed.
    #[error("busy: {0}")]
    Busy(String),
    /// An apply or rollback whose outcome on the target is known to have happened (or is
    /// unknown) but is not yet recorded in the registry. The request keeps its lease; the
    /// next apply or rollback of it, a status change, or the server's reconciliation settles
    /// it from the target's own history.
    #[error("unsettled on target \"{target}\": {message}")]
    Unsettled {
        /// Target name.
        target: String,
        /// What is known and what happens next.
        message: String,
    },
    /// Any other database error, with its SQLSTATE.
    #[error("database error {code}: {message}")]
    Database {
        /// SQLSTATE.
        code: String,
        /// PostgreSQL's message.
        message: String,
    },
}

fn describe_rows(rows: &std::collections::BTreeMap<String, i64>, capped: bool) -> String {
    let parts: Vec<String> = rows
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(table, n)| format!("{table}: {}{n} rows", if capped { "at least " } else { "" }))
        .collect();
    parts.join(", ")
}

impl StoreError {
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// Whether retrying later may succeed (the database was unreachable).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Whether the same call may succeed when retried later, unchanged (the database was
    /// unreachable or busy, another apply runs, an outcome is being settled).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Busy(_) | Self::InProgress(_) | Self::Unsettled { .. })
    }
}

/// Whether an error says nothing about the statement that met it: no answer from the
/// server, a lost connection, a shutdown, exhausted resources, a serialization failure or
/// deadlock, a statement or lock wait that timed out (someone else held the lock).
/// Retrying later may succeed; blaming the statement would be wrong.
pub(crate) fn is_transient(error: &tokio_postgres::Error) -> bool {
    let Some(db) = error.as_db_error() else { return true };
    let code = db.code().code();
    ["08", "40", "53", "57", "58"].iter().any(|class| code.starts_with(class)) || code == "55P03" || code == "55006"
}

/// PostgreSQL's message for an error, with its detail.
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        };
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        let Some(db) = error.as_db_error() else {
            // No server answer: the connection is gone or could not be made.
            return Self::Unavailable(describe(&error));
        };
        let code = db.code().code();
        match code {
            "23505" | "40001" | "40P01" => Self::Conflict(describe(&error)),
            // A lock held by someone else past lock_timeout, a statement past its timeout.
            "55P03" | "57014" => Self::Busy(describe(&error)),
            // Text the database cannot store or a value beyond its limits: the caller's input.
            "22021" | "22P05" | "54000" | "22001" | "22003" => Self::Invalid(describe(&error)),
            // Connection exceptions, shutdown, too many connections, starting up.
            c if c.starts_with("08") || c.starts_with("57P") || c == "53300" => Self::Unavailable(describe(&error)),
            _ => Self::Database { code: code.to_owned(), message: describe(&error) },
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(inner) => inner.into(),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<pg_introspect::IntrospectError> for StoreError {
    fn from(error: pg_introspect::IntrospectError) -> Self {
        error.0.into()
    }
}
