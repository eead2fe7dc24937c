//! The async [`Limiter`] and its builder: URL → backend, validation, keys, and
//! the decision itself.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::algorithm::{Algorithm, Outcome, Spec};
use crate::deny_cache::DenyCache;
use crate::error::{Error, Result};
use crate::keys;
use crate::memory::MemoryStore;
use crate::policy::{self, Policy, PolicyTable, RedisNames};
use crate::quota::{validate_call, validate_id, Decision, Quota};
use crate::remote::Remote;
use crate::resilience::{is_outage, Breaker, Counters, FailureMode, Resilience, Stats, WarnLimit};
use crate::runtime;

/// Default per-call deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default bound on calls outstanding on one limiter's connection.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// Most limits one multi-limit check may carry.
pub const MAX_LIMITS_PER_CHECK: usize = 16;

/// Configures a limiter before it is built. Obtain one from
/// [`Limiter::builder`] or [`blocking::Limiter::builder`](crate::blocking::Limiter::builder).
///
/// ```
/// use std::time::Duration;
/// let limiter = ratewarden::Limiter::builder("memory://")
///     .timeout(Duration::from_millis(250))
///     .key_prefix("myapp:rl:")
///     .build()
///     .unwrap();
/// # let _ = limiter;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct LimiterBuilder {
    url: String,
    timeout: Duration,
    key_prefix: String,
    max_in_flight: usize,
    tls_root_cert: Option<Vec<u8>>,
    algorithm: Algorithm,
    failure_mode: FailureMode,
    local_share: f64,
    breaker_threshold: u64,
    breaker_open_for: Duration,
    deny_cache: usize,
}

impl LimiterBuilder {
    /// Entries of the local deny cache (default 10,000; 0 turns it off): a
    /// single-limit refusal is answered locally until its `retry_after`,
    /// without a round trip — for a request of the same quota and the same or
    /// a larger cost only, so it never refuses what Redis would admit except
    /// for the reply's one-way latency, and never admits anything. See the
    /// README ("Running in production") for what it cannot see.
    pub fn deny_cache(mut self, entries: usize) -> Self {
        self.deny_cache = entries;
        self
    }

    /// What a decision returns while Redis cannot be reached (default
    /// [`FailureMode::Error`]). Whatever the mode, the circuit breaker makes
    /// calls fail (or fall back) at once after
    /// [`breaker_threshold`](Self::breaker_threshold) consecutive outages,
    /// instead of each waiting for its deadline, and probes Redis again
    /// every [`breaker_open_for`](Self::breaker_open_for).
    ///
    /// ```
    /// use ratewarden::{FailureMode, Limiter};
    /// let l = Limiter::builder("redis://127.0.0.1:6379").failure_mode(FailureMode::Local).local_share(0.25).build().unwrap();
    /// # let _ = l;
    /// ```
    pub fn failure_mode(mut self, mode: FailureMode) -> Self {
        self.failure_mode = mode;
        self
    }

    /// The share of each quota the in-process limiter of
    /// [`FailureMode::Local`] grants (0 < share <= 1; default 1.0). With N
    /// instances sharing a limit, `1 / N` keeps the total near the limit
    /// while Redis is away.
    pub fn local_share(mut self, share: f64) -> Self {
        self.local_share = share;
        self
    }

    /// Consecutive outages (connection errors, timeouts) that open the
    /// circuit (default 3; 1..=1000). There is one circuit per server: on a
    /// Redis Cluster, a master that is down opens only its own.
    pub fn breaker_threshold(mut self, n: u64) -> Self {
        self.breaker_threshold = n;
        self
    }

    /// How long the circuit stays open before one call probes Redis again
    /// (default 500 ms; 1 ms..=1 h).
    pub fn breaker_open_for(mut self, d: Duration) -> Self {
        self.breaker_open_for = d;
        self
    }

    /// The algorithm of calls that do not name one (default
    /// [`Algorithm::SlidingWindowLog`]).
    ///
    /// ```
    /// use ratewarden::{Algorithm, Limiter};
    /// let l = Limiter::builder("memory://").algorithm(Algorithm::Gcra).build().unwrap();
    /// assert_eq!(l.algorithm(), Algorithm::Gcra);
    /// ```
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The deadline of every call, end to end (default 1 s; 1 ms..=1 h).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Prefix of every Redis key (default `ratewarden:`; no braces, ≤ 128 bytes).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Bound on calls outstanding on the connection (default 1024).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Trust this CA certificate (PEM) for `rediss://` instead of the
    /// system's trust store.
    ///
    /// ```
    /// let b = ratewarden::Limiter::builder("rediss://redis.internal:6380")
    ///     .tls_root_cert_pem(b"-----BEGIN CERTIFICATE-----\n...".to_vec());
    /// # let _ = b;
    /// ```
    pub fn tls_root_cert_pem(mut self, pem: Vec<u8>) -> Self {
        self.tls_root_cert = Some(pem);
        self
    }

    /// Validate the options and build the limiter. Does not wait for Redis:
    /// a first connection attempt starts in the background, and calls made
    /// while Redis is unreachable fail within their deadline.
    pub fn build(self) -> Result<Limiter> {
        if self.timeout < Duration::from_millis(1) || self.timeout > Duration::from_secs(3600) {
            return Err(Error::invalid_argument(format!(
                "timeout must be between 1 ms and 1 h, got {:?}",
                self.timeout
            )));
        }
        if self.max_in_flight == 0 || self.max_in_flight > 1 << 20 {
            return Err(Error::invalid_argument("max_in_flight must be between 1 and 1048576"));
        }
        keys::validate_prefix(&self.key_prefix)?;
        if !(self.local_share > 0.0 && self.local_share <= 1.0) {
            return Err(Error::invalid_argument(format!(
                "local_share must be in (0, 1], got {}",
                self.local_share
            )));
        }
        if !(1..=1000).contains(&self.breaker_threshold) {
            return Err(Error::invalid_argument("breaker_threshold must be between 1 and 1000"));
        }
        if self.breaker_open_for < Duration::from_millis(1) || self.breaker_open_for > Duration::from_secs(3600) {
            return Err(Error::invalid_argument("breaker_open_for must be between 1 ms and 1 h"));
        }
        let backend = if let Some(name) = self.url.strip_prefix("memory://") {
            Backend::Memory(MemoryStore::named(name))
        } else if let Some(remote) = Remote::open(&self.url, self.timeout, self.max_in_flight, self.tls_root_cert) {
            Backend::Redis(remote?)
        } else {
            return Err(Error::config(format!(
                "unknown URL scheme in {:?}; expected memory://, redis://, rediss://, redis+cluster:// or redis+sentinel://",
                scheme(&self.url)
            )));
        };
        let policies = match &backend {
            Backend::Memory(store) => store.policies.clone(),
            Backend::Redis(_) => Arc::new(PolicyTable::default()),
        };
        Ok(Limiter {
            inner: Arc::new(Inner {
                backend,
                names: RedisNames::new(&self.key_prefix),
                prefix: self.key_prefix,
                timeout: self.timeout,
                algorithm: self.algorithm,
                policies,
                deny: (self.deny_cache > 0).then(|| Arc::new(DenyCache::new(self.deny_cache))),
                res: Arc::new(Resilience {
                    mode: self.failure_mode,
                    local_share: self.local_share,
                    breakers: (0..crate::resilience::BREAKERS)
                        .map(|_| Breaker::new(self.breaker_threshold, self.breaker_open_for))
                        .collect(),
                    counters: Counters::default(),
                    warn: WarnLimit::default(),
                    local: Arc::new(MemoryStore::new()),
                }),
            }),
        })
    }
}

/// Run `fut` on the core runtime (where connections live) and await it from
/// wherever the caller is.
async fn on_core<T: Send + 'static>(fut: impl std::future::Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    if runtime::on_core_worker() {
        return fut.await;
    }
    runtime::handle()
        .spawn(fut)
        .await
        .map_err(|e| Error::Internal(format!("task failed: {e}")))?
}

fn scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(s, _)| s)
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
struct Inner {
    backend: Backend,
    prefix: String,
    timeout: Duration,
    algorithm: Algorithm,
    /// memory://: the store's table; Redis: this limiter's watched copy.
    policies: Arc<PolicyTable>,
    names: RedisNames,
    res: Arc<Resilience>,
    deny: Option<Arc<DenyCache>>,
}

#[derive(Debug)]
enum Backend {
    Memory(Arc<MemoryStore>),
    Redis(Remote),
}

/// One limit of a multi-limit check ([`Limiter::check_all`]): a scope name
/// (an endpoint, or any label such as `"*"` for "all endpoints"), a quota,
/// the cost, and optionally an algorithm other than the limiter's.
///
/// ```
/// use ratewarden::{Algorithm, Limit, Quota};
/// let per_endpoint = Limit::new("/search", Quota::new(10, 10));
/// let overall = Limit::new("*", Quota::new(1000, 1000)).algorithm(Algorithm::Gcra).cost(2);
/// # let _ = (per_endpoint, overall);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<'a> {
    /// The scope: keys are per (client, scope, algorithm).
    pub api_endpoint: &'a str,
    /// The quota of this scope.
    pub quota: Quota,
    /// Units this request counts as here (default 1).
    pub cost: u64,
    /// `None`: the limiter's algorithm.
    pub algorithm: Option<Algorithm>,
}

impl<'a> Limit<'a> {
    /// A limit of cost 1 with the limiter's algorithm.
    pub const fn new(api_endpoint: &'a str, quota: Quota) -> Self {
        Limit {
            api_endpoint,
            quota,
            cost: 1,
            algorithm: None,
        }
    }

    /// Count the request as `cost` units in this scope.
    #[must_use]
    pub const fn cost(mut self, cost: u64) -> Self {
        self.cost = cost;
        self
    }

    /// Use `algorithm` for this scope.
    #[must_use]
    pub const fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }
}

/// The answer to a multi-limit check: admitted iff every limit had room, and
/// then counted in every limit; otherwise counted in none.
///
/// `decisions[i]` answers `limits[i]`: its `allowed` says whether that limit
/// alone had room; `remaining` and `reset_after` are after this request if
/// it was admitted, else as they stand.
///
/// ```
/// use ratewarden::{blocking::Limiter, Limit, Quota};
/// let l = Limiter::connect("memory://doc-multi").unwrap();
/// let limits = [Limit::new("/search", Quota::new(5, 5)), Limit::new("*", Quota::new(1, 1))];
/// assert!(l.check_all("alice", &limits).unwrap().allowed);
/// let second = l.check_all("alice", &limits).unwrap();
/// assert!(!second.allowed);
/// assert_eq!(second.limiting(), 1); // the "*" limit refused
/// assert_eq!(second.decisions[0].remaining, 4); // nothing was spent on /search
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiDecision {
    /// Whether the request was admitted (by every limit).
    pub allowed: bool,
    /// One decision per limit, in the order given.
    pub decisions: Vec<Decision>,
}

impl MultiDecision {
    /// The index of the limit that decided: when refused, the refusing limit
    /// with the longest `retry_after`; when admitted, the one with the fewest
    /// `remaining`. Report its numbers in headers.
    pub fn limiting(&self) -> usize {
        let by = |pick: fn(&Decision) -> (bool, i128)| {
            (0..self.decisions.len())
                .max_by_key(|&i| pick(&self.decisions[i]))
                .unwrap_or(0)
        };
        if self.allowed {
            by(|d| (true, -i128::from(d.remaining)))
        } else {
            by(|d| (!d.allowed, d.retry_after.as_micros() as i128))
        }
    }

    /// The decision of [`limiting`](Self::limiting), with `allowed` of the
    /// whole check.
    pub fn decision(&self) -> Decision {
        let mut d = self.decisions[self.limiting()];
        d.allowed = self.allowed;
        d
    }
}

fn decision_of(o: &Outcome, spec: &Spec) -> Decision {
    Decision {
        allowed: o.ok,
        limit: spec.capacity,
        remaining: o.remaining,
        retry_after: Duration::from_micros(o.retry_us),
        reset_after: Duration::from_micros(o.reset_us),
    }
}

/// What a prepared call returns, built from the limits' outcomes.
pub(crate) trait Answer: Sized + Send + 'static {
    fn from_outcomes(outcomes: &[Outcome], specs: &[Spec]) -> Result<Self>;
}

impl Answer for Decision {
    fn from_outcomes(outcomes: &[Outcome], specs: &[Spec]) -> Result<Self> {
        match (outcomes, specs) {
            ([o], [s]) => Ok(decision_of(o, s)),
            _ => Err(Error::Internal(format!("{} outcomes for one limit", outcomes.len()))),
        }
    }
}

impl Answer for MultiDecision {
    fn from_outcomes(outcomes: &[Outcome], specs: &[Spec]) -> Result<Self> {
        if outcomes.len() != specs.len() {
            return Err(Error::Internal(format!(
                "{} outcomes for {} limits",
                outcomes.len(),
                specs.len()
            )));
        }
        Ok(MultiDecision {
            allowed: outcomes.iter().all(|o| o.ok),
            decisions: outcomes.iter().zip(specs).map(|(o, s)| decision_of(o, s)).collect(),
        })
    }
}

/// A decision that is either known already (memory) or needs Redis.
pub(crate) enum Prepared<T> {
    Done(T),
    Redis {
        conn: Remote,
        keys: Vec<Vec<u8>>,
        specs: Vec<Spec>,
        now: Option<u64>,
        res: Arc<Resilience>,
        /// Single-limit decisions: where to remember a refusal.
        deny: Option<Arc<DenyCache>>,
    },
}

impl<T: Answer> Prepared<T> {
    /// Finish the decision; may be awaited on any runtime (the work is done
    /// by the connection's drivers on the core runtime).
    pub(crate) async fn run(self) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.run_then(move |r| {
            let _ = tx.send(r);
        });
        rx.await
            .unwrap_or_else(|_| Err(Error::Internal("a decision was dropped unanswered".into())))
    }

    /// Call `done` with the answer: at once if it is known (memory), else
    /// from the core runtime once Redis answered (or the deadline passed).
    pub(crate) fn run_then(self, done: impl FnOnce(Result<T>) + Send + 'static) {
        let (conn, keys, specs, now, res, deny) = match self {
            Prepared::Done(d) => return done(Ok(d)),
            Prepared::Redis {
                conn,
                keys,
                specs,
                now,
                res,
                deny,
            } => (conn, keys, specs, now, res, deny),
        };
        let remember = deny.map(|c| (c, keys[0].clone()));
        let answer = |outcomes: &[Outcome], specs: &[Spec], res: &Resilience| {
            res.counters.decided(outcomes.iter().all(|o| o.ok));
            T::from_outcomes(outcomes, specs)
        };
        let route = conn.route(&keys);
        if let Err(wait) = res.breaker(route).admit() {
            let e = Error::Connection {
                message: format!("circuit open after repeated failures; Redis is probed again in {wait:?}"),
                source: None,
            };
            return done(
                res.fallback(route, e, &keys, &specs)
                    .and_then(|(o, s)| T::from_outcomes(&o, &s)),
            );
        }
        let traced = tracing::enabled!(target: "ratewarden", tracing::Level::TRACE).then(|| keys.clone());
        let kept = (res.mode == FailureMode::Local).then(|| keys.clone());
        let shape = specs.clone();
        let start = std::time::Instant::now();
        conn.submit(
            keys,
            specs,
            now,
            Box::new(move |r| match r {
                Ok(outcomes) => {
                    res.breaker(route).success();
                    res.counters.latency(start.elapsed());
                    for (k, o) in traced.iter().flatten().zip(&outcomes) {
                        tracing::trace!(target: "ratewarden", key = %String::from_utf8_lossy(k), ok = o.ok, remaining = o.remaining, "decision");
                    }
                    if let (Some((cache, key)), [o], [spec]) = (remember, &outcomes[..], &shape[..]) {
                        if o.ok {
                            cache.remove(&key);
                        } else {
                            let us = Duration::from_micros;
                            cache.insert(&key, spec, o.remaining, us(o.retry_us), us(o.reset_us));
                        }
                    }
                    done(answer(&outcomes, &shape, &res))
                }
                Err(e) if is_outage(&e) => {
                    res.breaker(route).failure();
                    let keys = kept.unwrap_or_default();
                    done(res.fallback(route, e, &keys, &shape).and_then(|(o, s)| T::from_outcomes(&o, &s)))
                }
                Err(e) => {
                    res.counters.errors.fetch_add(1, Ordering::Relaxed);
                    done(Err(e))
                }
            }),
        );
    }
}

impl Limiter {
    /// A limiter for `url` with default options: `memory://` (or
    /// `memory://NAME`, shared by all limiters of this process with that
    /// URL), `redis://[user:pass@]host:port[/db]` or `rediss://…` (TLS; add
    /// `#insecure` to skip certificate checks).
    ///
    /// Returns at once; see [`LimiterBuilder::build`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let limiter = ratewarden::Limiter::connect("memory://").await.unwrap();
    /// # let _ = limiter; }
    /// ```
    pub async fn connect(url: &str) -> Result<Limiter> {
        Limiter::builder(url).build()
    }

    /// A builder for `url`, to set the deadline, key prefix and more.
    ///
    /// ```
    /// let b = ratewarden::Limiter::builder("redis://127.0.0.1:6379");
    /// # let _ = b;
    /// ```
    pub fn builder(url: &str) -> LimiterBuilder {
        LimiterBuilder {
            url: url.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            key_prefix: keys::DEFAULT_PREFIX.to_owned(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            tls_root_cert: None,
            algorithm: Algorithm::SlidingWindowLog,
            failure_mode: FailureMode::Error,
            local_share: 1.0,
            breaker_threshold: 3,
            breaker_open_for: Duration::from_millis(500),
            deny_cache: 10_000,
        }
    }

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
    pub async fn check(&self, client_id: &str, api_endpoint: &str, quota: Quota, cost: u64) -> Result<Decision> {
        self.prepare(client_id, api_endpoint, quota, cost, None)?.run().await
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
        quota: Quota,
        cost: u64,
        algorithm: Algorithm,
    ) -> Result<Decision> {
        self.prepare(client_id, api_endpoint, quota, cost, Some(algorithm))?
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
        quota: Quota,
        cost: u64,
        algorithm: Option<Algorithm>,
        done: impl FnOnce(Result<Decision>) + Send + 'static,
    ) {
        match self.prepare(client_id, api_endpoint, quota, cost, algorithm) {
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
        let p = self.resolved_policy(api_endpoint).await?;
        self.prepare(client_id, api_endpoint, p.quota(), cost, p.algorithm)?
            .run()
            .await
    }

    /// The policy [`check_policy`](Self::check_policy) applies to
    /// `api_endpoint` right now, from this limiter's copy (what a running
    /// instance sees).
    pub async fn resolved_policy(&self, api_endpoint: &str) -> Result<Policy> {
        validate_id("api_endpoint", api_endpoint)?;
        if let Backend::Redis(conn) = &self.inner.backend {
            if !self.inner.policies.is_watched() {
                let (table, conn, names) = (self.inner.policies.clone(), conn.clone(), self.inner.names.clone());
                on_core(async move { table.ensure_watched(&conn, &names).await }).await?;
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
        policy.quota().validate()?;
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
            Backend::Redis(conn) => {
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
            Backend::Redis(conn) => {
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
            Backend::Redis(conn) => {
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
    pub fn redis_key(&self, client_id: &str, api_endpoint: &str, quota: Quota) -> Option<Vec<u8>> {
        match self
            .prepare_all(client_id, &[Limit::new(api_endpoint, quota)], None)
            .ok()?
        {
            Prepared::Redis { mut keys, .. } => keys.pop(),
            Prepared::Done(_) => None,
        }
    }

    /// Validate and do everything that needs no I/O (one limit).
    pub(crate) fn prepare(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quota: Quota,
        cost: u64,
        algorithm: Option<Algorithm>,
    ) -> Result<Prepared<Decision>> {
        validate_call(client_id, api_endpoint, &quota, cost)?;
        let spec = Spec::new(algorithm.unwrap_or(self.inner.algorithm), quota, cost);
        match &self.inner.backend {
            Backend::Memory(store) => {
                let o = store.decide_one(client_id, api_endpoint, spec, None);
                self.inner.res.counters.decided(o.ok);
                tracing::trace!(target: "ratewarden", client_id, api_endpoint, allowed = o.ok, remaining = o.remaining, "decision");
                Ok(Prepared::Done(decision_of(&o, &spec)))
            }
            Backend::Redis(conn) => {
                let key = keys::key(&self.inner.prefix, spec.tag(), client_id, api_endpoint);
                if let Some(hit) = self.inner.deny.as_ref().and_then(|c| c.get(&key, &spec)) {
                    let counters = &self.inner.res.counters;
                    counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                    counters.decided(false);
                    return Ok(Prepared::Done(Decision {
                        allowed: false,
                        limit: spec.capacity,
                        remaining: hit.remaining,
                        retry_after: hit.retry_after,
                        reset_after: hit.reset_after,
                    }));
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
        for (i, l) in limits.iter().enumerate() {
            validate_call(client_id, l.api_endpoint, &l.quota, l.cost)?;
            let spec = Spec::new(l.algorithm.unwrap_or(self.inner.algorithm), l.quota, l.cost);
            let same = |j: usize| limits[j].api_endpoint == l.api_endpoint && specs[j].tag() == spec.tag();
            if (0..i).any(same) {
                return Err(Error::invalid_argument(format!(
                    "limit {i} repeats scope {:?} with the same algorithm; each limit needs its own",
                    l.api_endpoint
                )));
            }
            specs.push(spec);
        }
        match &self.inner.backend {
            Backend::Memory(store) => {
                let scoped: Vec<(&str, Spec)> = limits
                    .iter()
                    .map(|l| l.api_endpoint)
                    .zip(specs.iter().copied())
                    .collect();
                let outcomes = store.decide(client_id, &scoped, now);
                self.inner.res.counters.decided(outcomes.iter().all(|o| o.ok));
                Ok(Prepared::Done(MultiDecision::from_outcomes(&outcomes, &specs)?))
            }
            Backend::Redis(conn) => Ok(Prepared::Redis {
                conn: conn.clone(),
                keys: limits
                    .iter()
                    .zip(&specs)
                    .map(|(l, s)| keys::key(&self.inner.prefix, s.tag(), client_id, l.api_endpoint))
                    .collect(),
                specs,
                now,
                res: self.inner.res.clone(),
                deny: None,
            }),
        }
    }

    pub(crate) fn backend_deadline(&self) -> Duration {
        match &self.inner.backend {
            Backend::Memory(_) => self.inner.timeout,
            Backend::Redis(c) => c.deadline(),
        }
    }
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
    fn multi_decisions_report_the_limiting_limit() {
        let d = |allowed, remaining, retry_ms| Decision {
            allowed,
            limit: 10,
            remaining,
            retry_after: Duration::from_millis(retry_ms),
            reset_after: Duration::ZERO,
        };
        let m = MultiDecision {
            allowed: false,
            decisions: vec![d(true, 5, 0), d(false, 0, 300), d(false, 0, 900)],
        };
        assert_eq!(m.limiting(), 2);
        assert!(!m.decision().allowed);
        let m = MultiDecision {
            allowed: true,
            decisions: vec![d(true, 5, 0), d(true, 1, 0)],
        };
        assert_eq!((m.limiting(), m.decision().remaining), (1, 1));
    }

    #[test]
    fn bad_multi_checks_are_rejected() {
        let l = Limiter::builder("memory://").build().unwrap();
        let q = Quota::new(1, 1);
        assert!(l.prepare_all("c", &[], None).is_err());
        let twice = [Limit::new("/a", q), Limit::new("/a", q)];
        assert!(l.prepare_all("c", &twice, None).is_err());
        let other_alg = [Limit::new("/a", q), Limit::new("/a", q).algorithm(Algorithm::Gcra)];
        assert!(l.prepare_all("c", &other_alg, None).is_ok());
        let many = vec![Limit::new("/a", q); MAX_LIMITS_PER_CHECK + 1];
        assert!(l.prepare_all("c", &many, None).is_err());
        assert!(l.prepare_all("c", &[Limit::new("/a", q).cost(2)], None).is_err());
    }
}
