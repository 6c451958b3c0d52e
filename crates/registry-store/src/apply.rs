//! Applying an approved request's migration to a target database exactly once, and
//! rolling it back, with what runs checked before, during and after.
//!
//! * **What was approved is what runs.** Before anything touches the target, the stored
//!   SQL must match its checksum, the checksum the reviewer's approval recorded (whose
//!   audit entry must still be sealed in the chain), and the SQL the generator makes again
//!   from the stored request with the stored inputs. Any mismatch is refused as an
//!   integrity error, audited, and nothing runs.
//! * **Exactly once.** On the target, under an advisory lock, the migration's statements
//!   and a row in the target's own history table (`schema_registry.applied_migrations`)
//!   commit in one transaction; only then is the registry marked `migrated` and audited. A
//!   retry after a crash between the two finds the history row and completes the registry
//!   side without running the SQL again. The request's row stays locked in the registry
//!   from the status check to the final record, so appliers queue and nobody rejects a
//!   request mid-apply.
//! * **Nothing adopted, nothing hidden.** Inside the target transaction, before the SQL
//!   runs, every name the migration creates (table, indexes, constraints, enum types) must
//!   be free on the target, and every type it shares must be there with its labels. After
//!   the SQL ran and before COMMIT, the table is read back and must equal the request and
//!   the table the rehearsal made; otherwise the transaction rolls back and the apply fails
//!   with the differences.
//! * **No data lost in one call.** A rollback whose down migration would drop a table that
//!   has rows is refused with the row counts; it runs only after an operator confirmed the
//!   loss and a reviewer (another principal) approved it.

use std::collections::BTreeMap;

use pg_introspect::live::LiveTable;
use schema_model::environment::{ExistingObjects, GenerationInputs, RelationKind};
use schema_model::objects::TableObjects;
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;
use serde::Serialize;
use tokio_postgres::Transaction;

use crate::audit::{AuditKey, NewAudit};
use crate::connect::Endpoint;
use crate::error::{StoreError, describe};
use crate::requests::{StoredRequest, migration_checksum};
use crate::store::{Inner, Store, parse_id};

/// Advisory lock key the registry takes on a target while it applies or rolls back (it
/// shows in `pg_locks` as objid/classid of this number).
pub const APPLY_LOCK: i64 = 0x7265_6769_7374_7279;

/// The target's history schema; [`ensure_history`] creates it only when it is missing, so a
/// target role without CREATE on the database can apply once a DBA made the schema.
pub const HISTORY_SCHEMA: &str = "schema_registry";

/// Rows counted at most when measuring what a rollback would destroy.
const COUNT_CAP: i64 = 1_000_000;

const HISTORY_TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_registry.applied_migrations (
    request_id  uuid PRIMARY KEY,
    file_name   text NOT NULL,
    checksum    text NOT NULL,
    applied_by  text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)";

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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
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

/// The migration's stored extras: what it was generated with, the table the rehearsal made.
struct Stored {
    inputs: GenerationInputs,
    expected: Option<LiveTable>,
}

impl Store {
    /// Applies an approved request's up migration to a target, exactly once (see the module
    /// docs for what is checked on the way).
    pub async fn apply(&self, id: &str, target: &str, performed_by: &str) -> Result<ApplyOutcome, StoreError> {
        let id = parse_id(id)?;
        let (endpoint, request, model, stored) = self.prepare(id, target).await?;
        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let registry = client.transaction().await?;
        let current = fetch_for_update(&registry, id).await?;
        if !matches!(current, RequestStatus::Approved | RequestStatus::Migrated) {
            return Err(StoreError::InvalidTransition { from: current, to: RequestStatus::Migrated });
        }
        let failure = Failure {
            registry: &registry,
            key: &self.inner.audit_key,
            request: &request,
            current,
            action: "apply",
            target,
            by: performed_by,
        };
        if let Some(refusal) = failure.refuse_unless_intact(&model, &stored.inputs).await? {
            registry.commit().await?;
            return Err(refusal);
        }
        let body = ddl_gen::pg::transaction_body(&request.migration.up_sql)
            .ok_or_else(|| StoreError::Internal("the stored up migration is not a registry transaction".to_owned()))?;
        let checksum = request.checksum.as_str();
        let file_name = request.migration.file_name.as_str();
        let (schema, table) = (request.table_schema.as_str(), request.table_name.as_str());
        let work = async |transaction: &Transaction<'_>| -> Result<bool, StoreError> {
            let recorded = transaction
                .query_opt(
                    "SELECT checksum FROM schema_registry.applied_migrations WHERE request_id = $1::text::uuid",
                    &[&id],
                )
                .await?;
            if let Some(row) = recorded {
                let recorded: String = row.get(0);
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
            let taken = names_in_the_way(&model, &stored.inputs, &live);
            if !taken.is_empty() {
                return Err(StoreError::MigrationFailed {
                    target: target.to_owned(),
                    message: format!("{}; the registry does not adopt objects it did not create", taken.join("; ")),
                });
            }
            if let Err(error) = transaction.batch_execute(body).await {
                return Err(StoreError::MigrationFailed { target: target.to_owned(), message: describe(&error) });
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
        let ran_sql = match on_target(endpoint, &failure, work).await {
            Ok(ran_sql) => ran_sql,
            Err(error) => {
                // Keep the failure's audit entry.
                registry.commit().await?;
                return Err(error);
            }
        };
        let outcome =
            record_applied(&registry, &request, current, target, performed_by, ran_sql, &stored.inputs, &self.inner)
                .await?;
        registry.commit().await?;
        Ok(outcome)
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
        let endpoint = &self
            .inner
            .targets
            .get(target)
            .ok_or_else(|| StoreError::not_found(format!("target \"{target}\"")))?
            .endpoint;
        let request = self.get_request(id).await?;
        let at_risk = {
            let client = endpoint.connect().await?;
            measure_data_at_risk(&client, &request, false).await?
        };
        if at_risk.is_empty() {
            return self.rollback(id, target, by).await.map(RollbackStep::Done);
        }
        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let registry = client.transaction().await?;
        let current = fetch_for_update(&registry, id).await?;
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
                    "SELECT confirmed_by, data_at_risk FROM registry.rollback_approvals
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
        NewAudit {
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
            ..NewAudit::default()
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
        let confirmed = DataAtRisk {
            rows: serde_json::from_value(confirmed["rows"].clone()).unwrap_or_default(),
            capped: confirmed["capped"].as_bool().unwrap_or(false),
        };
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
        let (endpoint, request, model, stored) = self.prepare(id, target).await?;
        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let registry = client.transaction().await?;
        let current = fetch_for_update(&registry, id).await?;
        if current != RequestStatus::Migrated || !is_live(&registry, id, target).await? {
            return Err(StoreError::InvalidTransition { from: current, to: RequestStatus::Approved });
        }
        let failure = Failure {
            registry: &registry,
            key: &self.inner.audit_key,
            request: &request,
            current,
            action: "rollback",
            target,
            by: performed_by,
        };
        if let Some(refusal) = failure.refuse_unless_intact(&model, &stored.inputs).await? {
            registry.commit().await?;
            return Err(refusal);
        }
        let body = ddl_gen::pg::transaction_body(&request.migration.down_sql).ok_or_else(|| {
            StoreError::Internal("the stored down migration is not a registry transaction".to_owned())
        })?;
        let mut lost = DataAtRisk::default();
        let work = async |transaction: &Transaction<'_>| -> Result<bool, StoreError> {
            let recorded = transaction
                .execute("DELETE FROM schema_registry.applied_migrations WHERE request_id = $1::text::uuid", &[&id])
                .await?;
            if recorded == 0 {
                // Already rolled back there; only the registry side is left to do.
                return Ok(false);
            }
            // Counted under the lock the drop takes anyway, so no row slips in between.
            let at_risk = measure_data_at_risk(transaction, &request, true).await?;
            if !at_risk.is_empty() && matches!(data, DataPolicy::Refuse) {
                return Err(StoreError::DataLoss { target: target.to_owned(), at_risk });
            }
            lost = at_risk;
            if let Err(error) = transaction.batch_execute(body).await {
                return Err(StoreError::MigrationFailed { target: target.to_owned(), message: describe(&error) });
            }
            Ok(true)
        };
        let ran_sql = match on_target(endpoint, &failure, work).await {
            Ok(ran_sql) => ran_sql,
            Err(error) => {
                registry.commit().await?;
                return Err(error);
            }
        };
        let details = match &data {
            DataPolicy::Refuse => None,
            DataPolicy::Approved { confirmed_by, approved_by, confirmed } => {
                registry
                    .execute(
                        "UPDATE registry.rollback_approvals SET approved_by = $3, approved_at = now()
                         WHERE request_id = $1::text::uuid AND target = $2 AND approved_at IS NULL",
                        &[&id, &target, approved_by],
                    )
                    .await?;
                Some(
                    serde_json::json!({
                        "rowsDropped": lost,
                        "confirmed": confirmed,
                        "confirmedBy": confirmed_by,
                        "approvedBy": approved_by,
                    })
                    .to_string(),
                )
            }
        };
        let outcome = record_rolled_back(
            &registry,
            &request,
            current,
            target,
            performed_by,
            ran_sql,
            details.as_deref(),
            &self.inner.audit_key,
        )
        .await?;
        registry.commit().await?;
        Ok(outcome)
    }
}

impl Store {
    /// What an apply or rollback reads before it starts: the target, the stored request (as
    /// stored and as a model) and its migration's stored inputs and snapshot.
    async fn prepare(
        &self,
        id: &str,
        target: &str,
    ) -> Result<(&Endpoint, StoredRequest, SchemaRequest, Stored), StoreError> {
        let endpoint = &self
            .inner
            .targets
            .get(target)
            .ok_or_else(|| StoreError::not_found(format!("target \"{target}\"")))?
            .endpoint;
        let request = self.get_request(id).await?;
        let model = stored_model(&request)?;
        let client = self.client().await?;
        let stored = stored_extras(&client, id, &self.inner).await?;
        Ok((endpoint, request, model, stored))
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
        .query_one("SELECT generation, expected FROM registry.migrations WHERE request_id = $1::text::uuid", &[&id])
        .await?;
    let generation: Option<serde_json::Value> = row.get(0);
    let expected: Option<serde_json::Value> = row.get(1);
    let inputs = match generation {
        Some(value) => serde_json::from_value(value)
            .map_err(|e| StoreError::Internal(format!("stored generation inputs of {id}: {e}")))?,
        None => GenerationInputs::with_naming(&inner.policy.naming),
    };
    let expected = expected
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| StoreError::Internal(format!("stored rehearsal snapshot of {id}: {e}")))?;
    Ok(Stored { inputs, expected })
}

/// `Ok(Err(reason))` when what would run is not what was approved.
async fn check_integrity(
    registry: &Transaction<'_>,
    key: &AuditKey,
    request: &StoredRequest,
    model: &SchemaRequest,
    inputs: &GenerationInputs,
) -> Result<Result<(), String>, StoreError> {
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

/// Every name the migration would create that the target already has, and every shared
/// type it does not have as the request declares it, each in a sentence.
fn names_in_the_way(model: &SchemaRequest, inputs: &GenerationInputs, live: &ExistingObjects) -> Vec<String> {
    let table = &model.schema_json;
    let schema = table.schema_name();
    let objects = TableObjects::of(model, &inputs.naming);
    let mut out = Vec::new();
    let describe = |name: &str| match live.relations.get(name) {
        Some(r) => match (&r.kind, &r.table) {
            (RelationKind::Index, Some(on)) => format!("an index on table {on}"),
            (kind, _) => format!("a {}", kind.word()),
        },
        None => "an object".to_owned(),
    };
    if live.relations.contains_key(&table.table_name) {
        out.push(format!(
            "{schema}.{} already exists there ({}) and was not created by this request",
            table.table_name,
            describe(&table.table_name)
        ));
    }
    let mut relations: Vec<&str> = objects.indexes.iter().map(|i| i.name.as_str()).collect();
    relations.extend(objects.primary_key.iter().map(|p| p.name.as_str()));
    relations.extend(objects.uniques.iter().map(|u| u.name.as_str()));
    for name in relations {
        if live.relations.contains_key(name) {
            out.push(format!("the name {schema}.{name} is taken there by {}", describe(name)));
        }
    }
    for name in objects.foreign_keys.iter().map(|f| &f.name).chain(objects.checks.iter().map(|c| &c.name)) {
        if let Some(other) = live.constraints.get(name).and_then(|list| list.first()) {
            out.push(format!("the constraint name {name} is taken there by table {}", other.table));
        }
    }
    for declared in &table.enums {
        let found = live.types.get(&declared.name);
        if inputs.shared_enums.contains(&declared.name) {
            if found.and_then(|t| t.enum_values.as_ref()) != Some(&declared.values) {
                out.push(format!(
                    "the shared enum type {schema}.{} is not there with the labels [{}]",
                    declared.name,
                    declared.values.join(", ")
                ));
            }
        } else if found.is_some() {
            out.push(format!("the type {schema}.{} already exists there", declared.name));
        }
    }
    out
}

/// Rows the down migration would destroy: the table's rows (counted up to the cap). With
/// `lock`, the table is locked first (in the transaction that will drop it).
async fn measure_data_at_risk(
    client: &impl tokio_postgres::GenericClient,
    request: &StoredRequest,
    lock: bool,
) -> Result<DataAtRisk, StoreError> {
    let (schema, table) = (&request.table_schema, &request.table_name);
    let exists: bool = client
        .query_one("SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL", &[schema, table])
        .await?
        .get(0);
    let mut at_risk = DataAtRisk::default();
    if !exists {
        return Ok(at_risk);
    }
    let qualified = ddl_gen::pg::qualified(Some(schema), table);
    if lock {
        client
            .batch_execute(&format!("SET LOCAL lock_timeout = '5s'; LOCK TABLE {qualified} IN ACCESS EXCLUSIVE MODE"))
            .await?;
    }
    let rows: i64 = client
        .query_one(&format!("SELECT count(*) FROM (SELECT 1 FROM {qualified} LIMIT {}) AS sample", COUNT_CAP + 1), &[])
        .await?
        .get(0);
    at_risk.capped = rows > COUNT_CAP;
    at_risk.rows.insert(format!("{schema}.{table}"), rows.min(COUNT_CAP));
    Ok(at_risk)
}

/// Where a failed apply or rollback is audited: the registry transaction holding the
/// request's row, and what was attempted by whom.
struct Failure<'a> {
    registry: &'a Transaction<'a>,
    key: &'a AuditKey,
    request: &'a StoredRequest,
    current: RequestStatus,
    action: &'a str,
    target: &'a str,
    by: &'a str,
}

impl Failure<'_> {
    /// The integrity refusal, audited in the registry transaction, when what would run is
    /// not what was approved; `None` when it is.
    async fn refuse_unless_intact(
        &self,
        model: &SchemaRequest,
        inputs: &GenerationInputs,
    ) -> Result<Option<StoreError>, StoreError> {
        match check_integrity(self.registry, self.key, self.request, model, inputs).await? {
            Ok(()) => Ok(None),
            Err(reason) => {
                let error = StoreError::Integrity(reason);
                self.audit(&error).await?;
                Ok(Some(error))
            }
        }
    }

    /// Audits `error` as this attempt's failure (the status is unchanged).
    async fn audit(&self, error: &StoreError) -> Result<(), StoreError> {
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
            action: self.action,
            performed_by: self.by,
            from_status: Some(self.current.as_str()),
            to_status: Some(self.current.as_str()),
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
}

/// Runs `work` in one transaction on the target, under the apply lock and with the
/// history table in place, and commits it. An error rolls it back and is audited in the
/// registry transaction (the status is unchanged).
async fn on_target(
    target: &Endpoint,
    failure: &Failure<'_>,
    work: impl AsyncFnOnce(&Transaction<'_>) -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    let result: Result<bool, StoreError> = async {
        let mut client = target.connect().await?;
        let transaction = client.transaction().await?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&APPLY_LOCK]).await?;
        ensure_history(&transaction).await?;
        let ran_sql = work(&transaction).await?;
        transaction.commit().await?;
        Ok(ran_sql)
    }
    .await;
    if let Err(error) = &result {
        failure.audit(error).await?;
    }
    result
}

#[expect(clippy::too_many_arguments, reason = "one record of one apply")]
async fn record_applied(
    registry: &Transaction<'_>,
    request: &StoredRequest,
    current: RequestStatus,
    target: &str,
    by: &str,
    ran_sql: bool,
    inputs: &GenerationInputs,
    store: &Inner,
) -> Result<ApplyOutcome, StoreError> {
    let key = &store.audit_key;
    let outcome = |status| ApplyOutcome { request_id: request.id.clone(), target: target.to_owned(), ran_sql, status };
    let audit = |note: Option<&'static str>| NewAudit {
        request_id: Some(&request.id),
        table_schema: Some(&request.table_schema),
        table_name: Some(&request.table_name),
        action: "apply",
        performed_by: by,
        from_status: Some(current.as_str()),
        to_status: Some(RequestStatus::Migrated.as_str()),
        justification: note,
        target: Some(target),
        sql_executed: ran_sql.then_some(request.migration.up_sql.as_str()),
        checksum: Some(&request.checksum),
        success: true,
        ..NewAudit::default()
    };
    if is_live(registry, &request.id, target).await? {
        if ran_sql {
            // The registry already had it applied there, yet the target did not (an
            // interrupted rollback): it has been applied again.
            audit(Some("applied again: the target had lost this migration")).insert(registry, key).await?;
        }
        return Ok(outcome(current));
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
            &[&request.id, &database_id, &by],
        )
        .await?;
    if current != RequestStatus::Migrated {
        registry
            .execute(
                "UPDATE registry.schema_requests SET status = 'migrated', version = version + 1, updated_at = now()
                 WHERE id = $1::text::uuid",
                &[&request.id],
            )
            .await?;
    }
    // The names the stored SQL used: generated with the stored inputs, not today's.
    crate::catalog::record_version(registry, database_id, request, &inputs.naming).await?;
    let note = (!ran_sql).then_some("completed after an interrupted apply: the target already had this migration");
    audit(note).insert(registry, key).await?;
    Ok(outcome(RequestStatus::Migrated))
}

#[expect(clippy::too_many_arguments, reason = "one record of one rollback")]
async fn record_rolled_back(
    registry: &Transaction<'_>,
    request: &StoredRequest,
    current: RequestStatus,
    target: &str,
    by: &str,
    ran_sql: bool,
    details: Option<&str>,
    key: &AuditKey,
) -> Result<ApplyOutcome, StoreError> {
    registry
        .execute(
            "UPDATE registry.migration_applications a SET rolled_back_at = now(), rolled_back_by = $3
             FROM registry.migrations m, registry.databases d
             WHERE m.id = a.migration_id AND d.id = a.database_id AND m.request_id = $1::text::uuid
               AND d.name = $2 AND a.rolled_back_at IS NULL",
            &[&request.id, &target, &by],
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
    crate::catalog::record_dropped(registry, target, request).await?;
    NewAudit {
        request_id: Some(&request.id),
        table_schema: Some(&request.table_schema),
        table_name: Some(&request.table_name),
        action: "rollback",
        performed_by: by,
        from_status: Some(current.as_str()),
        to_status: Some(status.as_str()),
        justification: (!ran_sql).then_some("completed after an interrupted rollback: the target no longer had it"),
        target: Some(target),
        sql_executed: ran_sql.then_some(request.migration.down_sql.as_str()),
        checksum: Some(&request.checksum),
        details,
        success: true,
        ..NewAudit::default()
    }
    .insert(registry, key)
    .await?;
    Ok(ApplyOutcome { request_id: request.id.clone(), target: target.to_owned(), ran_sql, status })
}

/// Whether the request's migration is applied (and not rolled back) on the target.
async fn is_live(client: &impl tokio_postgres::GenericClient, id: &str, target: &str) -> Result<bool, StoreError> {
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

async fn fetch_for_update(
    transaction: &tokio_postgres::Transaction<'_>,
    id: &str,
) -> Result<RequestStatus, StoreError> {
    let row = transaction
        .query_opt("SELECT status FROM registry.schema_requests WHERE id = $1::text::uuid FOR UPDATE", &[&id])
        .await?
        .ok_or_else(|| StoreError::not_found(format!("request {id}")))?;
    let status: String = row.get(0);
    status.parse().map_err(StoreError::Invalid)
}

/// Creates the target's history schema and table when they are missing. Creating them needs
/// CREATE on the database (schema) and on the schema (table); a target where they exist
/// needs neither, and the error for a missing one says what to grant.
async fn ensure_history(transaction: &Transaction<'_>) -> Result<(), StoreError> {
    let row = transaction
        .query_one(
            "SELECT to_regnamespace($1) IS NOT NULL, to_regclass($1 || '.applied_migrations') IS NOT NULL",
            &[&HISTORY_SCHEMA],
        )
        .await?;
    let (schema_exists, table_exists): (bool, bool) = (row.get(0), row.get(1));
    if table_exists {
        return Ok(());
    }
    let missing_privilege = |error: tokio_postgres::Error, what: &str| {
        if error.as_db_error().is_some_and(|db| db.code().code() == "42501") {
            StoreError::MigrationFailed {
                target: String::new(),
                message: format!(
                    "the target role may not create {what} (the registry's history of this target); create it once \
                     as an administrator: CREATE SCHEMA {HISTORY_SCHEMA} AUTHORIZATION <target role>"
                ),
            }
        } else {
            error.into()
        }
    };
    if !schema_exists {
        transaction
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {HISTORY_SCHEMA}"))
            .await
            .map_err(|e| missing_privilege(e, &format!("the schema {HISTORY_SCHEMA}")))?;
    }
    transaction
        .batch_execute(HISTORY_TABLE_DDL)
        .await
        .map_err(|e| missing_privilege(e, &format!("the table {HISTORY_SCHEMA}.applied_migrations")))?;
    Ok(())
}
