//! The async [`Limiter`]: the public operations, validation, keys, and the
//! hand-off of a prepared decision to the backend.
//!
//! * [`builder`]: URL and options in, a limiter out ([`LimiterBuilder`]).
//! * [`options`]: every option, parsed and range-checked once.
//! * [`decision`]: the answer, with its rendering (seconds, headers); the
//!   question, [`Quota`], is plain data at the bottom (`crate::quota`).
//! * [`limits`]: multi-limit checks ([`Limit`], [`MultiDecision`]).
//! * [`decide`]: the decision path (breaker, failure mode, deny cache).

pub(crate) mod builder;
pub(crate) mod decide;
pub(crate) mod decision;
pub(crate) mod limits;
pub(crate) mod options;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::algorithm::spec::{Op, CODES};
use crate::algorithm::{Algorithm, Spec};
use crate::backend::redis::keys;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::policy::{self, Policy, PolicyTable, RedisNames};
use crate::quota::{block_us, validate_call, validate_cost, validate_id, IntoQuotas, Quota, Quotas, MAX_QUOTAS};
use crate::resilience::deny_cache::DenyCache;
use crate::resilience::{is_outage, FailureMode, Resilience, Stats};
use crate::runtime;

pub use builder::LimiterBuilder;
pub(crate) use decide::{decision_of, Answer, Prepared};
pub use decision::Decision;
pub use limits::{Limit, MultiDecision};

/// Most limits one multi-limit check may carry.
pub const MAX_LIMITS_PER_CHECK: usize = 16;

/// Run `fut` on the core runtime (where connections live) and await it from
/// wherever the caller is.
pub(crate) async fn on_core<T: Send + 'static>(
    fut: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    if runtime::on_core_worker() {
        return fut.await;
    }
    runtime::handle()
        .spawn(fut)
        .await
        .map_err(|e| Error::Internal(format!("task failed: {e}")))?
}

/// A rate limiter. Cheap to clone; clones share one connection.
///
/// Async-first: every method returns a future that may be awaited on any
/// tokio runtime (or none of ratewarden's), since the Redis work runs on the
/// core runtime. For synchronous code use [`blocking::Limiter`](crate::blocking::Limiter).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ratewarden::Error> {
/// use ratewarden::{Limiter, Quota};
/// let limiter = Limiter::connect("memory://doc-async").await?;
/// // at most 2 requests per second for this client and endpoint
/// assert!(limiter.is_allowed("alice", "/search", 2, 2).await?);
/// assert!(limiter.is_allowed("alice", "/search", 2, 2).await?);
/// let d = limiter.check("alice", "/search", Quota::new(2, 2), 1).await?;
/// assert!(!d.allowed && d.retry_after > std::time::Duration::ZERO);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) backend: Backend,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) algorithm: Algorithm,
    /// memory://: the store's table; Redis: this limiter's watched copy.
    pub(crate) policies: Arc<PolicyTable>,
    pub(crate) names: RedisNames,
    pub(crate) res: Arc<Resilience>,
    pub(crate) deny: Option<Arc<DenyCache>>,
}

impl Limiter {
    /// May `client_id` call `api_endpoint` now, under `capacity` requests at
    /// once and `rate_per_second` sustained? Counts the request if so.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let limiter = ratewarden::Limiter::connect("memory://doc-is-allowed").await.unwrap();
    /// assert!(limiter.is_allowed("10.0.0.7", "GET /items", 1, 1).await.unwrap());
    /// assert!(!limiter.is_allowed("10.0.0.7", "GET /items", 1, 1).await.unwrap());
    /// # }
    /// ```
    pub async fn is_allowed(
        &self,
        client_id: &str,
        api_endpoint: &str,
        capacity: u64,
        rate_per_second: u64,
    ) -> Result<bool> {
        Ok(self
            .check(client_id, api_endpoint, Quota::new(capacity, rate_per_second), 1)
            .await?
            .allowed)
    }

    /// The full decision for a request counting as `cost` units (all or
    /// nothing).
    ///
    /// A [`Timeout`](crate::ErrorKind::Timeout) error with
    /// [`outcome_unknown`](Error::outcome_unknown) means the decision may
    /// have been taken on the server; do not retry it blindly.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use ratewarden::{Limiter, Quota};
    /// let limiter = Limiter::connect("memory://doc-check").await.unwrap();
    /// let d = limiter.check("alice", "/upload", Quota::new(10, 1), 4).await.unwrap();
    /// assert!(d.allowed);
    /// assert_eq!(d.remaining, 6);
    /// # }
    /// ```
    ///
    /// `quota` is a [`Quota`], [`Quotas`] or notation (`"5/minute"`,
    /// `"10/second;1000/hour"`: every quota must have room, the answer is the
    /// limiting one's; see [`IntoQuotas`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let limiter = ratewarden::Limiter::connect("memory://doc-check-notation").await.unwrap();
    /// let d = limiter.check("alice", "/login", "5/minute", 1).await.unwrap();
    /// assert!(d.allowed && d.limit == 5 && d.remaining == 4);
    /// # }
    /// ```
    pub async fn check(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quota: impl IntoQuotas,
        cost: u64,
    ) -> Result<Decision> {
        self.prepare_op(client_id, api_endpoint, quota.into_quotas()?, cost, None, Op::Check)?
            .run()
            .await
    }

    /// The decision a cost-1 [`check`](Self::check) would get now, counting
    /// nothing (`remaining` is what that check would leave).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let limiter = ratewarden::Limiter::connect("memory://doc-peek").await.unwrap();
    /// for _ in 0..3 {
    ///     assert_eq!(limiter.peek("alice", "/login", "2/minute").await.unwrap().remaining, 1);
    /// }
    /// # }
    /// ```
    pub async fn peek(&self, client_id: &str, api_endpoint: &str, quota: impl IntoQuotas) -> Result<Decision> {
        self.prepare_op(client_id, api_endpoint, quota.into_quotas()?, 1, None, Op::Peek)?
            .run()
            .await
    }

    /// Give back `cost` units of the latest admissions (a request that failed
    /// and should not count); never below empty, and a running
    /// [`block`](Self::block) stays. Answers like [`peek`](Self::peek)
    /// afterwards. See the README for what each algorithm gives back.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let limiter = ratewarden::Limiter::connect("memory://doc-refund").await.unwrap();
    /// assert!(limiter.check("alice", "/pay", "1/hour", 1).await.unwrap().allowed);
    /// assert!(limiter.refund("alice", "/pay", "1/hour", 1).await.unwrap().allowed);
    /// assert!(limiter.check("alice", "/pay", "1/hour", 1).await.unwrap().allowed);
    /// # }
    /// ```
    pub async fn refund(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quota: impl IntoQuotas,
        cost: u64,
    ) -> Result<Decision> {
        self.prepare_op(client_id, api_endpoint, quota.into_quotas()?, cost, None, Op::Refund)?
            .run()
            .await
    }

    /// Refuse (`client_id`, `api_endpoint`, `quota`) until `duration` from
    /// now (a lockout), with `retry_after` the time left; then the full quota
    /// is back. `duration` is 1 µs to [`MAX_PERIOD`](crate::MAX_PERIOD).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// let limiter = ratewarden::Limiter::connect("memory://doc-block").await.unwrap();
    /// let d = limiter.block("mallory", "/login", "5/minute", Duration::from_secs(900)).await.unwrap();
    /// assert!(!d.allowed && d.retry_after == Duration::from_secs(900));
    /// assert!(!limiter.check("mallory", "/login", "5/minute", 1).await.unwrap().allowed);
    /// # }
    /// ```
    pub async fn block(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quota: impl IntoQuotas,
        duration: Duration,
    ) -> Result<Decision> {
        let us = block_us(duration)?;
        self.prepare_op(client_id, api_endpoint, quota.into_quotas()?, us, None, Op::Block)?
            .run()
            .await
    }

    /// Forget all state of (`client_id`, `api_endpoint`): every algorithm and
    /// quota (admin, tests). One atomic step; on Redis one `DEL` of every
    /// key the pair can have.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let limiter = ratewarden::Limiter::connect("memory://doc-reset").await.unwrap();
    /// assert!(limiter.check("alice", "/a", "1/day", 1).await.unwrap().allowed);
    /// limiter.reset("alice", "/a").await.unwrap();
    /// assert!(limiter.check("alice", "/a", "1/day", 1).await.unwrap().allowed);
    /// # }
    /// ```
    pub async fn reset(&self, client_id: &str, api_endpoint: &str) -> Result<()> {
        self.prepare_reset(client_id, api_endpoint)?.run().await.map(|_| ())
    }

    /// Every key (algorithm × rank) a pair can have, to delete.
    pub(crate) fn prepare_reset(&self, client_id: &str, api_endpoint: &str) -> Result<Prepared<MultiDecision>> {
        validate_id("client_id", client_id)?;
        validate_id("api_endpoint", api_endpoint)?;
        let mut specs = Vec::with_capacity(CODES.len() * MAX_QUOTAS);
        for code in CODES {
            for rank in 0..MAX_QUOTAS as u8 {
                let mut s = Spec::new(self.inner.algorithm, Quota::new(1, 1), 1).with_op(Op::Reset, 0);
                s.code = code;
                s.rank = rank;
                specs.push(s);
            }
        }
        let endpoints = vec![api_endpoint; specs.len()];
        self.prepare_specs(client_id, &endpoints, specs, None)
    }

    /// [`check`](Self::check) with another algorithm than the limiter's.
    /// Each algorithm keeps its own state (its own keys).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use ratewarden::{Algorithm, Limiter, Quota};
    /// let limiter = Limiter::connect("memory://doc-check-with").await.unwrap();
    /// let d = limiter.check_with("alice", "/upload", Quota::new(10, 1), 1, Algorithm::TokenBucket).await.unwrap();
    /// assert!(d.allowed && d.remaining == 9);
    /// # }
    /// ```
    pub async fn check_with(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quota: impl IntoQuotas,
        cost: u64,
        algorithm: Algorithm,
    ) -> Result<Decision> {
        self.prepare_op(
            client_id,
            api_endpoint,
            quota.into_quotas()?,
            cost,
            Some(algorithm),
            Op::Check,
        )?
        .run()
        .await
    }

    /// Several limits for one client in one atomic step (one round trip):
    /// admitted only if every limit has room, and then counted in all of
    /// them. At most [`MAX_LIMITS_PER_CHECK`] limits, with distinct
    /// (scope, algorithm) pairs. All keys of one client share a hash tag, so
    /// this works on Redis Cluster too.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use ratewarden::{Limit, Limiter, Quota};
    /// let limiter = Limiter::connect("memory://doc-check-all").await.unwrap();
    /// // 10 per second on this endpoint and 1200 per minute (W = 1200/20 s) over all endpoints
    /// let limits = [Limit::new("/search", Quota::new(10, 10)), Limit::new("*", Quota::new(1200, 20))];
    /// let m = limiter.check_all("alice", &limits).await.unwrap();
    /// assert!(m.allowed);
    /// # }
    /// ```
    pub async fn check_all(&self, client_id: &str, limits: &[Limit<'_>]) -> Result<MultiDecision> {
        self.prepare_all(client_id, limits, None)?.run().await
    }

    /// [`check_with`](Self::check_with) (or, with `algorithm` `None`,
    /// [`check`](Self::check)) for callers that cannot await: `done` is
    /// called exactly once with the answer — on this thread before returning
    /// when no I/O is needed (memory, invalid arguments), otherwise on a
    /// thread of the core runtime. Meant for language bindings; keep `done`
    /// short.
    ///
    /// ```
    /// use ratewarden::{Limiter, Quota};
    /// let limiter = Limiter::builder("memory://doc-callback").build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// limiter.check_callback("alice", "/a", Quota::new(1, 1), 1, None, move |r| tx.send(r).unwrap());
    /// assert!(rx.recv().unwrap().unwrap().allowed);
    /// ```
    pub fn check_callback(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quota: impl IntoQuotas,
        cost: u64,
        algorithm: Option<Algorithm>,
        done: impl FnOnce(Result<Decision>) + Send + 'static,
    ) {
        let prepared = quota
            .into_quotas()
            .and_then(|q| self.prepare_op(client_id, api_endpoint, q, cost, algorithm, Op::Check));
        match prepared {
            Ok(p) => p.run_then(done),
            Err(e) => done(Err(e)),
        }
    }

    /// [`check_all`](Self::check_all) with a callback; see
    /// [`check_callback`](Self::check_callback).
    ///
    /// ```
    /// use ratewarden::{Limit, Limiter, Quota};
    /// let limiter = Limiter::builder("memory://doc-all-callback").build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// limiter.check_all_callback("alice", &[Limit::new("/a", Quota::new(1, 1))], move |r| tx.send(r).unwrap());
    /// assert!(rx.recv().unwrap().unwrap().allowed);
    /// ```
    pub fn check_all_callback(
        &self,
        client_id: &str,
        limits: &[Limit<'_>],
        done: impl FnOnce(Result<MultiDecision>) + Send + 'static,
    ) {
        match self.prepare_all(client_id, limits, None) {
            Ok(p) => p.run_then(done),
            Err(e) => done(Err(e)),
        }
    }

    /// Decide by the policy named `api_endpoint` (or, if it has none, the
    /// default policy `"*"`): its capacity, rate and algorithm. Policies are
    /// stored with the state ([`set_policy`](Self::set_policy), or
    /// `ratewarden policy set`) and a change reaches every running limiter
    /// within [`REFRESH_EVERY`](crate::policy::REFRESH_EVERY), usually at
    /// once (pub/sub). A name without a policy and no default is
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument).
    ///
    /// A limiter that could not load the policies even once (Redis down since
    /// it started) still answers by its failure mode, without waiting while
    /// the circuit is open: `error` fails, `deny` refuses, `allow` admits,
    /// and `local` — with no quota to take a share of — admits too (and
    /// warns). Such decisions report `limit` 0 (unknown).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ratewarden::Error> {
    /// use ratewarden::{Limiter, Policy};
    /// let limiter = Limiter::connect("memory://doc-policy").await?;
    /// limiter.set_policy("/users", Policy::new(1, 1)).await?;
    /// assert!(limiter.check_policy("alice", "/users", 1).await?.allowed);
    /// assert!(!limiter.check_policy("alice", "/users", 1).await?.allowed);
    /// # Ok(()) }
    /// ```
    pub async fn check_policy(&self, client_id: &str, api_endpoint: &str, cost: u64) -> Result<Decision> {
        validate_id("client_id", client_id)?;
        if cost == 0 {
            return Err(Error::invalid_argument("cost must be at least 1"));
        }
        let p = match self.resolved_policy(api_endpoint).await {
            Ok(p) => p,
            // Only a table never loaded needs Redis here.
            Err(e) if is_outage(&e) => return self.without_policies(e),
            Err(e) => return Err(e),
        };
        self.prepare_op(client_id, api_endpoint, p.quotas, cost, p.algorithm, Op::Check)?
            .run()
            .await
    }

    /// The failure mode's answer when no policy could be loaded yet.
    fn without_policies(&self, e: Error) -> Result<Decision> {
        let res = &self.inner.res;
        let route = self.policy_route();
        let (allowed, wait) = match res.mode {
            FailureMode::Error => {
                res.counters.errors.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
            FailureMode::Deny => (false, res.breaker(route).wait().max(Duration::from_millis(1))),
            FailureMode::Allow | FailureMode::Local => (true, Duration::ZERO),
        };
        res.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
        res.counters.decided(allowed);
        if res.warn.should_warn() {
            tracing::warn!(target: "ratewarden", mode = %res.mode,
                "policies not loaded and Redis unreachable ({e}); deciding by the failure mode");
        }
        Ok(Decision {
            allowed,
            limit: 0,
            remaining: 0,
            retry_after: wait,
            reset_after: wait,
        })
    }

    /// The circuit breaker that guards the policy table's server.
    fn policy_route(&self) -> usize {
        self.inner.backend.route(&[self.inner.names.hash.as_bytes().to_vec()])
    }

    /// The policy [`check_policy`](Self::check_policy) applies to
    /// `api_endpoint` right now, from this limiter's copy (what a running
    /// instance sees).
    pub async fn resolved_policy(&self, api_endpoint: &str) -> Result<Policy> {
        validate_id("api_endpoint", api_endpoint)?;
        if let Some(conn) = self.inner.backend.remote() {
            if !self.inner.policies.is_watched() {
                // Not loaded yet: this read is an outage like a decision's,
                // guarded by the same circuit breaker.
                let breaker = self.inner.res.breaker(self.policy_route());
                if let Err(wait) = breaker.admit() {
                    return Err(Error::circuit_open(wait));
                }
                let (table, conn, names) = (self.inner.policies.clone(), conn.clone(), self.inner.names.clone());
                match on_core(async move { table.ensure_watched(&conn, &names).await }).await {
                    Ok(()) => breaker.success(),
                    Err(e) => {
                        if is_outage(&e) {
                            breaker.failure();
                        }
                        return Err(e);
                    }
                }
            }
        }
        policy::resolve(&self.inner.policies.snapshot(), api_endpoint).copied()
    }

    /// Store `policy` under `name` for every limiter on this backend (and
    /// key prefix); takes effect on all of them within
    /// [`REFRESH_EVERY`](crate::policy::REFRESH_EVERY). Existing state keys
    /// follow the new numbers from their next decision (see the README).
    pub async fn set_policy(&self, name: &str, policy: Policy) -> Result<()> {
        policy::validate_name(name)?;
        policy.quotas.validate()?;
        self.store_policy(name, Some(policy)).await
    }

    /// Remove the policy `name` (a no-op if there is none).
    pub async fn delete_policy(&self, name: &str) -> Result<()> {
        policy::validate_name(name)?;
        self.store_policy(name, None).await
    }

    /// Every stored policy, read from the backend now.
    pub async fn policies(&self) -> Result<std::collections::HashMap<String, Policy>> {
        match &self.inner.backend {
            Backend::Memory(_) => Ok((*self.inner.policies.snapshot()).clone()),
            conn => {
                let conn = conn.clone();
                let names = self.inner.names.clone();
                on_core(async move { policy::fetch_all(&conn, &names).await }).await
            }
        }
    }

    async fn store_policy(&self, name: &str, p: Option<Policy>) -> Result<()> {
        match &self.inner.backend {
            Backend::Memory(_) => {
                self.inner.policies.set_local(name, p);
                Ok(())
            }
            conn => {
                let (conn, names, name) = (conn.clone(), self.inner.names.clone(), name.to_owned());
                on_core(async move { policy::store(&conn, &names, &name, p).await }).await
            }
        }
    }

    /// Test support: decide at `now_us` instead of the backend's clock (the
    /// server's `TIME` for Redis). Not a stable API.
    #[doc(hidden)]
    pub async fn __check_all_at(&self, now_us: u64, client_id: &str, limits: &[Limit<'_>]) -> Result<MultiDecision> {
        if now_us == 0 {
            return Err(Error::invalid_argument("now_us must be positive"));
        }
        self.prepare_all(client_id, limits, Some(now_us))?.run().await
    }

    /// This limiter's counters (shared by its clones): decisions, errors,
    /// fallback decisions, whether the circuit is open, and a latency
    /// histogram of backend decisions.
    pub fn stats(&self) -> Stats {
        self.inner.res.counters.snapshot(self.inner.res.any_open())
    }

    /// The failure mode.
    pub fn failure_mode(&self) -> FailureMode {
        self.inner.res.mode
    }

    /// The limiter's default algorithm.
    ///
    /// ```
    /// let l = ratewarden::Limiter::builder("memory://").build().unwrap();
    /// assert_eq!(l.algorithm(), ratewarden::Algorithm::SlidingWindowLog);
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.inner.algorithm
    }

    /// Round trip to the backend within the deadline (always `Ok` for memory).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// ratewarden::Limiter::connect("memory://").await.unwrap().ping().await.unwrap();
    /// # }
    /// ```
    pub async fn ping(&self) -> Result<()> {
        match &self.inner.backend {
            Backend::Memory(_) => Ok(()),
            conn => {
                let conn = conn.clone();
                on_core(async move { conn.ping().await }).await
            }
        }
    }

    /// The per-call deadline.
    ///
    /// ```
    /// let l = ratewarden::Limiter::builder("memory://").build().unwrap();
    /// assert_eq!(l.timeout(), std::time::Duration::from_secs(1));
    /// ```
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The Redis key a decision for (`client_id`, `api_endpoint`, `quota`)
    /// with the limiter's algorithm uses, for inspection and tests (`None`
    /// for the memory backend or invalid arguments).
    ///
    /// ```
    /// let l = ratewarden::Limiter::builder("redis://127.0.0.1:1").build().unwrap();
    /// let key = l.redis_key("a", "b", ratewarden::Quota::new(1, 1)).unwrap();
    /// assert!(key.starts_with(b"ratewarden:{"));
    /// ```
    pub fn redis_key(&self, client_id: &str, api_endpoint: &str, quota: impl IntoQuotas) -> Option<Vec<u8>> {
        let quota = *quota.into_quotas().ok()?.as_slice().first()?;
        validate_call(client_id, api_endpoint, &quota, 1).ok()?;
        let spec = Spec::new(self.inner.algorithm, quota, 1);
        match &self.inner.backend {
            Backend::Memory(_) => None,
            _ => Some(keys::key(&self.inner.prefix, spec.tag(), 0, client_id, api_endpoint)),
        }
    }

    /// Validate and do everything that needs no I/O: one operation on the
    /// quotas of one endpoint.
    pub(crate) fn prepare_op(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quotas: Quotas,
        cost: u64,
        algorithm: Option<Algorithm>,
        op: Op,
    ) -> Result<Prepared<Decision>> {
        let algorithm = algorithm.unwrap_or(self.inner.algorithm);
        if let ([quota], Op::Check) = (quotas.as_slice(), op) {
            return self.prepare(client_id, api_endpoint, *quota, cost, algorithm);
        }
        self.prepare_quotas(client_id, api_endpoint, quotas, cost, algorithm, op)
    }

    /// [`prepare_op`](Self::prepare_op) for any answer (one per quota, or
    /// the limiting one), without the single-quota shortcut.
    pub(crate) fn prepare_quotas<T: decide::Answer>(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quotas: Quotas,
        cost: u64,
        algorithm: Algorithm,
        op: Op,
    ) -> Result<Prepared<T>> {
        validate_id("client_id", client_id)?;
        validate_id("api_endpoint", api_endpoint)?;
        quotas.validate()?;
        match op {
            Op::Check => validate_cost("cost", cost, quotas.min_capacity())?,
            Op::Refund => validate_cost("refund", cost, quotas.min_capacity())?,
            _ => {}
        }
        let arg = if op == Op::Peek { 1 } else { cost };
        let mut specs: Vec<Spec> = quotas
            .as_slice()
            .iter()
            .map(|q| Spec::new(algorithm, *q, if op == Op::Check { cost } else { 1 }).with_op(op, arg))
            .collect();
        let endpoints = vec![api_endpoint; specs.len()];
        rank(&endpoints, &mut specs)?;
        self.prepare_specs(client_id, &endpoints, specs, None)
    }

    /// One check of one quota (the hot path: no allocation for memory).
    fn prepare(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quota: Quota,
        cost: u64,
        algorithm: Algorithm,
    ) -> Result<Prepared<Decision>> {
        validate_call(client_id, api_endpoint, &quota, cost)?;
        let spec = Spec::new(algorithm, quota, cost);
        match &self.inner.backend {
            Backend::Memory(store) => {
                let o = store.decide_one(client_id, api_endpoint, spec, None);
                self.inner.res.counters.decided(o.ok);
                tracing::trace!(target: "ratewarden", client_id, api_endpoint, allowed = o.ok, remaining = o.remaining, "decision");
                Ok(Prepared::Done(decision_of(&o, &spec)))
            }
            conn => {
                let key = keys::key(&self.inner.prefix, spec.tag(), 0, client_id, api_endpoint);
                if let Some(refused) = self.cached_refusal(&key, &spec) {
                    return Ok(Prepared::Done(decision_of(&refused, &spec)));
                }
                Ok(Prepared::Redis {
                    conn: conn.clone(),
                    keys: vec![key],
                    specs: vec![spec],
                    now: None,
                    res: self.inner.res.clone(),
                    deny: self.inner.deny.clone(),
                })
            }
        }
    }

    /// A refusal of `key` under `spec` that the deny cache still holds,
    /// counted as a decision answered by the cache.
    fn cached_refusal(&self, key: &[u8], spec: &Spec) -> Option<crate::algorithm::Outcome> {
        let hit = self.inner.deny.as_ref()?.get(key, spec)?;
        let counters = &self.inner.res.counters;
        counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        counters.decided(false);
        Some(crate::algorithm::Outcome {
            ok: false,
            remaining: hit.remaining,
            retry_us: hit.retry_after.as_micros() as u64,
            reset_us: hit.reset_after.as_micros() as u64,
        })
    }

    /// Hand validated, ranked specs (one per endpoint) to the backend; a
    /// single-quota check consults and feeds the deny cache.
    pub(crate) fn prepare_specs<T: decide::Answer>(
        &self,
        client_id: &str,
        endpoints: &[&str],
        specs: Vec<Spec>,
        now: Option<u64>,
    ) -> Result<Prepared<T>> {
        match &self.inner.backend {
            Backend::Memory(store) => {
                let scoped: Vec<(&str, Spec)> = endpoints.iter().copied().zip(specs.iter().copied()).collect();
                let outcomes = store.decide(client_id, &scoped, now);
                if specs.first().is_some_and(|s| s.op == Op::Check) {
                    self.inner.res.counters.decided(outcomes.iter().all(|o| o.ok));
                }
                Ok(Prepared::Done(T::from_outcomes(&outcomes, &specs)?))
            }
            conn => {
                let keys: Vec<Vec<u8>> = endpoints
                    .iter()
                    .zip(&specs)
                    .map(|(e, s)| keys::key(&self.inner.prefix, s.tag(), s.rank, client_id, e))
                    .collect();
                // A refund, block or reset changes what this instance's cached
                // refusals say: forget them.
                if let (Some(cache), Some(Op::Refund | Op::Block | Op::Reset)) =
                    (&self.inner.deny, specs.first().map(|s| s.op))
                {
                    keys.iter().for_each(|k| cache.remove(k));
                }
                let deny = match (&self.inner.deny, &specs[..]) {
                    (Some(cache), [spec]) if spec.op == Op::Check && now.is_none() => {
                        if let Some(refused) = self.cached_refusal(&keys[0], spec) {
                            return Ok(Prepared::Done(T::from_outcomes(&[refused], &specs)?));
                        }
                        Some(cache.clone())
                    }
                    _ => None,
                };
                Ok(Prepared::Redis {
                    conn: conn.clone(),
                    keys,
                    specs,
                    now,
                    res: self.inner.res.clone(),
                    deny,
                })
            }
        }
    }

    /// Validate and do everything that needs no I/O (several limits).
    pub(crate) fn prepare_all(
        &self,
        client_id: &str,
        limits: &[Limit<'_>],
        now: Option<u64>,
    ) -> Result<Prepared<MultiDecision>> {
        validate_id("client_id", client_id)?;
        if limits.is_empty() || limits.len() > MAX_LIMITS_PER_CHECK {
            return Err(Error::invalid_argument(format!(
                "a check takes 1 to {MAX_LIMITS_PER_CHECK} limits, got {}",
                limits.len()
            )));
        }
        let mut specs: Vec<Spec> = Vec::with_capacity(limits.len());
        for l in limits {
            validate_call(client_id, l.api_endpoint, &l.quota, l.cost)?;
            specs.push(Spec::new(l.algorithm.unwrap_or(self.inner.algorithm), l.quota, l.cost));
        }
        let endpoints: Vec<&str> = limits.iter().map(|l| l.api_endpoint).collect();
        rank(&endpoints, &mut specs)?;
        self.prepare_specs(client_id, &endpoints, specs, now)
    }

    pub(crate) fn backend_deadline(&self) -> Duration {
        match &self.inner.backend {
            Backend::Memory(_) => self.inner.timeout,
            c => c.deadline(),
        }
    }
}
/// Number the specs that share an endpoint and a key layout by period
/// (then capacity, then position): rank 0 keeps the plain key. At most
/// [`MAX_QUOTAS`] may share one; two identical quotas may not.
fn rank(endpoints: &[&str], specs: &mut [Spec]) -> Result<()> {
    let order = |s: &Spec, i: usize| (s.window_us, s.capacity, i);
    for i in 0..specs.len() {
        let mut r = 0;
        for j in 0..specs.len() {
            let same = j != i && endpoints[j] == endpoints[i] && specs[j].code == specs[i].code;
            if same && specs[j].window_us == specs[i].window_us && specs[j].capacity == specs[i].capacity {
                return Err(Error::invalid_argument(format!(
                    "limit {i} repeats scope {:?} with the same algorithm and quota; each limit needs its own",
                    endpoints[i]
                )));
            }
            if same && order(&specs[j], j) < order(&specs[i], i) {
                r += 1;
            }
        }
        if r >= MAX_QUOTAS {
            return Err(Error::invalid_argument(format!(
                "more than {MAX_QUOTAS} limits share scope {:?} and one algorithm",
                endpoints[i]
            )));
        }
        specs[i].rank = r as u8;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_and_options_are_config_or_argument_errors() {
        let kind = |b: LimiterBuilder| b.build().unwrap_err().kind();
        use crate::ErrorKind::*;
        assert_eq!(kind(Limiter::builder("http://x")), Config);
        assert_eq!(kind(Limiter::builder("redis+cluster://a:1,,b:2")), Config);
        assert_eq!(kind(Limiter::builder("redis+cluster://a:1/3")), Config);
        assert_eq!(kind(Limiter::builder("redis+sentinel://a:1")), Config);
        assert_eq!(
            kind(Limiter::builder("redis+sentinel://a:1/m").tls_root_cert_pem(vec![1])),
            Config
        );
        assert!(Limiter::builder("redis+cluster://a:1,b:2").build().is_ok());
        assert!(Limiter::builder("redis+sentinel://a:1,b:2/mymaster").build().is_ok());
        assert_eq!(kind(Limiter::builder("redis://")), Config);
        assert_eq!(
            kind(Limiter::builder("memory://").timeout(Duration::ZERO)),
            InvalidArgument
        );
        assert_eq!(kind(Limiter::builder("memory://").key_prefix("{x}")), InvalidArgument);
        assert_eq!(kind(Limiter::builder("memory://").max_in_flight(0)), InvalidArgument);
        assert_eq!(kind(Limiter::builder("redis://x:1").tls_root_cert_pem(vec![1])), Config);
    }

    #[test]
    fn bad_multi_checks_are_rejected() {
        let l = Limiter::builder("memory://").build().unwrap();
        let q = Quota::new(1, 1);
        assert!(l.prepare_all("c", &[], None).is_err());
        let twice = [Limit::new("/a", q), Limit::new("/a", q)];
        assert!(l.prepare_all("c", &twice, None).is_err());
        let periods = [
            Limit::new("/a", Quota::per_hour(9)),
            Limit::new("/a", Quota::per_second(1)),
        ];
        assert!(l.prepare_all("c", &periods, None).is_ok());
        let other_alg = [Limit::new("/a", q), Limit::new("/a", q).algorithm(Algorithm::Gcra)];
        assert!(l.prepare_all("c", &other_alg, None).is_ok());
        let many = vec![Limit::new("/a", q); MAX_LIMITS_PER_CHECK + 1];
        assert!(l.prepare_all("c", &many, None).is_err());
        assert!(l.prepare_all("c", &[Limit::new("/a", q).cost(2)], None).is_err());
    }
}
