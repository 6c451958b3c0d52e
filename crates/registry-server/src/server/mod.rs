//! The HTTP API (axum): state, router, middleware and serving with graceful shutdown.
//!
//! Handlers (in [`handlers`]) extract, call one store or policy function, and map the
//! result; they hold no SQL and no rule logic.

pub mod auth;
pub mod error;
pub mod handlers;
pub mod listen;
pub mod metrics;
pub mod openapi;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use registry_store::store::Store;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::server::auth::RateLimiter;
use crate::server::error::ApiError;
use crate::server::metrics::Metrics;

/// Limits the API enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub body_bytes: usize,
    /// Largest page a list returns.
    pub max_page_size: i64,
    /// Requests per second per principal (0 disables), with a burst of ten seconds' worth.
    pub rate_per_second: f64,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Connections at once, header read timeout.
    pub connections: listen::ConnectionLimits,
    /// Failed authentications per second a client address may make (with a burst of
    /// twenty) before its attempts are refused without a database lookup.
    pub failed_auth_per_second: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 1024 * 1024,
            max_page_size: 200,
            rate_per_second: 50.0,
            request_timeout: Duration::from_secs(30),
            connections: listen::ConnectionLimits::default(),
            failed_auth_per_second: 1.0,
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The registry's persistence.
    pub store: Store,
    /// Request counters.
    pub metrics: Arc<Metrics>,
    /// Per-principal rate limiting.
    pub limiter: Arc<RateLimiter>,
    /// Failed authentications per client address, checked before any database lookup.
    pub failures: Arc<RateLimiter>,
    /// Recently authenticated tokens, by hash: valid tokens cost no lookup for a moment.
    pub token_cache: Arc<auth::TokenCache>,
    /// The limits.
    pub limits: Arc<Limits>,
}

impl AppState {
    /// State for a store and limits.
    pub fn new(store: Store, limits: Limits) -> Self {
        Self {
            store,
            metrics: Arc::new(Metrics::default()),
            limiter: Arc::new(RateLimiter::new(limits.rate_per_second, limits.rate_per_second * 10.0)),
            failures: Arc::new(RateLimiter::new(limits.failed_auth_per_second, 20.0)),
            token_cache: Arc::new(auth::TokenCache::default()),
            limits: Arc::new(limits),
        }
    }
}

/// The whole API as a router (tests can call it without a socket).
pub fn app(state: AppState) -> Router {
    let body_limit = state.limits.body_bytes;
    handlers::router()
        .fallback(|method: axum::http::Method, uri: axum::http::Uri| async move {
            ApiError::not_found(format!("no endpoint {method} {}; see GET /api/openapi.json", uri.path()))
        })
        .layer(middleware::from_fn(refuse_nul))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// Refuses a path or query that decodes to text PostgreSQL cannot store (a NUL character)
/// before any handler sees it.
async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let raw = uri.path_and_query().map_or("", |p| p.as_str());
    if raw.contains('\0') || raw.to_ascii_lowercase().contains("%00") {
        return ApiError::bad_request("the path or query contains a NUL character, which PostgreSQL cannot store")
            .into_response();
    }
    next.run(request).await
}

/// Request id, tracing span, timeout and metrics around every request.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map_or_else(|| format!("req-{}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed)), str::to_owned);
    // Label values stay a small, fixed set: any other method is `other`, and an unmatched
    // path is `unmatched`, so no client can grow the metrics.
    let method = metrics::method_label(request.method()).to_owned();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let span = tracing::info_span!("request", id = %id, method = %method, path = %request.uri().path());
    let timeout = state.limits.request_timeout;
    let mut response = match tokio::time::timeout(timeout, next.run(request).instrument(span.clone())).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} s", timeout.as_secs_f64()),
        )
        .into_response(),
    };
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        // The body extractor's own words do not say what the limit is.
        response = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than {} bytes, the most this server accepts (body_limit_bytes)",
                state.limits.body_bytes
            ),
        )
        .into_response();
    }
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.observe(&method, &route, status, elapsed);
    span.in_scope(|| tracing::info!(status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "done"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Serves the API on a bound listener until `shutdown` completes; requests in flight
/// finish first. Connections are bounded (see [`listen`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits.connections.clone();
    listen::serve_connections(listener, app(state), limits, shutdown).await
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
