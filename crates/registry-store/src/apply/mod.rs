//! Applying an approved request's migration to a target database exactly once, and
//! rolling it back, with what runs checked before, during and after, and every fault between
//! two steps settled from the target's own history.
//!
//! The protocol, for one request on one target:
//!
//! 1. **Claim** (`lease.rs`), in a short registry transaction holding the request's row: the
//!    status allows the step, no other apply or rollback of the request holds its lease (one
//!    that does answers [`StoreError::InProgress`] at once; one whose lease lapsed is settled
//!    first), and **what was approved is what runs** (`record.rs`): the stored SQL matches its
//!    checksum, the checksum the reviewer's approval recorded (whose audit entry must still be
//!    sealed in the chain), and the SQL the generator makes again from the stored request with
//!    the stored inputs; any mismatch is refused as an integrity error, audited, and nothing
//!    runs. The claim is a lease row with this process as holder and a deadline the holder
//!    renews while it works. No registry transaction stays open while the target works.
//! 2. **The target** (`target.rs`), in one transaction bounded in time (connect, the apply
//!    lock, statements, COMMIT): under the target's advisory apply lock, the target's history
//!    table says whether this step already ran there; every name the migration creates must be
//!    free (**nothing adopted**) and every shared type there as declared; the SQL runs; the
//!    table is read back and must equal the request and the table the rehearsal made; the
//!    history row is written (apply) or deleted (rollback); COMMIT. A rollback first counts
//!    the rows it would destroy, under the table's lock, and refuses to lose any without an
//!    operator's confirmation and another principal's approval (**no data lost in one
//!    call**).
//! 3. **Record** (`record.rs`), in one registry transaction: the lease is released, the status,
//!    the applications, the catalog (by the request that made each version) and the audit
//!    entry are written.
//!
//! The target's history row is the one fact of what ran. When step 3 fails, or COMMIT's answer
//! is lost, or the process dies between any two steps, the lease stays; the next apply or
//! rollback of the request, a status change of it, or the server's reconciliation
//! (`reconcile.rs`) reads the history under the apply lock and records what happened, with an
//! audit entry that carries the SQL that ran and the original error. A status change never
//! abandons SQL that ran (a reject after the target's commit is refused and the request is
//! completed as migrated).

mod lease;
pub mod reconcile;
mod record;
mod steps;
mod target;

use std::collections::BTreeMap;

use pg_introspect::live::LiveTable;
use schema_model::change::{Compatibility, StepPlan};
use schema_model::environment::GenerationInputs;
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;
use schema_model::table::TableSchema;
use serde::Serialize;
use tokio_postgres::Transaction;

pub(crate) use lease::{Action, Operations};
pub use lease::{ApplyLimits, FaultHook};
pub use target::{APPLY_LOCK, HISTORY_SCHEMA};

use crate::connect::Endpoint;
use crate::error::StoreError;
use crate::requests::StoredRequest;
use crate::store::{Inner, Store, parse_id};
use lease::Renewal;
use record::{Ledger, fetch_for_update, is_live};
use target::TargetFailure;

/// What an apply or rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyOutcome {
    /// The request id.
    pub request_id: String,
    /// The target database name.
    pub target: String,
    /// Whether this call ran SQL on the target (false when it was already done there and
    /// only the registry side was completed, or nothing was left to do).
    pub ran_sql: bool,
    /// The request's status afterwards.
    pub status: RequestStatus,
}

/// Rows a rollback would destroy, by table (`schema.table`); counts stop at 1,000,000
/// (`capped` says when one did).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataAtRisk {
    /// Rows per table.
    pub rows: BTreeMap<String, i64>,
    /// Whether a count stopped at the cap.
    pub capped: bool,
}

impl DataAtRisk {
    /// Whether anything would be lost.
    pub fn is_empty(&self) -> bool {
        self.rows.values().all(|n| *n == 0)
    }
}

/// An operator's confirmation of a rollback that loses data, waiting for a reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackConfirmation {
    /// The request id.
    pub request_id: String,
    /// The target database name.
    pub target: String,
    /// `awaiting_approval`.
    pub status: &'static str,
    /// Who confirmed the loss.
    pub confirmed_by: String,
    /// What would be lost, as counted at confirmation.
    pub data_at_risk: DataAtRisk,
}

/// What a rollback with confirmed data loss did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RollbackStep {
    /// Nothing was at risk: it ran.
    Done(ApplyOutcome),
    /// Data is at risk: it waits for a reviewer's approval.
    AwaitingApproval(RollbackConfirmation),
}

/// How a rollback treats rows its down migration would destroy.
#[derive(Debug, Clone)]
enum DataPolicy {
    /// Refuse when any would be lost.
    Refuse,
    /// Run (confirmed by the first principal, approved by the second).
    Approved { confirmed_by: String, approved_by: String, confirmed: DataAtRisk },
}

/// The migration's stored extras: what it was generated with, the table the rehearsal made,
/// and for a change its steps, its changes and the version it was planned against.
pub(crate) struct Stored {
    pub(crate) inputs: GenerationInputs,
    expected: Option<LiveTable>,
    pub(crate) steps: Option<StepPlan>,
    pub(crate) changes: Vec<schema_model::change::Change>,
    /// The definition of the base version (a change only).
    pub(crate) base: Option<TableSchema>,
}

impl Store {
    /// Applies an approved request's up migration to a target, exactly once (see the module
    /// docs for the protocol and what is checked on the way).
    pub async fn apply(&self, id: &str, target: &str, performed_by: &str) -> Result<ApplyOutcome, StoreError> {
        let id = parse_id(id)?;
        let operations = &self.inner.operations;
        let _permits = operations.permit(target)?;
        let (endpoint, request, model, stored) = self.prepare(id, target).await?;
        self.claim(id, target, Action::Apply, performed_by, &request, &model, &stored, None).await?;
        operations.fault("apply:claimed")?;
        let renewal = self.keep_alive(id);
        if let (Some(base), Some(plan)) = (&stored.base, &stored.steps) {
            let run = steps::Run {
                target,
                endpoint,
                limits: &operations.limits,
                id,
                checksum: &request.checksum,
                file_name: &request.migration.file_name,
                by: performed_by,
                direction: steps::Direction::Up,
                steps: &plan.up,
                before: base,
                after: &model.schema_json,
                naming: &stored.inputs.naming,
                drops: Vec::new(),
                loss_approved: false,
            };
            let result = steps::run(self, &run).await.map(|(ran, _)| ran);
            let inputs = &stored.inputs;
            let record = async |ledger: &Ledger<'_>, ran_sql: bool| ledger.applied(ran_sql, inputs, None).await;
            return self.finish(id, target, Action::Apply, performed_by, &request, renewal, result, record).await;
        }
        let body = ddl_gen::pg::transaction_body(&request.migration.up_sql)
            .ok_or_else(|| StoreError::Internal("the stored up migration is not a registry transaction".to_owned()))?;
        let checksum = request.checksum.as_str();
        let file_name = request.migration.file_name.as_str();
        let (schema, table) = (request.table_schema.as_str(), request.table_name.as_str());
        let work = async |transaction: &Transaction<'_>| -> Result<bool, StoreError> {
            self.still_holding(id).await?;
            if let Some(recorded) = target::recorded_checksum(transaction, id).await? {
                if recorded != checksum {
                    return Err(StoreError::Divergent {
                        target: target.to_owned(),
                        message: format!("checksum {recorded} there, {checksum} here"),
                    });
                }
                return Ok(false);
            }
            // IF NOT EXISTS would silently keep an object of the same name: refuse instead.
            let (exists, entries) = pg_introspect::read::namespace(transaction, schema).await?;
            let live = pg_introspect::live::existing_objects(exists, &entries);
            let taken = target::names_in_the_way(&model, &stored.inputs, &live);
            if !taken.is_empty() {
                return Err(StoreError::MigrationFailed {
                    target: target.to_owned(),
                    message: format!("{}; the registry does not adopt objects it did not create", taken.join("; ")),
                });
            }
            if let Err(error) = transaction.batch_execute(body).await {
                return Err(target::sql_failure(target, &error));
            }
            transaction.batch_execute("SET LOCAL search_path = public").await?;
            let live = pg_introspect::read::table(transaction, schema, table).await?;
            let differences = match &live {
                None => vec![format!("table {schema}.{table} does not exist after the migration ran")],
                Some(live) => {
                    let mut found = pg_introspect::compare::conformance(&model, &stored.inputs, live);
                    if let Some(expected) = &stored.expected {
                        found.extend(pg_introspect::compare::differences(expected, live));
                    }
                    found
                }
            };
            if !differences.is_empty() {
                return Err(StoreError::Verification { target: target.to_owned(), differences });
            }
            transaction
                .execute(
                    "INSERT INTO schema_registry.applied_migrations (request_id, file_name, checksum, applied_by)
                     VALUES ($1::text::uuid, $2, $3, $4)",
                    &[&id, &file_name, &checksum, &performed_by],
                )
                .await?;
            Ok(true)
        };
        let result = target::run(target, endpoint, &operations.limits, work).await;
        let inputs = &stored.inputs;
        let record = async |ledger: &Ledger<'_>, ran_sql: bool| ledger.applied(ran_sql, inputs, None).await;
        self.finish(id, target, Action::Apply, performed_by, &request, renewal, result, record).await
    }

    /// Rolls a migrated request back on a target with its down migration; the request
    /// becomes `approved` again when no target has it applied any more. When the down
    /// migration would destroy rows, nothing changes and the answer is
    /// [`StoreError::DataLoss`] with the counts (see [`Store::confirm_rollback`]).
    pub async fn rollback(&self, id: &str, target: &str, performed_by: &str) -> Result<ApplyOutcome, StoreError> {
        self.roll_back(id, target, performed_by, DataPolicy::Refuse).await
    }

    /// An operator's confirmation that a rollback may destroy data. When nothing is at
    /// risk, the rollback simply runs. Otherwise the confirmation is recorded (and audited)
    /// with the counts, and the rollback waits for [`Store::approve_rollback`] by another
    /// principal.
    pub async fn confirm_rollback(&self, id: &str, target: &str, by: &str) -> Result<RollbackStep, StoreError> {
        let id = parse_id(id)?;
        let endpoint = self.endpoint(target)?;
        let request = self.get_request(id).await?;
        let at_risk = match request.base_version {
            // A change: what its way back drops are the columns it added.
            Some(_) => {
                let (_, _, model, stored) = self.prepare(id, target).await?;
                let columns = steps::added_columns(&stored.changes);
                steps::values_at_risk_on(target, endpoint, &self.inner.operations.limits, &model.schema_json, &columns)
                    .await?
            }
            None => target::data_at_risk(target, endpoint, &self.inner.operations.limits, &request).await?,
        };
        if at_risk.is_empty() {
            return self.rollback(id, target, by).await.map(RollbackStep::Done);
        }
        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let registry = client.transaction().await?;
        let current = fetch_for_update(&registry, id).await?;
        if let Some(found) = lease::current(&registry, id).await? {
            return Err(lease::in_progress(&found));
        }
        if current != RequestStatus::Migrated || !is_live(&registry, id, target).await? {
            return Err(StoreError::InvalidTransition { from: current, to: RequestStatus::Approved });
        }
        let counts = serde_json::to_value(&at_risk).map_err(|e| StoreError::Internal(e.to_string()))?;
        let inserted = registry
            .execute(
                "INSERT INTO registry.rollback_approvals (request_id, target, confirmed_by, data_at_risk)
                 VALUES ($1::text::uuid, $2, $3, $4) ON CONFLICT (request_id, target) WHERE approved_at IS NULL DO NOTHING",
                &[&id, &target, &by, &counts],
            )
            .await?;
        if inserted == 0 {
            let row = registry
                .query_one(
                    "SELECT confirmed_by FROM registry.rollback_approvals
                     WHERE request_id = $1::text::uuid AND target = $2 AND approved_at IS NULL",
                    &[&id, &target],
                )
                .await?;
            let confirmed_by: String = row.get(0);
            registry.commit().await?;
            return Ok(RollbackStep::AwaitingApproval(RollbackConfirmation {
                request_id: id.to_owned(),
                target: target.to_owned(),
                status: "awaiting_approval",
                confirmed_by,
                data_at_risk: at_risk,
            }));
        }
        let details = serde_json::json!({"dataAtRisk": at_risk}).to_string();
        crate::audit::NewAudit {
            request_id: Some(id),
            table_schema: Some(&request.table_schema),
            table_name: Some(&request.table_name),
            action: "rollback-confirm",
            performed_by: by,
            from_status: Some(current.as_str()),
            to_status: Some(current.as_str()),
            target: Some(target),
            success: true,
            details: Some(&details),
            ..crate::audit::NewAudit::default()
        }
        .insert(&registry, &self.inner.audit_key)
        .await?;
        registry.commit().await?;
        Ok(RollbackStep::AwaitingApproval(RollbackConfirmation {
            request_id: id.to_owned(),
            target: target.to_owned(),
            status: "awaiting_approval",
            confirmed_by: by.to_owned(),
            data_at_risk: at_risk,
        }))
    }

    /// A reviewer's approval of a confirmed, data-losing rollback: it runs now, and its
    /// audit entry records the rows lost and both principals. The reviewer must not be the
    /// operator who confirmed it.
    pub async fn approve_rollback(&self, id: &str, target: &str, by: &str) -> Result<ApplyOutcome, StoreError> {
        let id = parse_id(id)?;
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT confirmed_by, data_at_risk FROM registry.rollback_approvals
                 WHERE request_id = $1::text::uuid AND target = $2 AND approved_at IS NULL",
                &[&id, &target],
            )
            .await?
            .ok_or_else(|| StoreError::not_found(format!("a confirmed rollback of request {id} on \"{target}\"")))?;
        drop(client);
        let confirmed_by: String = row.get(0);
        let confirmed: serde_json::Value = row.get(1);
        if confirmed_by == by {
            return Err(StoreError::NotAllowed(format!(
                "{by} confirmed this rollback; another principal must approve it"
            )));
        }
        let confirmed: DataAtRisk = serde_json::from_value(confirmed)
            .map_err(|e| StoreError::Internal(format!("the stored confirmation of request {id}: {e}")))?;
        let policy = DataPolicy::Approved { confirmed_by, approved_by: by.to_owned(), confirmed };
        self.roll_back(id, target, by, policy).await
    }

    async fn roll_back(
        &self,
        id: &str,
        target: &str,
        performed_by: &str,
        data: DataPolicy,
    ) -> Result<ApplyOutcome, StoreError> {
        let id = parse_id(id)?;
        let operations = &self.inner.operations;
        let _permits = operations.permit(target)?;
        let (endpoint, request, model, stored) = self.prepare(id, target).await?;
        // What recording the outcome needs if a reconciliation has to do it.
        let approval = match &data {
            DataPolicy::Refuse => None,
            DataPolicy::Approved { confirmed_by, approved_by, confirmed } => Some(serde_json::json!({
                "confirmed": confirmed,
                "confirmedBy": confirmed_by,
                "approvedBy": approved_by,
            })),
        };
        self.claim(id, target, Action::Rollback, performed_by, &request, &model, &stored, approval.as_ref()).await?;
        operations.fault("rollback:claimed")?;
        let renewal = self.keep_alive(id);
        let result = if let (Some(base), Some(plan)) = (&stored.base, &stored.steps) {
            let run = steps::Run {
                target,
                endpoint,
                limits: &operations.limits,
                id,
                checksum: &request.checksum,
                file_name: &request.migration.file_name,
                by: performed_by,
                direction: steps::Direction::Down,
                steps: &plan.down,
                before: &model.schema_json.without_renames(),
                after: base,
                naming: &stored.inputs.naming,
                drops: steps::added_columns(&stored.changes),
                loss_approved: !matches!(data, DataPolicy::Refuse),
            };
            steps::run(self, &run).await
        } else {
            let body = ddl_gen::pg::transaction_body(&request.migration.down_sql).ok_or_else(|| {
                StoreError::Internal("the stored down migration is not a registry transaction".to_owned())
            })?;
            let refuse_loss = matches!(data, DataPolicy::Refuse);
            let work = async |transaction: &Transaction<'_>| -> Result<(bool, DataAtRisk), StoreError> {
                self.still_holding(id).await?;
                let recorded = transaction
                    .execute("DELETE FROM schema_registry.applied_migrations WHERE request_id = $1::text::uuid", &[&id])
                    .await?;
                if recorded == 0 {
                    // Already rolled back there; only the registry side is left to do.
                    return Ok((false, DataAtRisk::default()));
                }
                // Counted under the lock the drop takes anyway, so no row slips in between.
                let at_risk = target::measure_data_at_risk(transaction, &request, true).await?;
                if !at_risk.is_empty() && refuse_loss {
                    return Err(StoreError::DataLoss { target: target.to_owned(), at_risk });
                }
                if let Err(error) = transaction.batch_execute(body).await {
                    return Err(target::sql_failure(target, &error));
                }
                Ok((true, at_risk))
            };
            target::run(target, endpoint, &operations.limits, work).await
        };
        let (result, lost) = match result {
            Ok((ran_sql, lost)) => (Ok(ran_sql), lost),
            Err(failure) => (Err(failure), DataAtRisk::default()),
        };
        let record = async |ledger: &Ledger<'_>, ran_sql: bool| {
            let details = self.approved_rollback_details(ledger, id, target, approval.as_ref(), &lost).await?;
            ledger.rolled_back(ran_sql, details.as_deref(), None).await
        };
        self.finish(id, target, Action::Rollback, performed_by, &request, renewal, result, record).await
    }
}

impl Store {
    /// For a data-losing rollback that was approved: marks the approval used and says what
    /// was lost and who agreed, for the audit entry.
    async fn approved_rollback_details(
        &self,
        ledger: &Ledger<'_>,
        id: &str,
        target: &str,
        approval: Option<&serde_json::Value>,
        lost: &DataAtRisk,
    ) -> Result<Option<String>, StoreError> {
        let Some(approval) = approval else { return Ok(None) };
        let approved_by = approval["approvedBy"].as_str().unwrap_or_default();
        ledger
            .registry
            .execute(
                "UPDATE registry.rollback_approvals SET approved_by = $3, approved_at = now()
                 WHERE request_id = $1::text::uuid AND target = $2 AND approved_at IS NULL",
                &[&id, &target, &approved_by],
            )
            .await?;
        let mut details = approval.clone();
        details["rowsDropped"] = serde_json::json!(lost);
        Ok(Some(details.to_string()))
    }

    /// The compatibility level the policy gives a request's table.
    fn policy_level(&self, request: &StoredRequest) -> Compatibility {
        self.inner.policy.compatibility.level_of(&request.table_schema, &request.table_name)
    }

    /// How to reach a configured target.
    fn endpoint(&self, target: &str) -> Result<&Endpoint, StoreError> {
        self.inner
            .targets
            .get(target)
            .map(|found| &found.endpoint)
            .ok_or_else(|| StoreError::not_found(format!("target \"{target}\"")))
    }

    /// What an apply or rollback reads before it starts: the target, the stored request (as
    /// stored and as a model) and its migration's stored inputs and snapshot.
    async fn prepare(
        &self,
        id: &str,
        target: &str,
    ) -> Result<(&Endpoint, StoredRequest, SchemaRequest, Stored), StoreError> {
        let endpoint = self.endpoint(target)?;
        let request = self.get_request(id).await?;
        let model = stored_model(&request)?;
        let client = self.client().await?;
        let stored = stored_extras(&client, id, &self.inner).await?;
        Ok((endpoint, request, model, stored))
    }

    /// Step 1: claims the request for `action` on `target` (see the module docs). A lapsed
    /// lease is settled first; a live one is [`StoreError::InProgress`].
    #[expect(clippy::too_many_arguments, reason = "one claim of one operation")]
    async fn claim(
        &self,
        id: &str,
        target: &str,
        action: Action,
        by: &str,
        request: &StoredRequest,
        model: &SchemaRequest,
        stored: &Stored,
        details: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let mut settled = false;
        loop {
            let mut object = self.client().await?;
            let client: &mut tokio_postgres::Client = &mut object;
            let registry = client.transaction().await?;
            let current = fetch_for_update(&registry, id).await?;
            if let Some(found) = lease::current(&registry, id).await? {
                if !found.expired || settled {
                    return Err(lease::in_progress(&found));
                }
                drop(registry);
                drop(object);
                self.settle(id, false).await?;
                settled = true;
                continue;
            }
            if action == Action::Apply
                && current == RequestStatus::Approved
                && let (Some(base_version), Some(base)) = (request.base_version, &stored.base)
            {
                let now = crate::catalog::current_version(
                    &registry,
                    target,
                    base.schema_name(),
                    &base.table_name,
                    &stored.inputs.naming,
                )
                .await?;
                let now = now.map_or(0, |v| v.version);
                if now != base_version {
                    return Err(StoreError::StaleBase { current: now, base: base_version });
                }
            }
            let allowed = match action {
                Action::Apply => matches!(current, RequestStatus::Approved | RequestStatus::Migrated),
                Action::Rollback => current == RequestStatus::Migrated && is_live(&registry, id, target).await?,
            };
            if !allowed {
                let to = match action {
                    Action::Apply => RequestStatus::Migrated,
                    Action::Rollback => RequestStatus::Approved,
                };
                return Err(StoreError::InvalidTransition { from: current, to });
            }
            let ledger = Ledger {
                registry: &registry,
                key: &self.inner.audit_key,
                request,
                current,
                action,
                target,
                by,
                policy_level: self.policy_level(request),
            };
            if let Some(refusal) = ledger.refuse_unless_intact(model, stored).await? {
                registry.commit().await?;
                return Err(refusal);
            }
            lease::claim(&registry, &self.inner.operations, id, target, action, by, details).await?;
            registry.commit().await?;
            return Ok(());
        }
    }

    /// Step 3, or what replaces it when the target side failed: records the outcome and
    /// releases the lease in one registry transaction. A failure to record leaves the lease
    /// for reconciliation with the reason; the target's original error is never replaced.
    #[expect(clippy::too_many_arguments, reason = "one record of one operation")]
    async fn finish(
        &self,
        id: &str,
        target: &str,
        action: Action,
        by: &str,
        request: &StoredRequest,
        renewal: Renewal,
        result: Result<bool, TargetFailure>,
        record: impl AsyncFnOnce(&Ledger<'_>, bool) -> Result<ApplyOutcome, StoreError>,
    ) -> Result<ApplyOutcome, StoreError> {
        // What is left is one short registry transaction; a lease that lapses meanwhile is
        // noticed when it is released.
        drop(renewal);
        let operations = &self.inner.operations;
        let ran_sql = match result {
            Ok(ran_sql) => ran_sql,
            Err(TargetFailure::Definite(error)) => {
                if let Err(audit_error) = self.record_failure(id, target, action, by, request, &error).await {
                    self.abandon(id, &format!("{error} (auditing it failed: {audit_error})")).await;
                }
                return Err(error);
            }
            Err(TargetFailure::Unclear(error)) => return self.settle_unclear(id, target, action, error).await,
        };
        operations.fault(&format!("{}:target-committed", action.as_str()))?;
        let recorded = async {
            let mut object = self.client().await?;
            let client: &mut tokio_postgres::Client = &mut object;
            let registry = client.transaction().await?;
            let current = fetch_for_update(&registry, id).await?;
            if !lease::release(&registry, id, &operations.instance).await? {
                return Ok(None);
            }
            let ledger = Ledger {
                registry: &registry,
                key: &self.inner.audit_key,
                request,
                current,
                action,
                target,
                by,
                policy_level: self.policy_level(request),
            };
            let outcome = record(&ledger, ran_sql).await?;
            registry.commit().await?;
            Ok::<_, StoreError>(Some(outcome))
        }
        .await;
        match recorded {
            Ok(Some(outcome)) => {
                operations.fault(&format!("{}:recorded", action.as_str()))?;
                Ok(outcome)
            }
            // The lease lapsed and a reconciliation recorded what the target's history says.
            Ok(None) => {
                let now = self.get_request(id).await?;
                Ok(ApplyOutcome { request_id: id.to_owned(), target: target.to_owned(), ran_sql, status: now.status })
            }
            Err(error) => {
                let message = format!("the target committed the {}; recording it failed: {error}", action.as_str());
                self.abandon(id, &message).await;
                Err(StoreError::Unsettled {
                    target: target.to_owned(),
                    message: format!(
                        "{message}; the next {} of this request (or the server's reconciliation) records it from the \
                         target's history",
                        action.as_str()
                    ),
                })
            }
        }
    }

    /// A failure on the target, audited and the lease released, in one registry transaction.
    async fn record_failure(
        &self,
        id: &str,
        target: &str,
        action: Action,
        by: &str,
        request: &StoredRequest,
        error: &StoreError,
    ) -> Result<(), StoreError> {
        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let registry = client.transaction().await?;
        let current = fetch_for_update(&registry, id).await?;
        if lease::release(&registry, id, &self.inner.operations.instance).await? {
            let ledger = Ledger {
                registry: &registry,
                key: &self.inner.audit_key,
                request,
                current,
                action,
                target,
                by,
                policy_level: self.policy_level(request),
            };
            ledger.failed(error, None).await?;
        }
        registry.commit().await?;
        Ok(())
    }

    /// COMMIT was sent and no answer came: the target's history decides, now if it can be
    /// read, else later.
    async fn settle_unclear(
        &self,
        id: &str,
        target: &str,
        action: Action,
        error: StoreError,
    ) -> Result<ApplyOutcome, StoreError> {
        let message = format!("the answer to COMMIT never came ({error})");
        self.abandon(id, &message).await;
        match self.settle(id, false).await {
            Ok(Some(settled)) if settled.ran_on_target => {
                let now = self.get_request(id).await?;
                Ok(ApplyOutcome {
                    request_id: id.to_owned(),
                    target: target.to_owned(),
                    ran_sql: true,
                    status: now.status,
                })
            }
            // It did not commit; the settlement audited the failure.
            Ok(Some(_)) => Err(error),
            Ok(None) => Err(StoreError::Unsettled {
                target: target.to_owned(),
                message: format!("{message}; another call settled it meanwhile, read the request"),
            }),
            Err(settle_error) => Err(StoreError::Unsettled {
                target: target.to_owned(),
                message: format!(
                    "{message}; whether the target committed is not known yet ({settle_error}); the next {} of this \
                     request settles it",
                    action.as_str()
                ),
            }),
        }
    }

    /// Inside the target transaction, once the apply lock is held: the lease must still be
    /// this process's. A lapsed lease that a reconciliation settled meanwhile means the
    /// registry has already recorded that this step did not run; running it now would
    /// contradict that record. (A settlement holds the same lock until it has recorded, so no
    /// settlement can start between this check and COMMIT.)
    async fn still_holding(&self, id: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        let ours = client
            .query_opt(
                "SELECT 1 FROM registry.operations WHERE request_id = $1::text::uuid AND holder = $2",
                &[&id, &self.inner.operations.instance],
            )
            .await?
            .is_some();
        if ours {
            Ok(())
        } else {
            Err(StoreError::InProgress(format!(
                "this call's claim on request {id} lapsed and was settled by another; nothing was run, retry"
            )))
        }
    }

    /// Before a status change: the request's lease, if any, must be settled, and a step that
    /// ran on a target is never abandoned. `Err` refuses the change.
    pub(crate) async fn settle_before_status_change(&self, id: &str) -> Result<(), StoreError> {
        let found = {
            let mut object = self.client().await?;
            let client: &mut tokio_postgres::Client = &mut object;
            let transaction = client.transaction().await?;
            lease::current(&transaction, id).await?
        };
        let Some(found) = found else { return Ok(()) };
        if !found.expired {
            return Err(lease::in_progress(&found));
        }
        match self.settle(id, false).await {
            Ok(_) => Ok(()),
            Err(error) => Err(StoreError::InProgress(format!(
                "an interrupted {} of request {id} on target \"{}\" is not settled yet ({error}); its status cannot \
                 change until it is (retry the {} or wait for the server's reconciliation)",
                found.action.as_str(),
                found.target,
                found.action.as_str()
            ))),
        }
    }
}

/// The stored request as a model.
fn stored_model(request: &StoredRequest) -> Result<SchemaRequest, StoreError> {
    SchemaRequest::from_value(request.request.clone())
        .map_err(|e| StoreError::Internal(format!("stored request {} does not read back: {e}", request.id)))
}

/// The migration's generation inputs and rehearsal snapshot (migrations stored before they
/// were kept get the naming options in force now and no snapshot).
async fn stored_extras(client: &tokio_postgres::Client, id: &str, inner: &Inner) -> Result<Stored, StoreError> {
    let row = client
        .query_one(
            "SELECT m.generation, m.expected, m.steps, m.changes, r.base_version, r.target, r.table_schema, r.table_name,
                    r.request->'schemaJson'->>'renamedFrom'
             FROM registry.migrations m JOIN registry.schema_requests r ON r.id = m.request_id
             WHERE m.request_id = $1::text::uuid",
            &[&id],
        )
        .await?;
    let generation: Option<serde_json::Value> = row.get(0);
    let expected: Option<serde_json::Value> = row.get(1);
    let steps: Option<serde_json::Value> = row.get(2);
    let changes: Option<serde_json::Value> = row.get(3);
    let base_version: Option<i32> = row.get(4);
    let inputs = match generation {
        Some(value) => serde_json::from_value(value)
            .map_err(|e| StoreError::Internal(format!("stored generation inputs of {id}: {e}")))?,
        None => GenerationInputs::with_naming(&inner.policy.naming),
    };
    let expected = expected
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| StoreError::Internal(format!("stored rehearsal snapshot of {id}: {e}")))?;
    let steps = steps
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| StoreError::Internal(format!("stored steps of {id}: {e}")))?;
    let changes = changes
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| StoreError::Internal(format!("stored changes of {id}: {e}")))?
        .unwrap_or_default();
    let base = match base_version {
        None => None,
        Some(version) => {
            let target: Option<String> = row.get(5);
            let schema: String = row.get(6);
            let (name, renamed_from): (String, Option<String>) = (row.get(7), row.get(8));
            let target = target.ok_or_else(|| StoreError::Internal(format!("change {id} names no target")))?;
            // The catalog knows the table by its old name until the change is applied.
            let mut found = None;
            for candidate in renamed_from.iter().chain(std::iter::once(&name)) {
                found = crate::catalog::version_row(client, &target, &schema, candidate, Some(version), &inputs.naming)
                    .await?;
                if found.is_some() {
                    break;
                }
            }
            Some(
                found
                    .ok_or_else(|| StoreError::Internal(format!("version {version} of {schema}.{name}, which change {id} was planned against, is not in the catalog")))?
                    .definition,
            )
        }
    };
    Ok(Stored { inputs, expected, steps, changes, base })
}
