//! Bearer tokens: the [`Caller`] extractor finds the token's principal; per-principal rate
//! limiting answers 429 with `Retry-After`; failed authentications are limited per client
//! address before any database lookup.
//!
//! A token is hashed here (SHA-256) and only the hash is looked up, so the token itself never
//! reaches PostgreSQL. A token that cannot be one (wrong form) is refused without a lookup.
//! Tokens that authenticated a moment ago are remembered by hash for a few seconds, so a
//! flood of bad tokens from one address slows down neither the lookups nor the 429s of
//! legitimate callers; a revoked token stops working on this server at once and on other
//! replicas within [`TOKEN_CACHE_TTL`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{StatusCode, header, request::Parts};
use registry_store::tokens::{Principal, Role, hash_token, is_token_shaped};

use crate::server::AppState;
use crate::server::error::ApiError;

/// How long a successful authentication is remembered.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(5);
/// Most entries a limiter or the token cache keeps; beyond, the oldest go.
const MAX_ENTRIES: usize = 10_000;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    /// Refuses with 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role], action: &str) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "{} has role {} and may not {action} (needs {})",
                self.0.name,
                self.0.role,
                allowed.join(" or ")
            )))
        }
    }
}

fn too_many(wait: u64, message: String) -> ApiError {
    let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
    error.retry_after = Some(wait);
    error
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        if !is_token_shaped(token) {
            return Err(ApiError::unauthorized());
        }
        let hash = hash_token(token);
        let principal = if let Some(principal) = state.token_cache.get(&hash) {
            principal
        } else {
            let address = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
            let key = address.to_string();
            if let Err(wait) = state.failures.peek(&key) {
                return Err(too_many(
                    wait,
                    format!("too many failed authentications from {address}; retry in {wait} s"),
                ));
            }
            let Some(principal) = state.store.authenticate_hash(&hash).await? else {
                let _ = state.failures.check(&key);
                return Err(ApiError::unauthorized());
            };
            state.token_cache.insert(hash, principal.clone());
            principal
        };
        if let Err(wait) = state.limiter.check(&principal.name) {
            return Err(too_many(wait, format!("too many requests from {}; retry in {wait} s", principal.name)));
        }
        Ok(Caller(principal))
    }
}

/// Principals of recently authenticated tokens, by token hash.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<Vec<u8>, (Principal, Instant)>>,
}

impl TokenCache {
    fn get(&self, hash: &[u8]) -> Option<Principal> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.get(hash).filter(|(_, at)| at.elapsed() < TOKEN_CACHE_TTL).map(|(p, _)| p.clone())
    }

    fn insert(&self, hash: Vec<u8>, principal: Principal) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(hash, (principal, Instant::now()));
    }

    /// Forgets every token of `name` (after a revocation on this server).
    pub fn forget(&self, name: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|_, (principal, _)| principal.name != name);
    }
}

/// A token bucket per key: `burst` at once, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter; `per_second` of 0 disables limiting.
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self { per_second, burst: burst.max(1.0), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`, or says how many whole seconds until one is free.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.take(key, true)
    }

    /// Whether `key` has a token left, without taking it.
    pub fn peek(&self, key: &str) -> Result<(), u64> {
        self.take(key, false)
    }

    fn take(&self, key: &str, consume: bool) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_ENTRIES && !buckets.contains_key(key) {
            // Full buckets carry no information: drop them first, everything if need be.
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, last)| *tokens + now.duration_since(*last).as_secs_f64() * per_second < burst);
            if buckets.len() >= MAX_ENTRIES {
                buckets.clear();
            }
        }
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            if consume {
                *tokens -= 1.0;
            }
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / self.per_second).ceil();
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a small positive number of seconds"
            )]
            Err((wait as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimiter;

    #[test]
    fn bucket_refuses_beyond_the_burst_and_says_when_to_retry() {
        let limiter = RateLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(limiter.peek("a").is_ok());
            assert!(limiter.check("a").is_ok());
        }
        assert_eq!(limiter.check("a"), Err(1));
        assert_eq!(limiter.peek("a"), Err(1));
        assert!(limiter.check("b").is_ok(), "buckets are per key");
        assert!(RateLimiter::new(0.0, 1.0).check("a").is_ok(), "0 disables");
    }

    #[test]
    fn buckets_stay_bounded() {
        let limiter = RateLimiter::new(1.0, 2.0);
        for i in 0..(super::MAX_ENTRIES + 50) {
            let _ = limiter.check(&format!("client-{i}"));
        }
        assert!(limiter.buckets.lock().unwrap().len() <= super::MAX_ENTRIES);
    }
}
