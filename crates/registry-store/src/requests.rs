//! Schema requests: creation (checked and previewed), reading, listing, status changes
//! as compare-and-set, and the audit log.

use schema_model::environment::{ExistingObjects, GenerationInputs};
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;
use schema_model::violation::{CheckAnswer, MigrationPreview, RequestKind, Violation};
use serde::Serialize;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::audit::NewAudit;
use crate::error::StoreError;
use crate::rehearsal::Stage;
use crate::store::{Page, Store, parse_id};

/// A stored request with its answer and migration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRequest {
    /// Registry id (UUID).
    pub id: String,
    /// PostgreSQL schema of the table.
    pub table_schema: String,
    /// Table name.
    pub table_name: String,
    /// Owning team or bot.
    pub owner: Option<String>,
    /// The principal that submitted it.
    pub requested_by: String,
    /// Workflow status.
    pub status: RequestStatus,
    /// Optimistic-lock version; bumped by every status change.
    pub version: i32,
    /// The request as submitted (normalized JSON).
    pub request: serde_json::Value,
    /// The policy's findings at submission (no errors, or it would not be stored).
    pub violations: Vec<Violation>,
    /// The generated migration.
    pub migration: MigrationPreview,
    /// SHA-256 (hex) of the up and down SQL together: what a reviewer approves and what an
    /// apply must run.
    pub checksum: String,
    /// When it was stored (RFC 3339, UTC).
    pub created_at: String,
    /// When its status last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// `create`, or `alter` for a change to a table the registry manages.
    pub kind: RequestKind,
    /// For a change: the version of the table it was planned against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_version: Option<i32>,
}

/// One line of a request list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestSummary {
    /// Registry id.
    pub id: String,
    /// Table name.
    pub table_name: String,
    /// Workflow status.
    pub status: RequestStatus,
    /// When it was stored (RFC 3339, UTC).
    pub created_at: String,
}

/// A request as examined for submission.
struct Examined {
    /// Violations and preview.
    answer: CheckAnswer,
    /// What the migration was generated with.
    inputs: GenerationInputs,
    /// The table the rehearsal made, when it ran.
    expected: Option<pg_introspect::live::LiveTable>,
    /// The target the request is for.
    target: Option<String>,
    /// For a change to a managed table: the version it was planned against, its changes
    /// and steps.
    change: Option<PlannedChange>,
}

/// A change request's plan, as stored with its migration.
struct PlannedChange {
    base_version: i32,
    changes: Vec<schema_model::change::Change>,
    steps: schema_model::change::StepPlan,
}

/// The request was stored: its id and the answer (violations and preview).
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The stored request.
    pub request: StoredRequest,
    /// The seed 001 answer, with `registryId` set.
    pub answer: CheckAnswer,
}

/// The checksum of a migration: SHA-256 (hex) of its up SQL followed by its down SQL.
pub fn migration_checksum(up_sql: &str, down_sql: &str) -> String {
    let mut text = String::with_capacity(up_sql.len() + down_sql.len());
    text.push_str(up_sql);
    text.push_str(down_sql);
    crate::secrets::sha256_hex(text.as_bytes())
}

/// RFC 3339 in UTC with microseconds, from SQL.
pub(crate) fn timestamp_sql(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
}

fn request_columns() -> String {
    format!(
        "r.id::text, r.table_schema, r.table_name, r.owner, r.requested_by, r.status, r.version, r.request,
         r.violations, m.file_name, m.up_sql, m.down_sql, m.checksum, {}, {}, r.kind, r.base_version",
        timestamp_sql("r.created_at"),
        timestamp_sql("r.updated_at")
    )
}

fn stored_request(row: &Row) -> Result<StoredRequest, StoreError> {
    let status: String = row.get(5);
    let violations: serde_json::Value = row.get(8);
    Ok(StoredRequest {
        id: row.get(0),
        table_schema: row.get(1),
        table_name: row.get(2),
        owner: row.get(3),
        requested_by: row.get(4),
        status: status.parse().map_err(StoreError::Invalid)?,
        version: row.get(6),
        request: row.get(7),
        violations: serde_json::from_value(violations)
            .map_err(|e| StoreError::Invalid(format!("stored violations: {e}")))?,
        migration: MigrationPreview { file_name: row.get(9), up_sql: row.get(10), down_sql: row.get(11) },
        checksum: row.get(12),
        created_at: row.get(13),
        updated_at: row.get(14),
        kind: match row.get::<_, String>(15).as_str() {
            "alter" => RequestKind::Alter,
            _ => RequestKind::Create,
        },
        base_version: row.get(16),
    })
}

impl Store {
    /// Checks a request the way a submission is checked (the policy, what exists on its
    /// target and in the catalog, the rehearsal) and answers, storing nothing.
    pub async fn validate(&self, request: &SchemaRequest) -> Result<CheckAnswer, StoreError> {
        Ok(self.examine(request).await?.answer)
    }

    /// The full check of a request: its target, what exists around its table there, the
    /// policy and generation, then (when that found no error and rehearsal is on) the
    /// rehearsal.
    async fn examine(&self, request: &SchemaRequest) -> Result<Examined, StoreError> {
        let target = self.resolve_target(request.target.as_deref())?;
        let object = self.client().await?;
        let client: &tokio_postgres::Client = &object;
        let schema = request.schema_json.schema_name();
        // A table the registry manages on the target is changed, not created.
        let managed_name = request.schema_json.renamed_from.as_deref().unwrap_or(&request.schema_json.table_name);
        let current = match target.as_deref() {
            Some(target) => {
                crate::catalog::current_version(client, target, schema, managed_name, &self.policy().naming).await?
            }
            None => None,
        };
        if let Some(current) = current {
            return self.examine_change(client, request, target, current).await;
        }
        let (existing, note) = match target.as_deref().and_then(|name| Some((name, self.inner.targets.get(name)?))) {
            Some((name, endpoint)) => {
                let (existing, note) = crate::environment::existing_objects(client, name, endpoint, schema).await?;
                (Some(existing), note)
            }
            None => (None, None),
        };
        let checked = registry_core::check::check(request, self.policy(), existing.as_ref());
        let mut answer = checked.answer;
        answer.kind = Some(RequestKind::Create);
        answer.violations.extend(note);
        let mut expected = None;
        if answer.success
            && let (Some(pool), Some(preview)) = (&self.inner.rehearsal, &answer.migration_preview)
        {
            let stage = self.stage(client, request, &checked.inputs, existing.as_ref(), target.as_deref()).await?;
            let mut scratch = pool.get().await?;
            let scratch: &mut tokio_postgres::Client = &mut scratch;
            let rehearsal = crate::rehearsal::rehearse(scratch, request, preview, &checked.inputs, &stage).await?;
            answer.violations.extend(rehearsal.violations);
            answer.violations.sort_by_key(|v| std::cmp::Reverse(v.severity));
            answer.success = !policy::has_errors(&answer.violations);
            expected = rehearsal.expected;
        }
        Ok(Examined { answer, inputs: checked.inputs, expected, target, change: None })
    }

    /// The full check of a change to a managed table: what exists around it (without its
    /// own names), the table and change rules at its compatibility level, the plan, and the
    /// rehearsal of the steps up and back on a copy of the current version.
    async fn examine_change(
        &self,
        client: &tokio_postgres::Client,
        request: &SchemaRequest,
        target: Option<String>,
        current: crate::catalog::CurrentVersion,
    ) -> Result<Examined, StoreError> {
        let schema = request.schema_json.schema_name();
        let (existing, note) = match target.as_deref().and_then(|name| Some((name, self.inner.targets.get(name)?))) {
            Some((name, endpoint)) => {
                let (existing, note) = crate::environment::existing_objects(client, name, endpoint, schema).await?;
                (Some(existing.without_table(&current.definition.table_name)), note)
            }
            None => (None, None),
        };
        let checked = registry_core::change::check_change(
            request,
            registry_core::change::Current {
                table: &current.definition,
                inputs: &current.inputs,
                level: Some(current.compatibility),
            },
            self.policy(),
            existing.as_ref(),
        );
        let mut answer = checked.answer;
        answer.kind = Some(RequestKind::Alter);
        answer.base_version = Some(current.version);
        answer.violations.extend(note);
        if answer.success
            && let (Some(pool), Some(steps)) = (&self.inner.rehearsal, &checked.steps)
        {
            let mut scratch = pool.get().await?;
            let scratch: &mut tokio_postgres::Client = &mut scratch;
            let rehearsal =
                crate::rehearsal::rehearse_change(scratch, &current.definition, &current.inputs, request, steps)
                    .await?;
            answer.violations.extend(rehearsal);
            answer.violations.sort_by_key(|v| std::cmp::Reverse(v.severity));
            answer.success = !policy::has_errors(&answer.violations);
        }
        let change =
            checked.steps.map(|steps| PlannedChange { base_version: current.version, changes: checked.changes, steps });
        Ok(Examined { answer, inputs: checked.inputs, expected: None, target, change })
    }

    /// What the rehearsal creates before the migration: the shared enum types, and the
    /// tables the foreign keys reference, from the catalog, else from the live target.
    async fn stage(
        &self,
        client: &tokio_postgres::Client,
        request: &SchemaRequest,
        inputs: &GenerationInputs,
        existing: Option<&ExistingObjects>,
        target: Option<&str>,
    ) -> Result<Stage, StoreError> {
        let table = &request.schema_json;
        let schema = table.schema_name();
        let mut stage = Stage { stand_ins: target.is_none(), ..Stage::default() };
        for name in &inputs.shared_enums {
            if let Some(labels) = existing.and_then(|e| e.types.get(name)).and_then(|t| t.enum_values.clone()) {
                stage.shared_enums.push((schema.to_owned(), name.clone(), labels));
            }
        }
        let wanted = Stage::with_stand_ins(request, inputs).missing;
        if wanted.is_empty() {
            return Ok(stage);
        }
        let managed = match target {
            Some(name) => crate::environment::managed_tables(client, name).await?,
            None => Vec::new(),
        };
        let live = match target.and_then(|name| self.inner.targets.get(name)) {
            Some(target) => target.readers.get().await.ok(),
            None => None,
        };
        for (wanted_schema, wanted_table) in wanted {
            if let Some(found) =
                managed.iter().find(|t| t.schema_name() == wanted_schema && t.table_name == wanted_table)
            {
                stage.referenced.push(found.clone());
                continue;
            }
            if let Some(live) = &live
                && let Some(found) = pg_introspect::read::table(&***live, &wanted_schema, &wanted_table).await?
            {
                stage.referenced.push(found.to_model().table);
                continue;
            }
            stage.missing.push((wanted_schema, wanted_table));
        }
        Ok(stage)
    }

    /// Checks a request as [`Store::validate`] does and stores it as `requested` with its
    /// migration (with the inputs it was generated with and the table the rehearsal made)
    /// and an audit entry, all in one transaction. A request with an error violation is
    /// refused with [`StoreError::Rejected`] and nothing is stored.
    pub async fn create_request(&self, request: &SchemaRequest, performed_by: &str) -> Result<Created, StoreError> {
        let Examined { mut answer, inputs, expected, target, change } = self.examine(request).await?;
        let Some(preview) = answer.migration_preview.clone().filter(|_| answer.success) else {
            return Err(StoreError::Rejected(Box::new(answer)));
        };
        let generation = serde_json::to_value(&inputs).map_err(|e| StoreError::Internal(e.to_string()))?;
        let expected = expected
            .map(|table| serde_json::to_value(&table))
            .transpose()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let table = &request.schema_json;
        let request_json = serde_json::to_value(request).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let violations_json =
            serde_json::to_value(&answer.violations).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let metadata = request.request_metadata.as_ref();
        let status = RequestStatus::Requested.as_str();

        let id = crate::secrets::uuid_v4()?;
        let checksum = migration_checksum(&preview.up_sql, &preview.down_sql);
        let justification = metadata.and_then(|m| m.justification.as_deref());
        let related_issue = metadata.and_then(|m| m.related_issue.as_deref());
        let kind = if change.is_some() { RequestKind::Alter } else { RequestKind::Create };
        let base_version = change.as_ref().map(|c| c.base_version);
        let steps = change
            .as_ref()
            .map(|c| serde_json::to_value(&c.steps))
            .transpose()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let changes = change
            .as_ref()
            .map(|c| serde_json::to_value(&c.changes))
            .transpose()
            .map_err(|e| StoreError::Internal(e.to_string()))?;

        let mut object = self.client().await?;
        let statement = object
            .prepare_cached(&format!(
                "WITH r AS (
                     INSERT INTO registry.schema_requests (id, table_schema, table_name, owner, requested_by, request, status, violations, target, kind, base_version)
                     VALUES ($1::text::uuid, $2, $3, $4, $5, $6, $7, $8, $15, $16, $17) RETURNING id, version, created_at, updated_at
                 ), m AS (
                     INSERT INTO registry.migrations (request_id, file_name, up_sql, down_sql, checksum, generation, expected, steps, changes)
                     SELECT id, $9, $10, $11, $12, $13, $14, $18, $19 FROM r
                 )
                 SELECT version, {}, {} FROM r",
                timestamp_sql("created_at"),
                timestamp_sql("updated_at")
            ))
            .await?;
        let transaction = object.transaction().await?;
        let row = transaction
            .query_one(
                &statement,
                &[
                    &id,
                    &table.schema_name(),
                    &table.table_name,
                    &request.owner,
                    &performed_by,
                    &request_json,
                    &status,
                    &violations_json,
                    &preview.file_name,
                    &preview.up_sql,
                    &preview.down_sql,
                    &checksum,
                    &generation,
                    &expected,
                    &target,
                    &kind.as_str(),
                    &base_version,
                    &steps,
                    &changes,
                ],
            )
            .await?;
        NewAudit {
            request_id: Some(&id),
            table_schema: Some(table.schema_name()),
            table_name: Some(&table.table_name),
            action: "create",
            performed_by,
            to_status: Some(status),
            details: base_version.map(|v| format!("{{\"kind\":\"alter\",\"baseVersion\":{v}}}")).as_deref(),
            justification,
            related_issue,
            success: true,
            checksum: Some(&checksum),
            ..NewAudit::default()
        }
        .insert(&transaction, &self.inner.audit_key)
        .await?;
        transaction.commit().await?;
        let stored = StoredRequest {
            id: id.clone(),
            table_schema: table.schema_name().to_owned(),
            table_name: table.table_name.clone(),
            owner: request.owner.clone(),
            requested_by: performed_by.to_owned(),
            status: RequestStatus::Requested,
            version: row.get(0),
            request: request_json,
            violations: answer.violations.clone(),
            migration: preview,
            checksum,
            created_at: row.get(1),
            updated_at: row.get(2),
            kind,
            base_version,
        };
        answer.registry_id = Some(id);
        Ok(Created { request: stored, answer })
    }

    /// One request.
    pub async fn get_request(&self, id: &str) -> Result<StoredRequest, StoreError> {
        let id = parse_id(id)?;
        let client = self.client().await?;
        fetch(crate::store::raw(&client), id).await
    }

    /// Requests, newest first, optionally of one status.
    pub async fn list_requests(
        &self,
        status: Option<RequestStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<RequestSummary>, StoreError> {
        if limit < 0 || offset < 0 {
            return Err(StoreError::Invalid("limit and offset must not be negative".to_owned()));
        }
        let status = status.map(RequestStatus::as_str);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT id::text, table_name, status, {} FROM registry.schema_requests
                     WHERE $1::text IS NULL OR status = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
                    timestamp_sql("created_at")
                ),
                &[&status, &limit, &offset],
            )
            .await?;
        let total: i64 = client
            .query_one(
                "SELECT count(*) FROM registry.schema_requests WHERE $1::text IS NULL OR status = $1",
                &[&status],
            )
            .await?
            .get(0);
        let items = rows
            .iter()
            .map(|row| {
                let status: String = row.get(2);
                Ok(RequestSummary {
                    id: row.get(0),
                    table_name: row.get(1),
                    status: status.parse().map_err(StoreError::Invalid)?,
                    created_at: row.get(3),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Page { items, total, limit, offset })
    }

    /// Changes a request's review status as a compare-and-set on its version: of two
    /// reviewers racing, exactly one wins and the other gets [`StoreError::Conflict`].
    /// `expected_version`, when given, must match too. Nobody reviews their own request.
    /// `migrated` is reached only through [`Store::apply`] and left only through
    /// [`Store::rollback`].
    pub async fn change_status(
        &self,
        id: &str,
        to: RequestStatus,
        performed_by: &str,
        expected_version: Option<i32>,
        note: Option<&str>,
    ) -> Result<StoredRequest, StoreError> {
        let id = parse_id(id)?;
        // An apply or rollback in flight, or one left unsettled, decides first: a step that
        // ran on a target is never abandoned by a status change.
        self.settle_before_status_change(id).await?;
        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let transaction = client.transaction().await?;
        // The row lock an apply's claim takes too: a claim and a status change never
        // interleave.
        transaction
            .query_opt("SELECT 1 FROM registry.schema_requests WHERE id = $1::text::uuid FOR UPDATE", &[&id])
            .await?;
        let current = fetch(&transaction, id).await?;
        // Claimed between the settlement and this transaction.
        if transaction
            .query_opt("SELECT 1 FROM registry.operations WHERE request_id = $1::text::uuid", &[&id])
            .await?
            .is_some()
        {
            return Err(StoreError::InProgress(format!(
                "request {id} is being applied or rolled back; its status cannot change now, retry when it has finished"
            )));
        }
        if expected_version.is_some_and(|v| v != current.version) {
            return Err(StoreError::Conflict(format!(
                "request {id} is at version {}, not {}",
                current.version,
                expected_version.unwrap_or_default()
            )));
        }
        if current.status == to {
            // Someone else made this very change first.
            return Err(StoreError::Conflict(format!("request {id} is already {to}")));
        }
        if to == RequestStatus::Migrated || current.status == RequestStatus::Migrated {
            return Err(StoreError::InvalidTransition { from: current.status, to });
        }
        current.status.transition(to).map_err(|e| StoreError::InvalidTransition { from: e.from, to: e.to })?;
        if matches!(to, RequestStatus::Approved | RequestStatus::Rejected) && current.requested_by == performed_by {
            return Err(StoreError::NotAllowed(format!("{performed_by} submitted this request and cannot review it")));
        }
        let updated = transaction
            .execute(
                "UPDATE registry.schema_requests SET status = $2, version = version + 1, updated_at = now()
                 WHERE id = $1::text::uuid AND version = $3",
                &[&id, &to.as_str(), &current.version],
            )
            .await?;
        if updated == 0 {
            return Err(StoreError::Conflict(format!("request {id} was changed by someone else; reload and retry")));
        }
        NewAudit {
            request_id: Some(id),
            table_schema: Some(&current.table_schema),
            table_name: Some(&current.table_name),
            action: "status",
            performed_by,
            from_status: Some(current.status.as_str()),
            to_status: Some(to.as_str()),
            justification: note,
            success: true,
            // What the reviewer saw is what an apply must run: the approval records it.
            checksum: (to == RequestStatus::Approved).then_some(current.checksum.as_str()),
            ..NewAudit::default()
        }
        .insert(&transaction, &self.inner.audit_key)
        .await?;
        let stored = fetch(&transaction, id).await?;
        transaction.commit().await?;
        Ok(stored)
    }
}

/// Reads one request with its migration.
pub(crate) async fn fetch(client: &impl tokio_postgres::GenericClient, id: &str) -> Result<StoredRequest, StoreError> {
    let params: [&(dyn ToSql + Sync); 1] = [&id];
    let row = client
        .query_opt(
            &format!(
                "SELECT {} FROM registry.schema_requests r JOIN registry.migrations m ON m.request_id = r.id
                 WHERE r.id = $1::text::uuid",
                request_columns()
            ),
            &params,
        )
        .await?
        .ok_or_else(|| StoreError::not_found(format!("request {id}")))?;
    stored_request(&row)
}
