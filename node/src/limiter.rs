//! `Limiter` with Promise-returning methods.
//!
//! Every method returns a Promise. With `memory://` (and for invalid
//! arguments) it is settled before the method returns; with Redis the core
//! runtime answers and [`crate::settle`] settles it on the JavaScript thread.
//! The event loop never waits.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{invalid, to_napi};
use crate::settle::{self, Pending, Value};

/// Options for `new Limiter(url, options)`.
#[napi(object)]
pub struct LimiterOptions {
    /// Per-call deadline in milliseconds (default 1000).
    pub timeout_ms: Option<f64>,
    /// Prefix of every Redis key (default "ratewarden:").
    pub key_prefix: Option<String>,
    /// Bound on calls outstanding on the connection (default 1024).
    pub max_in_flight: Option<u32>,
    /// Algorithm of calls that name none (default "sliding_window_log").
    pub algorithm: Option<String>,
    /// While Redis is unreachable: "error" (default), "allow", "deny" or "local".
    pub failure_mode: Option<String>,
    /// Share (0..1] of each quota the local failure mode grants (default 1).
    pub local_share: Option<f64>,
    /// Entries of the local deny cache (default 10000; 0 turns it off).
    pub deny_cache: Option<u32>,
}

/// A limiter's counters since it was created.
#[napi(object)]
pub struct Stats {
    /// Decisions that admitted (fallback decisions included).
    pub allowed: f64,
    /// Decisions that refused (fallback decisions included).
    pub denied: f64,
    /// Decisions that returned a backend error.
    pub errors: f64,
    /// Decisions taken by the failure mode instead of Redis.
    pub fallbacks: f64,
    /// Refusals answered by the local deny cache.
    pub cache_hits: f64,
    /// Whether the circuit breaker is open now.
    pub circuit_open: bool,
    /// Backend decisions measured for latency.
    pub latency_count: f64,
    /// Sum of their latencies in milliseconds.
    pub latency_sum_ms: f64,
    /// All of it in the Prometheus text format.
    pub prometheus: String,
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

fn count(name: &str, v: f64) -> ratewarden::Result<u64> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0) {
        return Err(ratewarden::Error::invalid_argument(format!(
            "{name} must be a non-negative integer, got {v}"
        )));
    }
    Ok(v as u64)
}

fn algorithm(name: Option<&str>) -> ratewarden::Result<Option<ratewarden::Algorithm>> {
    name.map(str::parse).transpose()
}

type Answer = std::result::Result<Value, ratewarden::Error>;

/// Where a call's answer goes: kept here if it arrives before the method
/// returns, else to the pending promise.
enum Slot {
    Waiting,
    Inline(Answer),
    Detached(Pending),
    Done,
}

/// Start a call and return its promise: settled already if the answer came
/// inline, pending otherwise.
fn dispatch<'env, T>(
    env: &'env Env,
    start: impl FnOnce(Box<dyn FnOnce(Answer) + Send>),
) -> Result<PromiseRaw<'env, T>> {
    let raw = env.raw();
    let slot = Arc::new(Mutex::new(Slot::Waiting));
    let answer = slot.clone();
    start(Box::new(move |result| {
        let mut s = answer.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *s, Slot::Done) {
            Slot::Waiting => *s = Slot::Inline(result),
            Slot::Detached(p) => p.settle(result),
            other => *s = other,
        }
    }));
    let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
    let promise = match std::mem::replace(&mut *s, Slot::Done) {
        Slot::Inline(result) => settle::settled(raw, result)?,
        _ => {
            let (promise, pending) = settle::promise(raw)?;
            *s = Slot::Detached(pending);
            promise
        }
    };
    Ok(PromiseRaw::new(raw, promise))
}

fn rejected<'env, T>(env: &'env Env, e: ratewarden::Error) -> Result<PromiseRaw<'env, T>> {
    Ok(PromiseRaw::new(env.raw(), settle::settled(env.raw(), Err(e))?))
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
            if let Some(a) = algorithm(o.algorithm.as_deref()).map_err(to_napi)? {
                b = b.algorithm(a);
            }
            if let Some(m) = o.failure_mode {
                b = b.failure_mode(m.parse().map_err(to_napi)?);
            }
            if let Some(share) = o.local_share {
                b = b.local_share(share);
            }
            if let Some(n) = o.deny_cache {
                b = b.deny_cache(n as usize);
            }
        }
        Ok(Limiter {
            inner: b.build().map_err(to_napi)?,
        })
    }

    /// The full decision for a request of `cost` units, with `algorithm` or the limiter's.
    #[napi(ts_return_type = "Promise<Decision>")]
    #[allow(clippy::too_many_arguments)]
    pub fn check<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        api_endpoint: String,
        capacity: f64,
        rate_per_second: f64,
        cost: f64,
        algorithm_name: Option<String>,
    ) -> Result<PromiseRaw<'env, Decision>> {
        let args = (|| {
            let quota = ratewarden::Quota::new(count("capacity", capacity)?, count("ratePerSecond", rate_per_second)?);
            Ok::<_, ratewarden::Error>((quota, count("cost", cost)?, algorithm(algorithm_name.as_deref())?))
        })();
        let (quota, cost, alg) = match args {
            Ok(a) => a,
            Err(e) => return rejected(env, e),
        };
        dispatch(env, |done| {
            self.inner
                .check_callback(&client_id, &api_endpoint, quota, cost, alg, move |r| {
                    done(r.map(|d| Value::Decision(d.into())))
                })
        })
    }

    /// Several limits for one client, all or nothing, in one round trip.
    #[napi(ts_return_type = "Promise<MultiDecision>")]
    pub fn check_all<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        limits: Vec<LimitSpec>,
    ) -> Result<PromiseRaw<'env, MultiDecision>> {
        let converted = limits
            .iter()
            .map(|l| {
                let quota = ratewarden::Quota::new(
                    count("capacity", l.capacity)?,
                    count("ratePerSecond", l.rate_per_second)?,
                );
                Ok(ratewarden::Limit {
                    api_endpoint: &l.endpoint,
                    quota,
                    cost: count("cost", l.cost.unwrap_or(1.0))?,
                    algorithm: algorithm(l.algorithm.as_deref())?,
                })
            })
            .collect::<ratewarden::Result<Vec<_>>>();
        let converted = match converted {
            Ok(c) => c,
            Err(e) => return rejected(env, e),
        };
        dispatch(env, |done| {
            self.inner
                .check_all_callback(&client_id, &converted, move |r| done(r.map(|m| Value::Multi(m.into()))))
        })
    }

    /// Decide by the policy stored for `api_endpoint` (or the default policy "*").
    #[napi(ts_return_type = "Promise<Decision>")]
    pub fn check_policy<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        api_endpoint: String,
        cost: f64,
    ) -> Result<PromiseRaw<'env, Decision>> {
        let cost = match count("cost", cost) {
            Ok(c) => c,
            Err(e) => return rejected(env, e),
        };
        let inner = self.inner.clone();
        dispatch(env, move |done| {
            ratewarden::runtime::handle().spawn(async move {
                done(
                    inner
                        .check_policy(&client_id, &api_endpoint, cost)
                        .await
                        .map(|d| Value::Decision(d.into())),
                )
            });
        })
    }

    /// Store a policy for every limiter on this backend and key prefix.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_policy<'env>(
        &self,
        env: &'env Env,
        name: String,
        capacity: f64,
        rate_per_second: f64,
        algorithm_name: Option<String>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let policy = (|| {
            let mut p = ratewarden::Policy::new(count("capacity", capacity)?, count("ratePerSecond", rate_per_second)?);
            if let Some(a) = algorithm(algorithm_name.as_deref())? {
                p = p.algorithm(a);
            }
            Ok::<_, ratewarden::Error>(p)
        })();
        let policy = match policy {
            Ok(p) => p,
            Err(e) => return rejected(env, e),
        };
        let inner = self.inner.clone();
        dispatch(env, move |done| {
            ratewarden::runtime::handle()
                .spawn(async move { done(inner.set_policy(&name, policy).await.map(|()| Value::Unit)) });
        })
    }

    /// Remove a policy (no-op if absent).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_policy<'env>(&self, env: &'env Env, name: String) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        dispatch(env, move |done| {
            ratewarden::runtime::handle()
                .spawn(async move { done(inner.delete_policy(&name).await.map(|()| Value::Unit)) });
        })
    }

    /// Counters since the limiter was created.
    #[napi]
    pub fn stats(&self) -> Stats {
        let s = self.inner.stats();
        Stats {
            allowed: s.allowed as f64,
            denied: s.denied as f64,
            errors: s.errors as f64,
            fallbacks: s.fallbacks as f64,
            cache_hits: s.cache_hits as f64,
            circuit_open: s.circuit_open,
            latency_count: s.latency_buckets.iter().map(|b| b.1).sum::<u64>() as f64,
            latency_sum_ms: s.latency_sum_us as f64 / 1000.0,
            prometheus: s.to_prometheus("ratewarden"),
        }
    }

    /// The limiter's default algorithm.
    #[napi(getter)]
    pub fn algorithm(&self) -> &'static str {
        self.inner.algorithm().as_str()
    }

    /// Round trip to the backend within the deadline.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn ping<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        dispatch(env, move |done| {
            // On the core runtime: napi's runtime dies with its worker thread.
            ratewarden::runtime::handle().spawn(async move { done(inner.ping().await.map(|()| Value::Unit)) });
        })
    }
}
