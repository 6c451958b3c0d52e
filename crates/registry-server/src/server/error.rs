//! Every error the API answers with: JSON `{"error": {"code", "message", "details"?}}` and
//! the right status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_store::error::StoreError;
use serde_json::{Value, json};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`not_found`, `conflict`, ...).
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// Structured details (violations, the line and column of a JSON error, ...).
    pub details: Option<Value>,
    /// Seconds to wait before retrying (429, and 409/503 answers a retry may cure).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error without details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: None, retry_after: None }
    }

    /// Adds details.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Says when to retry (`Retry-After`).
    #[must_use]
    pub fn retry_in(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 400: the body is not what the endpoint takes.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no valid bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required (Authorization: Bearer <token>)",
        )
    }

    /// 403: the principal's role does not allow this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.code, "message": self.message});
        if let Some(details) = self.details {
            body["details"] = details;
        }
        let mut response = (self.status, axum::Json(json!({ "error": body }))).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let message = error.to_string();
        match error {
            StoreError::NotFound { .. } => Self::not_found(message),
            StoreError::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", message),
            StoreError::InvalidTransition { from, to } => {
                Self::new(StatusCode::CONFLICT, "invalid_transition", message)
                    .with_details(json!({"from": from, "to": to, "allowed": from.next()}))
            }
            StoreError::Rejected(answer) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "policy_violation", message).with_details(json!(answer))
            }
            StoreError::NotAllowed(_) => Self::forbidden(message),
            StoreError::Invalid(_) => Self::bad_request(message),
            StoreError::MigrationFailed { .. } | StoreError::Divergent { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "migration_failed", message)
            }
            StoreError::Integrity(_) => Self::new(StatusCode::CONFLICT, "integrity", message),
            StoreError::StaleBase { current, base } => Self::new(StatusCode::CONFLICT, "stale_base_version", message)
                .with_details(json!({"currentVersion": current, "baseVersion": base})),
            StoreError::Drift { target, differences } => Self::new(StatusCode::CONFLICT, "drift", message)
                .with_details(json!({"target": target, "differences": differences})),
            StoreError::Verification { target, differences } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "verification_failed", message)
                    .with_details(json!({"target": target, "differences": differences}))
            }
            StoreError::DataLoss { target, at_risk } => Self::new(StatusCode::CONFLICT, "data_loss", message)
                .with_details(json!({
                    "target": target,
                    "dataAtRisk": at_risk,
                    "next": "confirm with {\"confirmDataLoss\": true} as an operator; another principal then approves with POST .../rollback/approve",
                })),
            StoreError::Unavailable(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message),
            StoreError::InProgress(_) => Self::new(StatusCode::CONFLICT, "in_progress", message).retry_in(1),
            StoreError::Busy(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message).retry_in(1),
            StoreError::Unsettled { target, .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unsettled", message)
                    .with_details(json!({"target": target, "next": "call the same apply or rollback again; it settles the outcome from the target's history first"}))
                    .retry_in(5)
            }
            other => {
                tracing::error!(error = %other, "store error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
            }
        }
    }
}
