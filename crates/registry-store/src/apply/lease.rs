//! Leases and limits: how an apply or rollback claims its request without holding a
//! registry transaction open while the target works, how many run at once, and how the
//! store waits for them on shutdown.
//!
//! A lease is a row of `registry.operations`, one per request: claimed in a short
//! transaction that holds the request's row lock only for the claim, renewed while the
//! holder works, deleted in the transaction that records the outcome. A lease past its
//! deadline belongs to an attempt that stopped (a dead process, a registry that failed
//! between the target's commit and its own, a lost COMMIT answer) and is settled from the
//! target's history before anything else happens to the request
//! ([`super::reconcile`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio_postgres::Transaction;

use crate::error::StoreError;
use crate::store::Store;

/// How long and how many: the bounds on every apply and rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyLimits {
    /// The whole target side of one apply or rollback: connecting, the apply lock, the
    /// SQL, the read-back and COMMIT (also the target session's statement timeout).
    pub timeout: Duration,
    /// How long to wait for the target's apply lock (another apply of the same target).
    pub lock_wait: Duration,
    /// How long a lease lasts unless renewed; a holder renews it every third of this.
    pub lease: Duration,
    /// Applies and rollbacks running at once in this process.
    pub max_concurrent: usize,
    /// Of those, on one target.
    pub max_per_target: usize,
    /// How long one step of a change waits for a lock on the table (`lock_timeout`): a
    /// step that would queue behind a long reader fails fast instead of stalling every
    /// writer queued behind it.
    pub table_lock_timeout: Duration,
    /// How many times a step that met `table_lock_timeout` is tried, pausing 0.5 s, then
    /// twice as long each time, in between.
    pub step_tries: u32,
}

impl Default for ApplyLimits {
    /// 60 s per operation, 5 s for the apply lock, 15 s leases, 8 at once, 4 per target,
    /// 5 s for a table lock, 4 tries of a step.
    fn default() -> Self {
        Self {
            timeout: Duration::from_mins(1),
            lock_wait: Duration::from_secs(5),
            lease: Duration::from_secs(15),
            max_concurrent: 8,
            max_per_target: 4,
            table_lock_timeout: Duration::from_secs(5),
            step_tries: 4,
        }
    }
}

/// A point between two steps of an apply or rollback where a test may stop the process:
/// called with `"apply:claimed"`, `"apply:target-committed"`, `"apply:recorded"` and the same
/// for `rollback`; returning `true` stops the operation right there, as a crash would
/// (nothing after it runs, nothing is cleaned up).
#[derive(Clone)]
pub struct FaultHook(pub Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl std::fmt::Debug for FaultHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultHook")
    }
}

/// What the store knows about the applies and rollbacks it runs.
pub(crate) struct Operations {
    pub(crate) limits: ApplyLimits,
    /// This process's id as a lease holder.
    pub(crate) instance: String,
    pub(crate) faults: Option<FaultHook>,
    total: Arc<Semaphore>,
    per_target: BTreeMap<String, Arc<Semaphore>>,
}

/// The permits of one running operation; dropping them frees the slots.
pub(crate) struct Permits {
    _total: OwnedSemaphorePermit,
    _target: OwnedSemaphorePermit,
}

impl Operations {
    pub(crate) fn new<'a>(
        limits: ApplyLimits,
        targets: impl Iterator<Item = &'a String>,
        faults: Option<FaultHook>,
    ) -> Result<Self, StoreError> {
        let per_target =
            targets.map(|name| (name.clone(), Arc::new(Semaphore::new(limits.max_per_target.max(1))))).collect();
        Ok(Self {
            limits,
            instance: format!("registry-{}", crate::secrets::random_hex::<8>()?),
            faults,
            total: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            per_target,
        })
    }

    /// Slots for one operation on `target`, at once or not at all: a caller is told to retry
    /// rather than queued behind a target that may never answer.
    pub(crate) fn permit(&self, target: &str) -> Result<Permits, StoreError> {
        let per_target =
            self.per_target.get(target).ok_or_else(|| StoreError::not_found(format!("target \"{target}\"")))?;
        let refuse = |error: TryAcquireError, what: String| match error {
            TryAcquireError::Closed => StoreError::Unavailable("the registry is shutting down".to_owned()),
            TryAcquireError::NoPermits => StoreError::Busy(what),
        };
        let total = self.total.clone().try_acquire_owned().map_err(|e| {
            refuse(
                e,
                format!("{} applies and rollbacks are running already; retry shortly", self.limits.max_concurrent),
            )
        })?;
        let target_permit = per_target.clone().try_acquire_owned().map_err(|e| {
            refuse(
                e,
                format!(
                    "{} applies and rollbacks are running on target \"{target}\" already; retry shortly",
                    self.limits.max_per_target
                ),
            )
        })?;
        Ok(Permits { _total: total, _target: target_permit })
    }

    /// Stops new operations and waits up to `wait` for the running ones; `true` when none is
    /// left running.
    pub(crate) async fn drain(&self, wait: Duration) -> bool {
        let all = u32::try_from(self.limits.max_concurrent.max(1)).unwrap_or(u32::MAX);
        let drained = tokio::time::timeout(wait, self.total.acquire_many(all)).await;
        self.total.close();
        matches!(drained, Ok(Ok(_)))
    }

    /// Whether a test asked to stop at `point`.
    pub(crate) fn fault(&self, point: &str) -> Result<(), StoreError> {
        match &self.faults {
            Some(hook) if (hook.0)(point) => Err(StoreError::Internal(format!("fault injected at {point}"))),
            _ => Ok(()),
        }
    }
}

/// Apply or rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Apply,
    Rollback,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "apply",
            Self::Rollback => "rollback",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "apply" => Ok(Self::Apply),
            "rollback" => Ok(Self::Rollback),
            other => Err(StoreError::Internal(format!("a lease for an unknown action \"{other}\""))),
        }
    }
}

/// A lease as stored.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pub(crate) request_id: String,
    pub(crate) target: String,
    pub(crate) action: Action,
    pub(crate) holder: String,
    pub(crate) performed_by: String,
    /// Its deadline has passed.
    pub(crate) expired: bool,
    pub(crate) last_error: Option<String>,
    pub(crate) details: Option<serde_json::Value>,
}

/// The request's lease, locked for the rest of `transaction`.
pub(crate) async fn current(transaction: &Transaction<'_>, id: &str) -> Result<Option<Lease>, StoreError> {
    let row = transaction
        .query_opt(
            "SELECT request_id::text, target, action, holder, performed_by, deadline < now(), last_error, details
             FROM registry.operations WHERE request_id = $1::text::uuid FOR UPDATE",
            &[&id],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let action: String = row.get(2);
    Ok(Some(Lease {
        request_id: row.get(0),
        target: row.get(1),
        action: Action::parse(&action)?,
        holder: row.get(3),
        performed_by: row.get(4),
        expired: row.get(5),
        last_error: row.get(6),
        details: row.get(7),
    }))
}

/// Every lease, or only the abandoned ones (past their deadline).
pub(crate) async fn all(client: &tokio_postgres::Client, expired_only: bool) -> Result<Vec<String>, StoreError> {
    let rows = client
        .query(
            "SELECT request_id::text FROM registry.operations WHERE NOT $1 OR deadline < now() ORDER BY started_at",
            &[&expired_only],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Why a request cannot be claimed now.
pub(crate) fn in_progress(lease: &Lease) -> StoreError {
    StoreError::InProgress(format!(
        "request {} is being {} on target \"{}\" (by {}); nothing was done, retry when it has finished",
        lease.request_id,
        match lease.action {
            Action::Apply => "applied",
            Action::Rollback => "rolled back",
        },
        lease.target,
        lease.performed_by
    ))
}

/// Claims the request in `transaction` (which holds its row lock) for this process.
pub(crate) async fn claim(
    transaction: &Transaction<'_>,
    operations: &Operations,
    id: &str,
    target: &str,
    action: Action,
    performed_by: &str,
    details: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    let seconds = operations.limits.lease.as_secs_f64();
    transaction
        .execute(
            "INSERT INTO registry.operations (request_id, target, action, holder, performed_by, deadline, details)
             VALUES ($1::text::uuid, $2, $3, $4, $5, now() + make_interval(secs => $6), $7)",
            &[&id, &target, &action.as_str(), &operations.instance, &performed_by, &seconds, &details],
        )
        .await?;
    Ok(())
}

/// Deletes this process's lease of the request in `transaction`; `false` when it is not
/// ours any more (a reconciliation took it over after it lapsed).
pub(crate) async fn release(transaction: &Transaction<'_>, id: &str, holder: &str) -> Result<bool, StoreError> {
    let deleted = transaction
        .execute("DELETE FROM registry.operations WHERE request_id = $1::text::uuid AND holder = $2", &[&id, &holder])
        .await?;
    Ok(deleted == 1)
}

/// Renews the lease every third of its length until dropped.
pub(crate) struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Store {
    /// Keeps this process's lease of `id` alive while the caller holds the returned guard.
    pub(crate) fn keep_alive(&self, id: &str) -> Renewal {
        let (store, id) = (self.clone(), id.to_owned());
        Renewal(tokio::spawn(async move {
            let lease = store.inner.operations.limits.lease;
            let seconds = lease.as_secs_f64();
            loop {
                tokio::time::sleep(lease / 3).await;
                let Ok(client) = store.client().await else { continue };
                let renewed = client
                    .execute(
                        "UPDATE registry.operations SET deadline = now() + make_interval(secs => $3)
                         WHERE request_id = $1::text::uuid AND holder = $2",
                        &[&id, &store.inner.operations.instance, &seconds],
                    )
                    .await;
                // Not ours any more: nothing left to renew.
                if matches!(renewed, Ok(0)) {
                    return;
                }
            }
        }))
    }

    /// Gives up this process's lease of `id` for reconciliation (its deadline set to now),
    /// keeping `error` for the audit entry that settles it. Best effort: if even this fails,
    /// the lease lapses by itself.
    pub(crate) async fn abandon(&self, id: &str, error: &str) {
        if let Ok(client) = self.client().await {
            let _ = client
                .execute(
                    "UPDATE registry.operations SET deadline = now(), last_error = $3
                     WHERE request_id = $1::text::uuid AND holder = $2",
                    &[&id, &self.inner.operations.instance, &error],
                )
                .await;
        }
    }

    /// Stops new applies and rollbacks and waits up to `wait` for the running ones to
    /// finish (each is bounded by [`ApplyLimits::timeout`]); `true` when none is left. Called
    /// on shutdown, before the database goes away under them.
    pub async fn drain(&self, wait: Duration) -> bool {
        self.inner.operations.drain(wait).await
    }
}
