//! The synchronous face of the same limiter.
//!
//! [`Limiter`] here has the same method names as the async
//! [`crate::Limiter`] and shares its connection manager: Redis work is
//! spawned onto the core runtime and this thread waits for the answer (the
//! memory backend answers inline, with no runtime involved). Calls are safe
//! from any number of OS threads, from `spawn_blocking` and from threads of
//! other runtimes. Called from a worker thread of ratewarden's own runtime it
//! returns [`ErrorKind::Usage`](crate::ErrorKind::Usage) instead of
//! deadlocking.

use std::time::Duration;

use crate::algorithm::spec::Op;
use crate::algorithm::Algorithm;
use crate::error::{Error, Result};
use crate::limiter::decision::Decision;
use crate::limiter::{Answer, Limit, LimiterBuilder, MultiDecision, Prepared};
use crate::policy::Policy;
use crate::quota::{IntoQuotas, Quota};
use crate::runtime;

/// A blocking rate limiter. Cheap to clone; clones share one connection.
///
/// ```
/// use ratewarden::{blocking::Limiter, Quota};
/// let limiter = Limiter::connect("memory://doc-blocking").unwrap();
/// assert!(limiter.is_allowed("alice", "/search", 1, 1).unwrap());
/// let d = limiter.check("alice", "/search", Quota::new(1, 1), 1).unwrap();
/// assert!(!d.allowed);
/// println!("Retry-After: {}", d.retry_after_secs());
/// ```
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: crate::Limiter,
}

/// Builder for [`Limiter`]; the same options as [`crate::LimiterBuilder`].
///
/// ```
/// let l = ratewarden::blocking::Limiter::builder("memory://")
///     .timeout(std::time::Duration::from_millis(200))
///     .build()
///     .unwrap();
/// # let _ = l;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder(LimiterBuilder);

impl Builder {
    /// See [`LimiterBuilder::timeout`].
    pub fn timeout(self, timeout: Duration) -> Self {
        Builder(self.0.timeout(timeout))
    }

    /// See [`LimiterBuilder::key_prefix`].
    pub fn key_prefix(self, prefix: impl Into<String>) -> Self {
        Builder(self.0.key_prefix(prefix))
    }

    /// See [`LimiterBuilder::max_in_flight`].
    pub fn max_in_flight(self, n: usize) -> Self {
        Builder(self.0.max_in_flight(n))
    }

    /// See [`LimiterBuilder::tls_root_cert_pem`].
    pub fn tls_root_cert_pem(self, pem: Vec<u8>) -> Self {
        Builder(self.0.tls_root_cert_pem(pem))
    }

    /// See [`LimiterBuilder::tls_client_cert_pem`].
    pub fn tls_client_cert_pem(self, cert: Vec<u8>, key: Vec<u8>) -> Self {
        Builder(self.0.tls_client_cert_pem(cert, key))
    }

    /// See [`LimiterBuilder::algorithm`].
    pub fn algorithm(self, algorithm: Algorithm) -> Self {
        Builder(self.0.algorithm(algorithm))
    }

    /// See [`LimiterBuilder::failure_mode`].
    pub fn failure_mode(self, mode: crate::FailureMode) -> Self {
        Builder(self.0.failure_mode(mode))
    }

    /// See [`LimiterBuilder::local_share`].
    pub fn local_share(self, share: f64) -> Self {
        Builder(self.0.local_share(share))
    }

    /// See [`LimiterBuilder::breaker_threshold`].
    pub fn breaker_threshold(self, n: u64) -> Self {
        Builder(self.0.breaker_threshold(n))
    }

    /// See [`LimiterBuilder::breaker_open_for`].
    pub fn breaker_open_for(self, d: Duration) -> Self {
        Builder(self.0.breaker_open_for(d))
    }

    /// See [`LimiterBuilder::deny_cache`].
    pub fn deny_cache(self, entries: usize) -> Self {
        Builder(self.0.deny_cache(entries))
    }

    /// See [`LimiterBuilder::option`].
    ///
    /// ```
    /// let l = ratewarden::blocking::Limiter::builder("memory://").option("timeout_ms", 200u64).unwrap().build().unwrap();
    /// # let _ = l;
    /// ```
    pub fn option(self, name: &str, value: impl Into<crate::OptionValue>) -> Result<Self> {
        Ok(Builder(self.0.option(name, value)?))
    }

    /// See [`LimiterBuilder::options`].
    pub fn options(self, options: crate::LimiterOptions) -> Self {
        Builder(self.0.options(options))
    }

    /// See [`LimiterBuilder::build`].
    pub fn build(self) -> Result<Limiter> {
        Ok(Limiter { inner: self.0.build()? })
    }
}

impl Limiter {
    /// See [`crate::Limiter::connect`]; returns without waiting for Redis.
    ///
    /// ```
    /// let l = ratewarden::blocking::Limiter::connect("memory://").unwrap();
    /// # let _ = l;
    /// ```
    pub fn connect(url: &str) -> Result<Limiter> {
        Builder(crate::Limiter::builder(url)).build()
    }

    /// See [`crate::Limiter::builder`].
    pub fn builder(url: &str) -> Builder {
        Builder(crate::Limiter::builder(url))
    }

    /// See [`crate::Limiter::is_allowed`].
    ///
    /// ```
    /// let l = ratewarden::blocking::Limiter::connect("memory://doc-b-allowed").unwrap();
    /// assert!(l.is_allowed("bob", "/", 5, 5).unwrap());
    /// ```
    pub fn is_allowed(&self, client_id: &str, api_endpoint: &str, capacity: u64, rate_per_second: u64) -> Result<bool> {
        Ok(self
            .check(client_id, api_endpoint, Quota::new(capacity, rate_per_second), 1)?
            .allowed)
    }

    /// See [`crate::Limiter::check`].
    ///
    /// ```
    /// use ratewarden::Quota;
    /// let l = ratewarden::blocking::Limiter::connect("memory://doc-b-check").unwrap();
    /// assert_eq!(l.check("bob", "/", Quota::new(5, 5), 2).unwrap().remaining, 3);
    /// ```
    pub fn check(&self, client_id: &str, api_endpoint: &str, quota: impl IntoQuotas, cost: u64) -> Result<Decision> {
        let q = quota.into_quotas()?;
        self.finish(
            self.inner
                .prepare_op(client_id, api_endpoint, q, cost, None, Op::Check)?,
        )
    }

    /// See [`crate::Limiter::peek`].
    ///
    /// ```
    /// let l = ratewarden::blocking::Limiter::connect("memory://doc-b-peek").unwrap();
    /// assert!(l.peek("bob", "/", "5/minute").unwrap().allowed);
    /// ```
    pub fn peek(&self, client_id: &str, api_endpoint: &str, quota: impl IntoQuotas) -> Result<Decision> {
        let q = quota.into_quotas()?;
        self.finish(self.inner.prepare_op(client_id, api_endpoint, q, 1, None, Op::Peek)?)
    }

    /// See [`crate::Limiter::refund`].
    ///
    /// ```
    /// let l = ratewarden::blocking::Limiter::connect("memory://doc-b-refund").unwrap();
    /// l.check("bob", "/", "1/minute", 1).unwrap();
    /// assert!(l.refund("bob", "/", "1/minute", 1).unwrap().allowed);
    /// ```
    pub fn refund(&self, client_id: &str, api_endpoint: &str, quota: impl IntoQuotas, cost: u64) -> Result<Decision> {
        let q = quota.into_quotas()?;
        self.finish(
            self.inner
                .prepare_op(client_id, api_endpoint, q, cost, None, Op::Refund)?,
        )
    }

    /// See [`crate::Limiter::block`].
    ///
    /// ```
    /// let l = ratewarden::blocking::Limiter::connect("memory://doc-b-block").unwrap();
    /// let d = l.block("bob", "/", "5/minute", std::time::Duration::from_secs(60)).unwrap();
    /// assert!(!d.allowed);
    /// ```
    pub fn block(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quota: impl IntoQuotas,
        duration: std::time::Duration,
    ) -> Result<Decision> {
        let us = crate::quota::block_us(duration)?;
        let q = quota.into_quotas()?;
        self.finish(self.inner.prepare_op(client_id, api_endpoint, q, us, None, Op::Block)?)
    }

    /// See [`crate::Limiter::reset`].
    ///
    /// ```
    /// let l = ratewarden::blocking::Limiter::connect("memory://doc-b-reset").unwrap();
    /// l.reset("bob", "/").unwrap();
    /// ```
    pub fn reset(&self, client_id: &str, api_endpoint: &str) -> Result<()> {
        self.finish(self.inner.prepare_reset(client_id, api_endpoint)?)
            .map(|_| ())
    }

    /// See [`crate::Limiter::check_with`].
    ///
    /// ```
    /// use ratewarden::{Algorithm, Quota};
    /// let l = ratewarden::blocking::Limiter::connect("memory://doc-b-with").unwrap();
    /// assert!(l.check_with("bob", "/", Quota::new(5, 5), 1, Algorithm::FixedWindow).unwrap().allowed);
    /// ```
    pub fn check_with(
        &self,
        client_id: &str,
        api_endpoint: &str,
        quota: impl IntoQuotas,
        cost: u64,
        algorithm: Algorithm,
    ) -> Result<Decision> {
        let q = quota.into_quotas()?;
        self.finish(
            self.inner
                .prepare_op(client_id, api_endpoint, q, cost, Some(algorithm), Op::Check)?,
        )
    }

    /// See [`crate::Limiter::check_all`].
    ///
    /// ```
    /// use ratewarden::{Limit, Quota};
    /// let l = ratewarden::blocking::Limiter::connect("memory://doc-b-all").unwrap();
    /// let m = l.check_all("bob", &[Limit::new("/a", Quota::new(5, 5)), Limit::new("*", Quota::new(50, 5))]).unwrap();
    /// assert!(m.allowed && m.decisions.len() == 2);
    /// ```
    pub fn check_all(&self, client_id: &str, limits: &[Limit<'_>]) -> Result<MultiDecision> {
        self.finish(self.inner.prepare_all(client_id, limits, None)?)
    }

    /// Test support; see `crate::Limiter::__check_all_at`. Not a stable API.
    #[doc(hidden)]
    pub fn __check_all_at(&self, now_us: u64, client_id: &str, limits: &[Limit<'_>]) -> Result<MultiDecision> {
        if now_us == 0 {
            return Err(Error::invalid_argument("now_us must be positive"));
        }
        self.finish(self.inner.prepare_all(client_id, limits, Some(now_us))?)
    }

    /// See [`crate::Limiter::check_policy`].
    ///
    /// ```
    /// use ratewarden::Policy;
    /// let l = ratewarden::blocking::Limiter::connect("memory://doc-b-policy").unwrap();
    /// l.set_policy("*", Policy::new(2, 1)).unwrap();
    /// assert_eq!(l.check_policy("bob", "/any", 1).unwrap().remaining, 1);
    /// ```
    pub fn check_policy(&self, client_id: &str, api_endpoint: &str, cost: u64) -> Result<Decision> {
        let (inner, c, e) = (self.inner.clone(), client_id.to_owned(), api_endpoint.to_owned());
        self.wait(async move { inner.check_policy(&c, &e, cost).await })
    }

    /// See [`crate::Limiter::resolved_policy`].
    pub fn resolved_policy(&self, api_endpoint: &str) -> Result<Policy> {
        let (inner, e) = (self.inner.clone(), api_endpoint.to_owned());
        self.wait(async move { inner.resolved_policy(&e).await })
    }

    /// See [`crate::Limiter::set_policy`].
    pub fn set_policy(&self, name: &str, policy: Policy) -> Result<()> {
        let (inner, n) = (self.inner.clone(), name.to_owned());
        self.wait(async move { inner.set_policy(&n, policy).await })
    }

    /// See [`crate::Limiter::delete_policy`].
    pub fn delete_policy(&self, name: &str) -> Result<()> {
        let (inner, n) = (self.inner.clone(), name.to_owned());
        self.wait(async move { inner.delete_policy(&n).await })
    }

    /// See [`crate::Limiter::policies`].
    pub fn policies(&self) -> Result<std::collections::HashMap<String, Policy>> {
        let inner = self.inner.clone();
        self.wait(async move { inner.policies().await })
    }

    /// See [`crate::Limiter::stats`].
    pub fn stats(&self) -> crate::Stats {
        self.inner.stats()
    }

    /// The limiter's default algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.algorithm()
    }

    /// See [`crate::Limiter::failure_mode`].
    pub fn failure_mode(&self) -> crate::FailureMode {
        self.inner.failure_mode()
    }

    /// See [`crate::Limiter::timeout`].
    ///
    /// ```
    /// let l = ratewarden::blocking::Limiter::connect("memory://").unwrap();
    /// assert_eq!(l.timeout(), std::time::Duration::from_secs(1));
    /// ```
    pub fn timeout(&self) -> Duration {
        self.inner.timeout()
    }

    /// See [`crate::Limiter::redis_key`].
    pub fn redis_key(&self, client_id: &str, api_endpoint: &str, quota: impl IntoQuotas) -> Option<Vec<u8>> {
        self.inner.redis_key(client_id, api_endpoint, quota)
    }

    fn would_deadlock() -> Option<Error> {
        runtime::blocking_would_deadlock().then(|| {
            Error::Usage(
                "a blocking ratewarden call was made on a thread of the runtime that must serve it; \
                 use ratewarden::Limiter (async) there, or tokio::task::spawn_blocking"
                    .into(),
            )
        })
    }

    pub(crate) fn finish<T: Answer>(&self, prepared: Prepared<T>) -> Result<T> {
        if let Prepared::Done(d) = prepared {
            return Ok(d);
        }
        if let Some(err) = Self::would_deadlock() {
            return Err(err);
        }
        // The connection's drivers answer within the deadline; this thread
        // only waits.
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        prepared.run_then(move |r| {
            let _ = tx.send(r);
        });
        let deadline = self.inner.backend_deadline();
        match rx.recv_timeout(deadline * 2 + Duration::from_secs(1)) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                Err(Error::timeout(deadline, "waiting for the runtime", true))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(Error::Internal("the decision was dropped unanswered".into()))
            }
        }
    }

    /// See [`crate::Limiter::ping`].
    ///
    /// ```
    /// ratewarden::blocking::Limiter::connect("memory://").unwrap().ping().unwrap();
    /// ```
    pub fn ping(&self) -> Result<()> {
        let inner = self.inner.clone();
        self.wait(async move { inner.ping().await })
    }

    /// The async limiter behind this one (same connection).
    ///
    /// ```
    /// let b = ratewarden::blocking::Limiter::connect("memory://").unwrap();
    /// let a: &ratewarden::Limiter = b.as_async();
    /// # let _ = a;
    /// ```
    pub fn as_async(&self) -> &crate::Limiter {
        &self.inner
    }

    fn wait<T, F>(&self, fut: F) -> Result<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        if let Some(err) = Self::would_deadlock() {
            return Err(err);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime::handle().spawn(async move {
            let _ = tx.send(fut.await);
        });
        // The task is bounded by the deadline already; the extra margin only
        // guards against a starved runtime.
        let deadline = self.inner.backend_deadline();
        match rx.recv_timeout(deadline * 2 + Duration::from_secs(1)) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                Err(Error::timeout(deadline, "waiting for the runtime", true))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::Internal(
                "the decision task ended without an answer (panic?)".into(),
            )),
        }
    }
}

impl From<crate::Limiter> for Limiter {
    fn from(inner: crate::Limiter) -> Self {
        Limiter { inner }
    }
}
