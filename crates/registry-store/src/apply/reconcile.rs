//! Settling a lease an attempt left behind, from the one fact that cannot be wrong: the
//! target's own history table, read under the target's apply lock (so an attempt still
//! running there has finished first).
//!
//! * An apply whose history row is there ran: it is recorded as applied (status, catalog,
//!   an audit entry carrying the SQL that ran and why it was not recorded at the time).
//! * An apply whose history row is not there did not run: the failure is audited.
//! * A rollback whose history row is gone ran: it is recorded as rolled back.
//! * A rollback whose history row is still there did not run: the failure is audited.
//!
//! The lease is deleted in the same registry transaction. A reconciliation that cannot reach
//! the target leaves the lease in place and says so; nothing is guessed.

use super::lease::{self, Action, Lease};
use super::record::{Ledger, Recovery, fetch_for_update, is_live};
use super::target::TargetFailure;
use crate::error::StoreError;
use crate::store::Store;

/// Which leases [`Store::reconcile_abandoned`] settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Those past their deadline (their holder stopped renewing them).
    Abandoned,
    /// All of them: when this process is the only one that can hold leases (the embedded
    /// database at start-up), every lease is a dead process's.
    All,
}

/// What a reconciliation found for one lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The request.
    pub request_id: String,
    /// The target.
    pub target: String,
    /// `apply` or `rollback`.
    pub action: &'static str,
    /// Whether the target had committed the interrupted step.
    pub ran_on_target: bool,
}

impl Store {
    /// Settles leases left by attempts that stopped (see the module docs). Each failure to
    /// settle one (its target unreachable) is returned with it; the lease stays for a later
    /// try.
    pub async fn reconcile_abandoned(&self, scope: Scope) -> Result<Vec<Result<Settlement, StoreError>>, StoreError> {
        let ids = {
            let client = self.client().await?;
            lease::all(&client, scope == Scope::Abandoned).await?
        };
        let mut results = Vec::with_capacity(ids.len());
        for id in ids {
            match self.settle(&id, scope == Scope::All).await {
                Ok(Some(settled)) => results.push(Ok(settled)),
                Ok(None) => {}
                Err(error) => results.push(Err(error)),
            }
        }
        Ok(results)
    }

    /// Settles the request's lease if it is abandoned (or, with `any`, whatever its
    /// deadline); `None` when there was nothing to settle.
    pub(crate) async fn settle(&self, id: &str, any: bool) -> Result<Option<Settlement>, StoreError> {
        let found = {
            let mut object = self.client().await?;
            let client: &mut tokio_postgres::Client = &mut object;
            let transaction = client.transaction().await?;
            lease::current(&transaction, id).await?
        };
        let Some(found) = found.filter(|l| l.expired || any) else { return Ok(None) };
        let target = self.inner.targets.get(&found.target).ok_or_else(|| StoreError::Unsettled {
            target: found.target.clone(),
            message: format!(
                "an interrupted {} of request {id} there cannot be settled: the target is not configured any more",
                found.action.as_str()
            ),
        })?;
        // The target's apply lock is held until the registry has recorded what its history
        // says: an attempt that still wants to run there waits, then finds its lease gone.
        let settle = async |transaction: &tokio_postgres::Transaction<'_>| {
            let history = super::target::recorded_checksum(transaction, id).await?;
            self.record_settlement(&found, history.as_deref()).await
        };
        match super::target::run(&found.target, &target.endpoint, &self.inner.operations.limits, settle).await {
            Ok(settled) => Ok(settled),
            Err(TargetFailure::Definite(error) | TargetFailure::Unclear(error)) => Err(match error {
                unsettled @ StoreError::Unsettled { .. } => unsettled,
                other => StoreError::Unsettled {
                    target: found.target.clone(),
                    message: format!(
                        "an interrupted {} of request {id} could not be settled from the target's history yet: {other}",
                        found.action.as_str()
                    ),
                },
            }),
        }
    }

    /// Records what the target's history says about the lease's step, and deletes the
    /// lease, in one registry transaction.
    async fn record_settlement(&self, found: &Lease, history: Option<&str>) -> Result<Option<Settlement>, StoreError> {
        let id = found.request_id.as_str();
        let request = self.get_request(id).await?;
        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let stored = super::stored_extras(client, id, &self.inner).await?;
        let registry = client.transaction().await?;
        let current = fetch_for_update(&registry, id).await?;
        // Someone settled it meanwhile, or its holder came back and finished.
        match lease::current(&registry, id).await? {
            Some(now) if now.holder == found.holder && now.action == found.action && now.target == found.target => {}
            _ => return Ok(None),
        }
        let ledger = Ledger {
            registry: &registry,
            key: &self.inner.audit_key,
            request: &request,
            current,
            action: found.action,
            target: &found.target,
            by: &found.performed_by,
            policy_level: self.inner.policy.compatibility.level_of(&request.table_schema, &request.table_name),
        };
        let recovery = Recovery { error: found.last_error.clone() };
        if let Some(recorded) = history
            && recorded != request.checksum
        {
            return Err(StoreError::Divergent {
                target: found.target.clone(),
                message: format!("checksum {recorded} there, {} here", request.checksum),
            });
        }
        let ran_on_target = match found.action {
            Action::Apply => history.is_some(),
            Action::Rollback => history.is_none(),
        };
        let live = is_live(&registry, id, &found.target).await?;
        match (found.action, ran_on_target) {
            (Action::Apply, true) if !live => {
                ledger.applied(true, &stored.inputs, Some(&recovery)).await?;
            }
            (Action::Rollback, true) if live => {
                let details = found.details.as_ref().map(|details| {
                    let mut details = details.clone();
                    details["settledBy"] = serde_json::json!("reconciliation");
                    details.to_string()
                });
                ledger.rolled_back(true, details.as_deref(), Some(&recovery)).await?;
                approve_confirmed(&registry, found).await?;
            }
            // Recorded already (by its holder, just before the lease went): nothing to add.
            (_, true) => {}
            (_, false) => {
                let error = StoreError::Internal(format!(
                    "the {} did not complete on the target ({})",
                    found.action.as_str(),
                    recovery.error.as_deref().unwrap_or("the attempt stopped before the target committed")
                ));
                ledger
                    .failed(&error, Some("settled by reconciliation: the target did not commit this step; nothing ran"))
                    .await?;
            }
        }
        lease::release(&registry, id, &found.holder).await?;
        registry.commit().await?;
        Ok(Some(Settlement {
            request_id: id.to_owned(),
            target: found.target.clone(),
            action: found.action.as_str(),
            ran_on_target,
        }))
    }
}

/// Marks the confirmation of a data-losing rollback as approved, as its holder would have.
async fn approve_confirmed(registry: &tokio_postgres::Transaction<'_>, found: &Lease) -> Result<(), StoreError> {
    let Some(approved_by) = found.details.as_ref().and_then(|d| d["approvedBy"].as_str()) else { return Ok(()) };
    registry
        .execute(
            "UPDATE registry.rollback_approvals SET approved_by = $3, approved_at = now()
             WHERE request_id = $1::text::uuid AND target = $2 AND approved_at IS NULL",
            &[&found.request_id, &found.target, &approved_by],
        )
        .await?;
    Ok(())
}
