//! The registry side of an apply or rollback: the integrity gate before anything runs, and
//! the one transaction that records an outcome (status, applications, catalog, audit).

use schema_model::change::Compatibility;
use schema_model::environment::GenerationInputs;
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;
use tokio_postgres::Transaction;

use super::ApplyOutcome;
use super::lease::Action;
use crate::audit::{AuditKey, NewAudit};
use crate::error::StoreError;
use crate::requests::{StoredRequest, migration_checksum};

/// How an outcome was found when a reconciliation records it: the attempt that ran it
/// stopped before recording it, for the reason kept with its lease.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recovery {
    /// Why the attempt could not record it (`None`: it stopped without saying, a crash).
    pub(crate) error: Option<String>,
}

impl Recovery {
    fn why(&self) -> &str {
        self.error.as_deref().unwrap_or("the attempt stopped (the process ended or lost its lease)")
    }
}

/// The registry side of one apply or rollback of one request on one target, inside the
/// registry transaction that holds the request's row.
pub(crate) struct Ledger<'a> {
    pub(crate) registry: &'a Transaction<'a>,
    pub(crate) key: &'a AuditKey,
    pub(crate) request: &'a StoredRequest,
    pub(crate) current: RequestStatus,
    pub(crate) action: Action,
    pub(crate) target: &'a str,
    pub(crate) by: &'a str,
    /// The compatibility level the policy gives the table, for a version whose request
    /// sets none and whose table had none before.
    pub(crate) policy_level: Compatibility,
}

impl Ledger<'_> {
    /// The integrity refusal, audited, when what would run is not what was approved; `None`
    /// when it is.
    pub(crate) async fn refuse_unless_intact(
        &self,
        model: &SchemaRequest,
        stored: &super::Stored,
    ) -> Result<Option<StoreError>, StoreError> {
        match check_integrity(self.registry, self.key, self.request, model, stored).await? {
            Ok(()) => Ok(None),
            Err(reason) => {
                let error = StoreError::Integrity(reason);
                self.failed(&error, None).await?;
                Ok(Some(error))
            }
        }
    }

    /// Audits `error` as this attempt's failure (the status is unchanged).
    pub(crate) async fn failed(&self, error: &StoreError, note: Option<&str>) -> Result<(), StoreError> {
        let message = error.to_string();
        let details = match error {
            StoreError::DataLoss { at_risk, .. } => Some(serde_json::json!({"dataAtRisk": at_risk}).to_string()),
            StoreError::Verification { differences, .. } => {
                Some(serde_json::json!({"differences": differences}).to_string())
            }
            _ => None,
        };
        NewAudit {
            request_id: Some(&self.request.id),
            table_schema: Some(&self.request.table_schema),
            table_name: Some(&self.request.table_name),
            action: self.action.as_str(),
            performed_by: self.by,
            from_status: Some(self.current.as_str()),
            to_status: Some(self.current.as_str()),
            justification: note,
            target: Some(self.target),
            success: false,
            error: Some(&message),
            checksum: Some(&self.request.checksum),
            details: details.as_deref(),
            ..NewAudit::default()
        }
        .insert(self.registry, self.key)
        .await
    }

    /// Records that the up migration is applied on the target: the application, the status,
    /// the catalog's new version (with the names the stored SQL used: the stored inputs'),
    /// the audit entry. `ran_sql` says whether this call ran it; `recovered`, that an earlier
    /// attempt did and is recorded only now.
    pub(crate) async fn applied(
        &self,
        ran_sql: bool,
        inputs: &GenerationInputs,
        recovered: Option<&Recovery>,
    ) -> Result<ApplyOutcome, StoreError> {
        let (registry, request, target) = (self.registry, self.request, self.target);
        let outcome =
            |status| ApplyOutcome { request_id: request.id.clone(), target: target.to_owned(), ran_sql, status };
        if is_live(registry, &request.id, target).await? {
            if ran_sql {
                // The registry already had it applied there, yet the target did not (an
                // interrupted rollback): it has been applied again.
                self.apply_audit(Some("applied again: the target had lost this migration"), true)
                    .insert(registry, self.key)
                    .await?;
            }
            return Ok(outcome(self.current));
        }
        let database_id: i64 = registry
            .query_one(
                "INSERT INTO registry.databases (name) VALUES ($1)
                 ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                &[&target],
            )
            .await?
            .get(0);
        registry
            .execute(
                "INSERT INTO registry.migration_applications (migration_id, database_id, applied_by)
                 SELECT id, $2, $3 FROM registry.migrations WHERE request_id = $1::text::uuid",
                &[&request.id, &database_id, &self.by],
            )
            .await?;
        if self.current != RequestStatus::Migrated {
            registry
                .execute(
                    "UPDATE registry.schema_requests SET status = 'migrated', version = version + 1, updated_at = now()
                     WHERE id = $1::text::uuid",
                    &[&request.id],
                )
                .await?;
        }
        let model = SchemaRequest::from_value(request.request.clone())
            .map_err(|e| StoreError::Internal(format!("stored request {}: {e}", request.id)))?;
        let level = match model.compatibility {
            Some(level) => level,
            None => crate::catalog::current_version(
                registry,
                target,
                model.schema_json.schema_name(),
                model.schema_json.renamed_from.as_deref().unwrap_or(&model.schema_json.table_name),
                &inputs.naming,
            )
            .await?
            .map_or(self.policy_level, |current| current.compatibility),
        };
        crate::catalog::record_version(
            registry,
            database_id,
            &model.schema_json,
            crate::catalog::Origin::Request(&request.id),
            inputs,
            level,
        )
        .await?;
        let (note, executed) = match recovered {
            Some(recovery) => (
                Some(format!(
                    "settled by reconciliation: the target committed this migration and the registry had not recorded \
                     it ({})",
                    recovery.why()
                )),
                true,
            ),
            None if ran_sql => (None, true),
            None => {
                (Some("completed after an interrupted apply: the target already had this migration".to_owned()), false)
            }
        };
        self.apply_audit(note.as_deref(), executed).insert(registry, self.key).await?;
        Ok(outcome(RequestStatus::Migrated))
    }

    /// The audit entry of a successful apply.
    fn apply_audit<'b>(&'b self, note: Option<&'b str>, executed: bool) -> NewAudit<'b> {
        let request = self.request;
        NewAudit {
            request_id: Some(&request.id),
            table_schema: Some(&request.table_schema),
            table_name: Some(&request.table_name),
            action: "apply",
            performed_by: self.by,
            from_status: Some(self.current.as_str()),
            to_status: Some(RequestStatus::Migrated.as_str()),
            target: Some(self.target),
            sql_executed: executed.then_some(request.migration.up_sql.as_str()),
            checksum: Some(&request.checksum),
            success: true,
            justification: note,
            ..NewAudit::default()
        }
    }

    /// Records that the down migration ran on the target (or that the target no longer has
    /// the migration): the application closed, the status (`approved` when no target has it
    /// any more), the catalog's drop of the version this request made, the audit entry.
    pub(crate) async fn rolled_back(
        &self,
        ran_sql: bool,
        details: Option<&str>,
        recovered: Option<&Recovery>,
    ) -> Result<ApplyOutcome, StoreError> {
        let (registry, request, target) = (self.registry, self.request, self.target);
        registry
            .execute(
                "UPDATE registry.migration_applications a SET rolled_back_at = now(), rolled_back_by = $3
                 FROM registry.migrations m, registry.databases d
                 WHERE m.id = a.migration_id AND d.id = a.database_id AND m.request_id = $1::text::uuid
                   AND d.name = $2 AND a.rolled_back_at IS NULL",
                &[&request.id, &target, &self.by],
            )
            .await?;
        let still_live: bool = registry
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM registry.migration_applications a JOIN registry.migrations m ON m.id = a.migration_id
                     WHERE m.request_id = $1::text::uuid AND a.rolled_back_at IS NULL)",
                &[&request.id],
            )
            .await?
            .get(0);
        let status = if still_live { RequestStatus::Migrated } else { RequestStatus::Approved };
        registry
            .execute(
                "UPDATE registry.schema_requests SET status = $2, version = version + 1, updated_at = now()
                 WHERE id = $1::text::uuid",
                &[&request.id, &status.as_str()],
            )
            .await?;
        match request.base_version {
            // A change rolled back: the table is at its base version again.
            Some(base) => crate::catalog::record_reverted(registry, target, request, base).await?,
            None => crate::catalog::record_dropped(registry, target, request).await?,
        }
        let (note, executed) = match recovered {
            Some(recovery) => (
                Some(format!(
                    "settled by reconciliation: the target committed this rollback and the registry had not recorded \
                     it ({})",
                    recovery.why()
                )),
                true,
            ),
            None if ran_sql => (None, true),
            None => (Some("completed after an interrupted rollback: the target no longer had it".to_owned()), false),
        };
        NewAudit {
            request_id: Some(&request.id),
            table_schema: Some(&request.table_schema),
            table_name: Some(&request.table_name),
            action: "rollback",
            performed_by: self.by,
            from_status: Some(self.current.as_str()),
            to_status: Some(status.as_str()),
            justification: note.as_deref(),
            target: Some(target),
            sql_executed: executed.then_some(request.migration.down_sql.as_str()),
            checksum: Some(&request.checksum),
            details,
            success: true,
            ..NewAudit::default()
        }
        .insert(registry, self.key)
        .await?;
        Ok(ApplyOutcome { request_id: request.id.clone(), target: target.to_owned(), ran_sql, status })
    }
}

/// `Ok(Err(reason))` when what would run is not what was approved.
async fn check_integrity(
    registry: &Transaction<'_>,
    key: &AuditKey,
    request: &StoredRequest,
    model: &SchemaRequest,
    stored: &super::Stored,
) -> Result<Result<(), String>, StoreError> {
    let inputs = &stored.inputs;
    let migration = &request.migration;
    if migration_checksum(&migration.up_sql, &migration.down_sql) != request.checksum {
        return Ok(Err("the stored SQL does not match its checksum: it was changed after submission".to_owned()));
    }
    let approval = registry
        .query_opt(
            "SELECT id, checksum FROM registry.audit_log
             WHERE request_id = $1::text::uuid AND action = 'status' AND to_status = 'approved' AND success
             ORDER BY seq DESC NULLS LAST, id DESC LIMIT 1",
            &[&request.id],
        )
        .await?;
    let Some(approval) = approval else {
        return Ok(Err("no approval of this request is on record".to_owned()));
    };
    let approval_id: i64 = approval.get(0);
    let approved: Option<String> = approval.get(1);
    if !crate::audit::entry_is_sealed(registry, key, approval_id).await? {
        return Ok(Err(format!("the approval's audit entry {approval_id} was altered (it no longer fits the chain)")));
    }
    match approved {
        Some(approved) if approved == request.checksum => {}
        Some(approved) => {
            return Ok(Err(format!(
                "the SQL is not what the reviewer approved (checksum {} now, {approved} approved)",
                request.checksum
            )));
        }
        None => return Ok(Err("the approval recorded no checksum (approved before checksums were kept)".to_owned())),
    }
    if let Some(base) = &stored.base {
        // A change: its steps are planned again against the base version.
        let again = schema_diff::diff(base, &model.schema_json, &inputs.naming).map_err(|e| e.to_string()).and_then(
            |changes| {
                ddl_gen::alter::plan(base, &model.schema_json, &changes, &inputs.naming).map_err(|e| e.to_string())
            },
        );
        return Ok(match again {
            Ok(steps) if stored.steps.as_ref() == Some(&steps) => {
                let preview = registry_core::change::preview(model, &steps);
                if preview.up_sql == migration.up_sql && preview.down_sql == migration.down_sql {
                    Ok(())
                } else {
                    Err("the stored scripts are not the ones the stored steps render".to_owned())
                }
            }
            Ok(_) => Err(
                "the stored request no longer plans the stored steps against its base version (the request, the steps \
                 or the generator changed since approval); submit the request again"
                    .to_owned(),
            ),
            Err(error) => Err(format!("the stored request no longer plans against its base version: {error}")),
        });
    }
    match ddl_gen::generate_with(model, inputs) {
        Ok(again) if again.up_sql == migration.up_sql && again.down_sql == migration.down_sql => Ok(Ok(())),
        Ok(_) => Ok(Err(
            "the stored request no longer generates the stored SQL (the request or the SQL was changed, or the \
             generator changed since approval); submit the request again"
                .to_owned(),
        )),
        Err(error) => Ok(Err(format!("the stored request no longer generates SQL: {error}"))),
    }
}

/// Whether the request's migration is applied (and not rolled back) on the target.
pub(crate) async fn is_live(
    client: &impl tokio_postgres::GenericClient,
    id: &str,
    target: &str,
) -> Result<bool, StoreError> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM registry.migration_applications a
                 JOIN registry.migrations m ON m.id = a.migration_id
                 JOIN registry.databases d ON d.id = a.database_id
                 WHERE m.request_id = $1::text::uuid AND d.name = $2 AND a.rolled_back_at IS NULL)",
            &[&id, &target],
        )
        .await?;
    Ok(row.get(0))
}

/// The request's status, its row locked for the rest of `transaction`.
pub(crate) async fn fetch_for_update(transaction: &Transaction<'_>, id: &str) -> Result<RequestStatus, StoreError> {
    let row = transaction
        .query_opt("SELECT status FROM registry.schema_requests WHERE id = $1::text::uuid FOR UPDATE", &[&id])
        .await?
        .ok_or_else(|| StoreError::not_found(format!("request {id}")))?;
    let status: String = row.get(0);
    status.parse().map_err(StoreError::Invalid)
}
