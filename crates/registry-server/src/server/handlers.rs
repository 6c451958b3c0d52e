//! The endpoints: seed 001's schema-request API, plus validation, apply and rollback, the
//! catalog, rules, tokens, health, metrics and the OpenAPI document.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use policy::config::Preset;
use registry_store::tokens::Role;
use schema_model::error::ModelError;
use schema_model::request::SchemaRequest;
use schema_model::status::RequestStatus;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;

const REVIEWERS: &[Role] = &[Role::Reviewer, Role::Operator, Role::Admin];
const OPERATORS: &[Role] = &[Role::Operator, Role::Admin];
const ADMINS: &[Role] = &[Role::Admin];
const DEFAULT_PAGE_SIZE: i64 = 50;

/// All routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .route("/api/rules", get(rules))
        .route("/api/validate", post(validate))
        .route("/api/lint", post(lint_files))
        .route("/api/schema-requests", post(create_request).get(list_requests))
        .route("/api/schema-requests/{id}", get(show_request).patch(update_request))
        .route("/api/schema-requests/{id}/migration", get(migration))
        .route("/api/schema-requests/{id}/audit", get(audit))
        .route("/api/schema-requests/{id}/apply", post(apply))
        .route("/api/schema-requests/{id}/rollback", post(rollback))
        .route("/api/schema-requests/{id}/rollback/approve", post(approve_rollback))
        .route("/api/tables", get(tables))
        .route("/api/tables/{name}", get(table))
        .route("/api/tables/{name}/audit", get(table_audit))
        .route("/api/tables/{name}/drift", get(table_drift))
        .route("/api/tables/adopt", post(adopt_table))
        .route("/api/databases", get(databases))
        .route("/api/tokens", post(create_token).get(list_tokens))
        .route("/api/tokens/{name}", delete(revoke_token))
        .route("/api/audit/verify", get(verify_audit))
        .method_not_allowed_fallback(|method: axum::http::Method, uri: axum::http::Uri| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} does not take {method}; see GET /api/openapi.json", uri.path()),
            )
        })
}

fn body_text(body: Result<Bytes, BytesRejection>) -> Result<String, ApiError> {
    let bytes = body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "payload_too_large" } else { "bad_request" };
        ApiError::new(status, code, rejection.body_text())
    })?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_request("the body is not UTF-8"))
}

fn model_error(error: &ModelError) -> ApiError {
    let details = match &error {
        ModelError::Syntax { line, column, .. } => json!({"line": line, "column": column}),
        ModelError::Shape { path, .. } => json!({"path": path}),
    };
    let code = if matches!(error, ModelError::Syntax { .. }) { "malformed_json" } else { "invalid_request" };
    ApiError::new(StatusCode::BAD_REQUEST, code, error.to_string()).with_details(details)
}

fn parse_request(body: Result<Bytes, BytesRejection>) -> Result<SchemaRequest, ApiError> {
    SchemaRequest::from_json(&body_text(body)?).map_err(|e| model_error(&e))
}

fn parse_json<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let text = body_text(body)?;
    if text.contains('\0') || text.contains("\\u0000") {
        return Err(ApiError::bad_request("the body contains a NUL character, which PostgreSQL cannot store"));
    }
    serde_json::from_str(&text).map_err(|e| {
        let (code, status) = if e.is_syntax() || e.is_eof() {
            ("malformed_json", StatusCode::BAD_REQUEST)
        } else {
            ("invalid_request", StatusCode::BAD_REQUEST)
        };
        ApiError::new(status, code, format!("invalid body at line {}, column {}: {e}", e.line(), e.column()))
            .with_details(json!({"line": e.line(), "column": e.column()}))
    })
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

async fn health(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({"status": "ok", "database": "ok"})).into_response(),
        Err(error) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", error.to_string()).into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}

async fn openapi() -> Json<Value> {
    Json(crate::server::openapi::document())
}

async fn rules() -> Json<Value> {
    let rules: Vec<Value> = policy::registry::all()
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "category": rule.category(),
                "standardSeverity": rule.severity_in(Preset::Standard),
                "strictSeverity": rule.severity_in(Preset::Strict),
                "what": rule.doc.what,
                "why": rule.doc.why,
                "fix": rule.doc.fix,
            })
        })
        .collect();
    Json(json!({ "rules": rules }))
}

async fn validate(
    State(state): State<AppState>,
    _caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request = parse_request(body)?;
    Ok(Json(state.store.validate(&request).await?).into_response())
}

/// Most files one lint call takes.
const MAX_LINT_FILES: usize = 2_000;
/// Most findings one lint call answers with; the rest are counted in a last one.
const MAX_LINT_FINDINGS: usize = 10_000;

/// Lint calls running at once in this process (each may use every core for a moment).
fn lint_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| tokio::sync::Semaphore::new(2))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LintBody {
    files: Vec<LintFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LintFile {
    path: String,
    sql: String,
}

/// Lints SQL files for bots, as `registry-server lint` does: the files form one folder (its
/// layout recognised by their paths), linted under the server's policy.
async fn lint_files(
    State(state): State<AppState>,
    _caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body: LintBody = parse_json(body)?;
    if body.files.is_empty() {
        return Err(ApiError::bad_request("files: give at least one file"));
    }
    if body.files.len() > MAX_LINT_FILES {
        return Err(ApiError::bad_request(format!("files: at most {MAX_LINT_FILES} files in one call")));
    }
    let Ok(permit) = lint_permits().try_acquire() else {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "other lint calls are running; try again")
            .retry_in(1));
    };
    let policy = state.store.policy().clone();
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let files: Vec<(&str, &str)> = body.files.iter().map(|f| (f.path.as_str(), f.sql.as_str())).collect();
        let (_, migrations) = ddl_parse::layout::migrations(&files);
        let inputs: Vec<ddl_parse::replay::SqlFile<'_>> =
            migrations.iter().map(ddl_parse::replay::SqlFile::of_migration).collect();
        let mut report = registry_core::lint::lint(&inputs, &policy);
        if report.findings.len() > MAX_LINT_FINDINGS {
            let left_out = report.findings.len() - MAX_LINT_FINDINGS;
            report.findings.truncate(MAX_LINT_FINDINGS);
            if let Some(last) = report.findings.last().cloned() {
                report.findings.push(registry_core::lint::Finding {
                    rule: "lint.truncated".to_owned(),
                    severity: schema_model::violation::Severity::Info,
                    message: format!("… and {left_out} more findings, left out of this answer"),
                    suggestion: "Lint fewer files at once, or run registry-server lint for all of them".to_owned(),
                    ..last
                });
            }
        }
        report
    });
    match work.await {
        Ok(report) => Ok(Json(report).into_response()),
        Err(error) => {
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the lint failed: {error}")))
        }
    }
}

async fn create_request(
    State(state): State<AppState>,
    Caller(principal): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request = parse_request(body)?;
    let created = state.store.create_request(&request, &principal.name).await?;
    Ok((StatusCode::CREATED, Json(created.answer)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list_requests(
    State(state): State<AppState>,
    _caller: Caller,
    params: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let status = params
        .status
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<RequestStatus>())
        .transpose()
        .map_err(ApiError::bad_request)?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    let offset = params.offset.unwrap_or(0);
    if limit < 1 || offset < 0 {
        return Err(ApiError::bad_request("limit must be at least 1 and offset at least 0"));
    }
    let limit = limit.min(state.limits.max_page_size);
    let page = state.store.list_requests(status, limit, offset).await?;
    Ok(Json(json!({"requests": page.items, "total": page.total, "limit": page.limit, "offset": page.offset}))
        .into_response())
}

async fn show_request(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.store.get_request(&id).await?).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StatusChange {
    status: RequestStatus,
    performed_by: Option<String>,
    note: Option<String>,
    expected_version: Option<i32>,
}

async fn update_request(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let change: StatusChange = parse_json(body)?;
    if let Some(claimed) = change.performed_by.as_deref()
        && claimed != principal.name
    {
        return Err(ApiError::forbidden(format!(
            "performedBy \"{claimed}\" is not the caller; the audit records the token's principal \"{}\"",
            principal.name
        )));
    }
    if matches!(change.status, RequestStatus::Approved | RequestStatus::Rejected) {
        Caller(principal.clone()).require(REVIEWERS, "approve or reject requests")?;
    }
    let updated = state
        .store
        .change_status(&id, change.status, &principal.name, change.expected_version, change.note.as_deref())
        .await?;
    Ok(Json(updated).into_response())
}

async fn migration(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.store.get_request(&id).await?.migration).into_response())
}

async fn audit(State(state): State<AppState>, _caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let entries = state.store.request_audit(&id).await?;
    Ok(Json(json!({"requestId": id, "audit": entries})).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    target: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RollbackBody {
    target: Option<String>,
    /// The operator confirms that the rollback may destroy data.
    #[serde(default)]
    confirm_data_loss: bool,
}

fn target_name(state: &AppState, requested: Option<String>) -> Result<String, ApiError> {
    if let Some(name) = requested {
        return Ok(name);
    }
    match state.store.target_names().as_slice() {
        [only] => Ok((*only).to_owned()),
        [] => Err(ApiError::bad_request("no target databases are configured")),
        names => Err(ApiError::bad_request(format!("say which target: one of {}", names.join(", ")))),
    }
}

fn optional_body<T: DeserializeOwned + Default>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    match &body {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(T::default()),
        _ => parse_json(body),
    }
}

async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(OPERATORS, "apply migrations")?;
    let target = target_name(&state, optional_body::<TargetBody>(body)?.target)?;
    let store = state.store.clone();
    let outcome = detached(async move { store.apply(&id, &target, &caller.0.name).await }).await?;
    Ok(Json(outcome).into_response())
}

async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(OPERATORS, "roll back migrations")?;
    let body: RollbackBody = optional_body(body)?;
    let target = target_name(&state, body.target)?;
    let store = state.store.clone();
    if !body.confirm_data_loss {
        let outcome = detached(async move { store.rollback(&id, &target, &caller.0.name).await }).await?;
        return Ok(Json(outcome).into_response());
    }
    match detached(async move { store.confirm_rollback(&id, &target, &caller.0.name).await }).await? {
        step @ registry_store::apply::RollbackStep::AwaitingApproval(_) => {
            Ok((StatusCode::ACCEPTED, Json(step)).into_response())
        }
        step @ registry_store::apply::RollbackStep::Done(_) => Ok(Json(step).into_response()),
    }
}

/// A reviewer approves a rollback an operator confirmed would destroy data; it runs now.
async fn approve_rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(REVIEWERS, "approve a rollback that destroys data")?;
    let target = target_name(&state, optional_body::<TargetBody>(body)?.target)?;
    let store = state.store.clone();
    let outcome = detached(async move { store.approve_rollback(&id, &target, &caller.0.name).await }).await?;
    Ok(Json(outcome).into_response())
}

/// Runs an apply or rollback in its own task: when the request times out or the client
/// goes away, the work still finishes instead of stopping between the target's commit and
/// the registry's.
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, registry_store::error::StoreError>> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::spawn(work).await {
        Ok(result) => Ok(result?),
        Err(error) => {
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the task failed: {error}")))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogQuery {
    database: Option<String>,
    schema: Option<String>,
}

async fn tables(
    State(state): State<AppState>,
    _caller: Caller,
    params: Result<Query<CatalogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    Ok(Json(json!({"tables": state.store.tables(params.database.as_deref()).await?})).into_response())
}

async fn table(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
    params: Result<Query<CatalogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let database = target_name(&state, params.database)?;
    let schema = params.schema.unwrap_or_else(|| "public".to_owned());
    Ok(Json(state.store.table(&database, &schema, &name).await?).into_response())
}

async fn table_drift(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
    params: Result<Query<CatalogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let database = target_name(&state, params.database)?;
    let schema = params.schema.unwrap_or_else(|| "public".to_owned());
    let drift = state.store.drift(&database, &schema, &name).await?;
    Ok(Json(json!({"database": database, "schema": schema, "table": name, "inSync": drift.in_sync, "version": drift.version, "differences": drift.differences})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdoptBody {
    database: Option<String>,
    schema: Option<String>,
    table: String,
}

/// An operator brings a table that existed before the registry under it.
async fn adopt_table(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(OPERATORS, "adopt tables")?;
    let body: AdoptBody = parse_json(body)?;
    let database = target_name(&state, body.database)?;
    let schema = body.schema.unwrap_or_else(|| "public".to_owned());
    let table = state.store.adopt(&database, &schema, &body.table, &caller.0.name).await?;
    Ok((StatusCode::CREATED, Json(table)).into_response())
}

async fn table_audit(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
    params: Result<Query<CatalogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let schema = params.schema.unwrap_or_else(|| "public".to_owned());
    let entries = state.store.table_audit(&schema, &name).await?;
    Ok(Json(json!({"schema": schema, "table": name, "audit": entries})).into_response())
}

async fn databases(State(state): State<AppState>, _caller: Caller) -> Result<Response, ApiError> {
    Ok(Json(json!({"databases": state.store.databases().await?})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenBody {
    name: String,
    role: Role,
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(ADMINS, "manage tokens")?;
    let new: NewTokenBody = parse_json(body)?;
    let token = state.store.create_token(&new.name, new.role).await?;
    Ok((StatusCode::CREATED, Json(token)).into_response())
}

async fn list_tokens(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(ADMINS, "manage tokens")?;
    Ok(Json(json!({"tokens": state.store.list_tokens().await?})).into_response())
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(ADMINS, "manage tokens")?;
    state.store.revoke_token(&name).await?;
    state.token_cache.forget(&name);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn verify_audit(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(ADMINS, "verify the audit log")?;
    Ok(Json(state.store.verify_audit().await?).into_response())
}
