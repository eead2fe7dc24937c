//! `Limiter`: the operations, each returning a Promise.
//!
//! Every method returns a Promise. With `memory://` (and for invalid
//! arguments) it is settled before the method returns; with Redis the core
//! runtime answers and [`crate::settle`] settles it on the JavaScript thread.
//! The event loop never waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::decision::{Decision, LimitSpec, MultiDecision};
use crate::error::throw;
use crate::options;
use crate::policy::PolicySpec;
use crate::settle::{self, Pending, Value};
use crate::stats::Stats;

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

/// A promise settled by `fut` run on the core runtime.
fn spawned<'env, T>(
    env: &'env Env,
    fut: impl std::future::Future<Output = Answer> + Send + 'static,
) -> Result<PromiseRaw<'env, T>> {
    dispatch(env, move |done| {
        ratewarden::runtime::handle().spawn(async move { done(fut.await) });
    })
}

fn rejected<'env, T>(env: &'env Env, e: ratewarden::Error) -> Result<PromiseRaw<'env, T>> {
    Ok(PromiseRaw::new(env.raw(), settle::settled(env.raw(), Err(e))?))
}

/// The quota of a call in any of its forms; the core says which
/// combinations are valid (`Quotas::from_parts`).
#[napi(object)]
pub struct QuotaArgs {
    /// Notation: "5/minute", "10/second;1000/hour".
    pub quota: Option<String>,
    /// Burst size (with `ratePerSecond` or `periodMs`).
    pub capacity: Option<f64>,
    /// Sustained rate per second.
    pub rate_per_second: Option<f64>,
    /// The period in milliseconds.
    pub period_ms: Option<f64>,
}

fn quotas(q: &QuotaArgs) -> ratewarden::Result<ratewarden::Quotas> {
    let capacity = q.capacity.map(|c| count("capacity", c)).transpose()?;
    let rate = q.rate_per_second.map(|r| count("ratePerSecond", r)).transpose()?;
    let period = q
        .period_ms
        .map(|ms| ratewarden::duration_from_ms("periodMs", ms))
        .transpose()?;
    ratewarden::Quotas::from_parts(q.quota.as_deref(), capacity, rate, period)
}

/// A rate limiter; every method returns a Promise and never blocks the event loop.
#[napi]
pub struct Limiter {
    inner: ratewarden::Limiter,
}

#[napi]
impl Limiter {
    /// `url`: "memory://" (default), "redis://host:port", "rediss://...",
    /// "redis+cluster://h1:p1,h2:p2", "redis+sentinel://h:p/master" or their
    /// TLS twins "rediss+cluster://...", "rediss+sentinel://...";
    /// `options` by their JavaScript names (see `optionKinds()`), checked by
    /// the core. A bad URL or option throws an `Error` with `code`.
    #[napi(
        constructor,
        ts_args_type = "url: string, options?: Record<string, number | string>",
        catch_unwind
    )]
    pub fn new(env: Env, url: String, options: Option<HashMap<String, Either<f64, String>>>) -> Result<Self> {
        crate::logs::install();
        match options::builder(&url, options).and_then(|b| b.build()) {
            Ok(inner) => Ok(Limiter { inner }),
            Err(e) => Err(throw(&env, e)),
        }
    }

    /// The full decision for a request of `cost` units, with `algorithm` or the limiter's.
    #[napi(ts_return_type = "Promise<Decision>", catch_unwind)]
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

    /// The verdict on an HTTP request: `key` on `scope` under `rule`, counting `cost`.
    #[napi(ts_return_type = "Promise<Verdict>", catch_unwind)]
    pub fn check_http<'env>(
        &self,
        env: &'env Env,
        key: String,
        scope: String,
        rule: &crate::http::Rule,
        cost: f64,
    ) -> Result<PromiseRaw<'env, crate::http::Verdict>> {
        let cost = match count("cost", cost) {
            Ok(c) => c,
            Err(e) => return rejected(env, e),
        };
        dispatch(env, |done| {
            self.inner
                .check_http_callback(&key, &scope, &rule.inner, cost, move |r| {
                    done(r.map(|v| Value::Verdict(v.into())))
                })
        })
    }

    /// `check` with the quota in any form (notation, or capacity with a period).
    #[napi(ts_return_type = "Promise<Decision>", catch_unwind)]
    pub fn check_quota<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        api_endpoint: String,
        quota: QuotaArgs,
        cost: f64,
        algorithm_name: Option<String>,
    ) -> Result<PromiseRaw<'env, Decision>> {
        let args = (|| {
            Ok::<_, ratewarden::Error>((
                quotas(&quota)?,
                count("cost", cost)?,
                algorithm(algorithm_name.as_deref())?,
            ))
        })();
        let (quotas, cost, alg) = match args {
            Ok(a) => a,
            Err(e) => return rejected(env, e),
        };
        dispatch(env, |done| {
            self.inner
                .check_callback(&client_id, &api_endpoint, quotas, cost, alg, move |r| {
                    done(r.map(|d| Value::Decision(d.into())))
                })
        })
    }

    /// The decision a cost-1 check would get now, counting nothing.
    #[napi(ts_return_type = "Promise<Decision>", catch_unwind)]
    pub fn peek<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        api_endpoint: String,
        quota: QuotaArgs,
    ) -> Result<PromiseRaw<'env, Decision>> {
        let q = match quotas(&quota) {
            Ok(q) => q,
            Err(e) => return rejected(env, e),
        };
        let inner = self.inner.clone();
        spawned(env, async move {
            inner
                .peek(&client_id, &api_endpoint, q)
                .await
                .map(|d| Value::Decision(d.into()))
        })
    }

    /// Give back `cost` units of the latest admissions.
    #[napi(ts_return_type = "Promise<Decision>", catch_unwind)]
    pub fn refund<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        api_endpoint: String,
        quota: QuotaArgs,
        cost: f64,
    ) -> Result<PromiseRaw<'env, Decision>> {
        let args = (|| Ok::<_, ratewarden::Error>((quotas(&quota)?, count("cost", cost)?)))();
        let (q, cost) = match args {
            Ok(a) => a,
            Err(e) => return rejected(env, e),
        };
        let inner = self.inner.clone();
        spawned(env, async move {
            inner
                .refund(&client_id, &api_endpoint, q, cost)
                .await
                .map(|d| Value::Decision(d.into()))
        })
    }

    /// Refuse this client, endpoint and quota for `duration_ms`.
    #[napi(ts_return_type = "Promise<Decision>", catch_unwind)]
    pub fn block<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        api_endpoint: String,
        quota: QuotaArgs,
        duration_ms: f64,
    ) -> Result<PromiseRaw<'env, Decision>> {
        let args = (|| {
            Ok::<_, ratewarden::Error>((
                quotas(&quota)?,
                ratewarden::duration_from_ms("durationMs", duration_ms)?,
            ))
        })();
        let (q, d) = match args {
            Ok(a) => a,
            Err(e) => return rejected(env, e),
        };
        let inner = self.inner.clone();
        spawned(env, async move {
            inner
                .block(&client_id, &api_endpoint, q, d)
                .await
                .map(|d| Value::Decision(d.into()))
        })
    }

    /// Forget all state of (client, endpoint): every algorithm and quota.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn reset<'env>(&self, env: &'env Env, client_id: String, api_endpoint: String) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        spawned(env, async move {
            inner.reset(&client_id, &api_endpoint).await.map(|()| Value::Unit)
        })
    }

    /// Several limits for one client, all or nothing, in one round trip.
    #[napi(ts_return_type = "Promise<MultiDecision>", catch_unwind)]
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
    #[napi(ts_return_type = "Promise<Decision>", catch_unwind)]
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
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn set_policy<'env>(
        &self,
        env: &'env Env,
        name: String,
        quota: QuotaArgs,
        algorithm_name: Option<String>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let policy = (|| {
            let mut p = ratewarden::Policy::quota(quotas(&quota)?)?;
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
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn delete_policy<'env>(&self, env: &'env Env, name: String) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        dispatch(env, move |done| {
            ratewarden::runtime::handle()
                .spawn(async move { done(inner.delete_policy(&name).await.map(|()| Value::Unit)) });
        })
    }

    /// Every stored policy, read from the backend now: `{ name: { capacity, ratePerSecond, algorithm? } }`.
    #[napi(ts_return_type = "Promise<Record<string, PolicySpec>>", catch_unwind)]
    pub fn policies<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, HashMap<String, PolicySpec>>> {
        let inner = self.inner.clone();
        dispatch(env, move |done| {
            ratewarden::runtime::handle().spawn(async move {
                done(
                    inner.policies().await.map(|all| {
                        Value::Policies(all.iter().map(|(n, p)| (n.clone(), PolicySpec::from(p))).collect())
                    }),
                )
            });
        })
    }

    /// The policy `checkPolicy` applies to `api_endpoint` now (its own or the default "*").
    #[napi(ts_return_type = "Promise<PolicySpec>", catch_unwind)]
    pub fn resolved_policy<'env>(&self, env: &'env Env, api_endpoint: String) -> Result<PromiseRaw<'env, PolicySpec>> {
        let inner = self.inner.clone();
        dispatch(env, move |done| {
            ratewarden::runtime::handle().spawn(async move {
                done(
                    inner
                        .resolved_policy(&api_endpoint)
                        .await
                        .map(|p| Value::Policy(PolicySpec::from(&p))),
                )
            });
        })
    }

    /// The Redis key a decision for these arguments uses with the limiter's
    /// algorithm (for inspection), or null on memory:// or for invalid arguments.
    #[napi(catch_unwind)]
    pub fn redis_key(
        &self,
        client_id: String,
        api_endpoint: String,
        capacity: f64,
        rate_per_second: f64,
    ) -> Option<Buffer> {
        let quota = ratewarden::Quota::new(
            count("capacity", capacity).ok()?,
            count("ratePerSecond", rate_per_second).ok()?,
        );
        self.inner.redis_key(&client_id, &api_endpoint, quota).map(Buffer::from)
    }

    /// The failure mode: "error", "allow", "deny" or "local".
    #[napi(getter, catch_unwind)]
    pub fn failure_mode(&self) -> &'static str {
        self.inner.failure_mode().as_str()
    }

    /// The per-call deadline in milliseconds.
    #[napi(getter, catch_unwind)]
    pub fn timeout_ms(&self) -> f64 {
        self.inner.timeout().as_secs_f64() * 1000.0
    }

    /// Counters since the limiter was created.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> Stats {
        self.inner.stats().into()
    }

    /// The limiter's default algorithm.
    #[napi(getter, catch_unwind)]
    pub fn algorithm(&self) -> &'static str {
        self.inner.algorithm().as_str()
    }

    /// Round trip to the backend within the deadline.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn ping<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        dispatch(env, move |done| {
            // On the core runtime: napi's runtime dies with its worker thread.
            ratewarden::runtime::handle().spawn(async move { done(inner.ping().await.map(|()| Value::Unit)) });
        })
    }
}
