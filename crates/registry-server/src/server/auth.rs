//! Bearer tokens: the [`Caller`] extractor finds the token's principal, and per-token rate
//! limiting answers 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::{StatusCode, header, request::Parts};
use registry_store::tokens::{Principal, Role};

use crate::server::AppState;
use crate::server::error::ApiError;

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
        let principal = state.store.authenticate(token).await?.ok_or_else(ApiError::unauthorized)?;
        if let Err(wait) = state.limiter.check(&principal.name) {
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests from {}; retry in {wait} s", principal.name),
            );
            error.retry_after = Some(wait);
            return Err(error);
        }
        Ok(Caller(principal))
    }
}

/// A token bucket per principal: `burst` requests at once, refilled at `per_second`.
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
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
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
            assert!(limiter.check("a").is_ok());
        }
        assert_eq!(limiter.check("a"), Err(1));
        assert!(limiter.check("b").is_ok(), "buckets are per principal");
        assert!(RateLimiter::new(0.0, 1.0).check("a").is_ok(), "0 disables");
    }
}
