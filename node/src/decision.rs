//! The answer to one check (`Decision`), one limit of `checkAll`
//! (`LimitSpec`) and its answer (`MultiDecision`), and the core's rendering
//! of a decision as HTTP headers.

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::throw;

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
    /// `Retry-After`: whole seconds, rounded up (0 when allowed).
    pub retry_after_secs: f64,
    /// Seconds until the window is empty again, rounded up.
    pub reset_after_secs: f64,
}

impl From<ratewarden::Decision> for Decision {
    fn from(d: ratewarden::Decision) -> Self {
        Decision {
            allowed: d.allowed,
            limit: d.limit as f64,
            remaining: d.remaining as f64,
            retry_after_ms: d.retry_after.as_secs_f64() * 1000.0,
            reset_after_ms: d.reset_after.as_secs_f64() * 1000.0,
            retry_after_secs: d.retry_after_secs() as f64,
            reset_after_secs: d.reset_after_secs() as f64,
        }
    }
}

/// One limit of `checkAll`.
#[napi(object)]
pub struct LimitSpec {
    /// The scope: an endpoint, or any label such as "*".
    pub endpoint: String,
    /// Burst size, 1..1e9.
    pub capacity: f64,
    /// Sustained rate per second, 1..1e9.
    pub rate_per_second: f64,
    /// Units this request counts as here (default 1).
    pub cost: Option<f64>,
    /// Algorithm for this limit (default: the limiter's).
    pub algorithm: Option<String>,
}

/// The answer to `checkAll`.
#[napi(object)]
pub struct MultiDecision {
    /// Whether every limit had room (and the request was counted in all).
    pub allowed: bool,
    /// Index of the deciding limit (the refusing one with the longest wait, or the one with fewest remaining).
    pub limiting: u32,
    /// One decision per limit, in order.
    pub decisions: Vec<Decision>,
}

impl From<ratewarden::MultiDecision> for MultiDecision {
    fn from(m: ratewarden::MultiDecision) -> Self {
        MultiDecision {
            allowed: m.allowed,
            limiting: m.limiting() as u32,
            decisions: m.decisions.into_iter().map(Decision::from).collect(),
        }
    }
}

/// The HTTP headers of `decision` in `set` ("draft-06", the default, or
/// "x-ratelimit"), plus `Retry-After` when refused, as `[name, value]` pairs
/// in order — rendered by the core, the same bytes as in every language.
#[napi(ts_return_type = "Array<[string, string]>", catch_unwind)]
pub fn decision_headers(env: Env, decision: Decision, set: Option<String>) -> Result<Vec<Vec<String>>> {
    let set: ratewarden::HeaderSet = set
        .as_deref()
        .unwrap_or("draft-06")
        .parse()
        .map_err(|e| throw(&env, e))?;
    let d = core_decision(&decision);
    Ok(d.headers(set).into_iter().map(|(n, v)| vec![n.to_owned(), v]).collect())
}

fn ms(v: f64) -> Duration {
    Duration::from_micros((v.max(0.0) * 1000.0).round() as u64)
}

/// A JavaScript decision as the core's (milliseconds back to durations).
fn core_decision(d: &Decision) -> ratewarden::Decision {
    ratewarden::Decision {
        allowed: d.allowed,
        limit: d.limit as u64,
        remaining: d.remaining as u64,
        retry_after: ms(d.retry_after_ms),
        reset_after: ms(d.reset_after_ms),
    }
}

/// The draft-ietf-httpapi-ratelimit-headers-11 headers of `decision` under
/// the quota policy `name` whose window is `window_ms`, as `[name, value]`
/// pairs in order, rendered by the core.
#[napi(ts_return_type = "Array<[string, string]>", catch_unwind)]
pub fn decision_ietf_headers(env: Env, decision: Decision, name: String, window_ms: f64) -> Result<Vec<Vec<String>>> {
    let h = ratewarden::duration_from_ms("windowMs", window_ms)
        .and_then(|window| core_decision(&decision).ietf_headers(&name, window))
        .map_err(|e| throw(&env, e))?;
    Ok(h.into_iter().map(|(n, v)| vec![n.to_owned(), v]).collect())
}
