//! `Limiter` with Promise-returning methods.

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{invalid, to_napi};

/// Options for `new Limiter(url, options)`.
#[napi(object)]
pub struct LimiterOptions {
    /// Per-call deadline in milliseconds (default 1000).
    pub timeout_ms: Option<f64>,
    /// Prefix of every Redis key (default "ratewarden:").
    pub key_prefix: Option<String>,
    /// Bound on calls outstanding on the connection (default 1024).
    pub max_in_flight: Option<u32>,
}

/// The answer to one check.
#[napi(object)]
pub struct Decision {
    /// Whether the request (all of its cost) was admitted.
    pub allowed: bool,
    /// The capacity that applied.
    pub limit: f64,
    /// Units that could still be admitted right now.
    pub remaining: f64,
    /// 0 when allowed; else milliseconds until a request of the same cost would be admitted.
    pub retry_after_ms: f64,
    /// Milliseconds until the window is empty again.
    pub reset_after_ms: f64,
}

impl From<ratewarden::Decision> for Decision {
    fn from(d: ratewarden::Decision) -> Self {
        Decision {
            allowed: d.allowed,
            limit: d.limit as f64,
            remaining: d.remaining as f64,
            retry_after_ms: d.retry_after.as_secs_f64() * 1000.0,
            reset_after_ms: d.reset_after.as_secs_f64() * 1000.0,
        }
    }
}

fn count(name: &str, v: f64) -> Result<u64> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0) {
        return Err(invalid(format!("{name} must be a non-negative integer, got {v}")));
    }
    Ok(v as u64)
}

/// A rate limiter; every method returns a Promise and never blocks the event loop.
#[napi]
pub struct Limiter {
    inner: ratewarden::Limiter,
}

#[napi]
impl Limiter {
    /// `url`: "memory://" (default), "redis://host:port" or "rediss://...".
    #[napi(constructor)]
    pub fn new(url: String, options: Option<LimiterOptions>) -> Result<Self> {
        let mut b = ratewarden::Limiter::builder(&url);
        if let Some(o) = options {
            if let Some(ms) = o.timeout_ms {
                if !(ms.is_finite() && ms >= 1.0) {
                    return Err(invalid(format!("timeoutMs must be at least 1, got {ms}")));
                }
                b = b.timeout(Duration::from_secs_f64(ms / 1000.0));
            }
            if let Some(p) = o.key_prefix {
                b = b.key_prefix(p);
            }
            if let Some(n) = o.max_in_flight {
                b = b.max_in_flight(n as usize);
            }
        }
        Ok(Limiter {
            inner: b.build().map_err(to_napi)?,
        })
    }

    /// The full decision for a request of `cost` units.
    #[napi]
    pub async fn check(
        &self,
        client_id: String,
        api_endpoint: String,
        capacity: f64,
        rate_per_second: f64,
        cost: f64,
    ) -> Result<Decision> {
        let quota = ratewarden::Quota::new(count("capacity", capacity)?, count("ratePerSecond", rate_per_second)?);
        let cost = count("cost", cost)?;
        let inner = self.inner.clone();
        // On the core runtime: napi's runtime dies with its worker thread.
        ratewarden::runtime::handle()
            .spawn(async move { inner.check(&client_id, &api_endpoint, quota, cost).await })
            .await
            .map_err(|e| to_napi(ratewarden::Error::Internal(format!("decision task failed: {e}"))))?
            .map(Decision::from)
            .map_err(to_napi)
    }

    /// Round trip to the backend within the deadline.
    #[napi]
    pub async fn ping(&self) -> Result<()> {
        let inner = self.inner.clone();
        ratewarden::runtime::handle()
            .spawn(async move { inner.ping().await })
            .await
            .map_err(|e| to_napi(ratewarden::Error::Internal(format!("ping task failed: {e}"))))?
            .map_err(to_napi)
    }
}
