//! How a [`Limiter`] is made: [`Limiter::connect`], [`Limiter::builder`] and
//! [`LimiterBuilder`] — a URL and [`LimiterOptions`] in, a limiter out.

use std::sync::Arc;
use std::time::Duration;

use crate::algorithm::Algorithm;
use crate::backend::memory::MemoryStore;
use crate::backend::Backend;
use crate::error::Result;
use crate::limiter::options::{LimiterOptions, OptionValue, Spelling};
use crate::limiter::{Inner, Limiter};
use crate::policy::{PolicyTable, RedisNames};
use crate::resilience::deny_cache::DenyCache;
use crate::resilience::{Breaker, Counters, FailureMode, Resilience, WarnLimit};

impl Limiter {
    pub(crate) fn from_parts(inner: Inner) -> Self {
        Limiter { inner: Arc::new(inner) }
    }

    /// A limiter for `url` with default options: `memory://` (or
    /// `memory://NAME`, shared by all limiters of this process with that
    /// URL), `redis://[user:pass@]host:port[/db]` or `rediss://…` (TLS; add
    /// `#insecure` to skip certificate checks), `redis+cluster://h:p,h:p`,
    /// `redis+sentinel://h:p,h:p/master[/db]`, and their TLS twins
    /// `rediss+cluster://` and `rediss+sentinel://` (every node and Sentinel
    /// over TLS).
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
        LimiterBuilder::new(url)
    }
}

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
    options: LimiterOptions,
}

impl LimiterBuilder {
    /// Entries of the local deny cache (default 10,000; 0 turns it off): a
    /// single-limit refusal is answered locally until its `retry_after`,
    /// without a round trip — for a request of the same quota and the same or
    /// a larger cost only, so it never refuses what Redis would admit except
    /// for the reply's one-way latency, and never admits anything. See the
    /// README ("Running in production") for what it cannot see.
    pub fn deny_cache(mut self, entries: usize) -> Self {
        self.options.deny_cache = entries;
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
        self.options.failure_mode = mode;
        self
    }

    /// The share of each quota the in-process limiter of
    /// [`FailureMode::Local`] grants (0 < share <= 1; default 1.0). With N
    /// instances sharing a limit, `1 / N` keeps the total near the limit
    /// while Redis is away.
    pub fn local_share(mut self, share: f64) -> Self {
        self.options.local_share = share;
        self
    }

    /// Consecutive outages (connection errors, timeouts) that open the
    /// circuit (default 3; 1..=1000). There is one circuit per server: on a
    /// Redis Cluster, a master that is down opens only its own.
    pub fn breaker_threshold(mut self, n: u64) -> Self {
        self.options.breaker_threshold = n;
        self
    }

    /// How long the circuit stays open before one call probes Redis again
    /// (default 500 ms; 1 ms..=1 h).
    pub fn breaker_open_for(mut self, d: Duration) -> Self {
        self.options.breaker_open_for = d;
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
        self.options.algorithm = algorithm;
        self
    }

    /// The deadline of every call, end to end (default 1 s; 1 ms..=1 h).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Prefix of every Redis key (default `ratewarden:`; no braces, ≤ 128 bytes).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.key_prefix = prefix.into();
        self
    }

    /// Bound on calls outstanding on the connection (default 1024). While
    /// every slot is taken, up to 4 × `n` more calls wait for one (within
    /// their deadline); a call beyond that fails at once with a
    /// [`Timeout`](crate::ErrorKind::Timeout) that sent nothing.
    ///
    /// ```
    /// let b = ratewarden::Limiter::builder("redis://127.0.0.1:6379").max_in_flight(256);
    /// # drop(b);
    /// ```
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.options.max_in_flight = n;
        self
    }

    /// Trust this CA certificate (PEM) for `rediss://` (and
    /// `rediss+cluster://`, `rediss+sentinel://`: every node and Sentinel)
    /// instead of the system's trust store.
    ///
    /// ```
    /// let b = ratewarden::Limiter::builder("rediss://redis.internal:6380")
    ///     .tls_root_cert_pem(b"-----BEGIN CERTIFICATE-----\n...".to_vec());
    /// # let _ = b;
    /// ```
    pub fn tls_root_cert_pem(mut self, pem: Vec<u8>) -> Self {
        self.options.tls.root_cert = Some(pem);
        self
    }

    /// Present this client certificate (PEM) and its private key (PEM:
    /// PKCS#8, PKCS#1 or SEC1) to servers that require one (Redis
    /// `tls-auth-clients yes`: mutual TLS), on `rediss://` and every node
    /// and Sentinel of `rediss+cluster://` and `rediss+sentinel://`.
    ///
    /// ```
    /// let b = ratewarden::Limiter::builder("rediss://redis.internal:6380").tls_client_cert_pem(
    ///     b"-----BEGIN CERTIFICATE-----\n...".to_vec(),
    ///     b"-----BEGIN PRIVATE KEY-----\n...".to_vec(),
    /// );
    /// # let _ = b;
    /// ```
    pub fn tls_client_cert_pem(mut self, cert: Vec<u8>, key: Vec<u8>) -> Self {
        self.options.tls.client_cert = Some(cert);
        self.options.tls.client_key = Some(key);
        self
    }

    /// Validate the options and build the limiter. Does not wait for Redis:
    /// a first connection attempt starts in the background, and calls made
    /// while Redis is unreachable fail within their deadline.
    pub fn build(self) -> Result<Limiter> {
        let o = self.options;
        o.validate()?;
        let backend = Backend::open(&self.url, o.timeout, o.max_in_flight, &o.tls)?;
        let policies = match &backend {
            Backend::Memory(store) => store.policies.clone(),
            _ => Arc::new(PolicyTable::default()),
        };
        Ok(Limiter::from_parts(Inner {
            backend,
            names: RedisNames::new(&o.key_prefix),
            prefix: o.key_prefix,
            timeout: o.timeout,
            algorithm: o.algorithm,
            policies,
            deny: (o.deny_cache > 0).then(|| Arc::new(DenyCache::new(o.deny_cache))),
            res: Arc::new(Resilience {
                mode: o.failure_mode,
                local_share: o.local_share,
                breakers: (0..crate::resilience::BREAKERS)
                    .map(|_| Breaker::new(o.breaker_threshold, o.breaker_open_for))
                    .collect(),
                counters: Counters::default(),
                warn: WarnLimit::default(),
                local: Arc::new(MemoryStore::new()),
            }),
        }))
    }

    /// Set an option by name, in any language's spelling (see
    /// [`OPTIONS`](crate::OPTIONS)), checking it now. Language bindings pass
    /// their users' options through here.
    ///
    /// ```
    /// let l = ratewarden::Limiter::builder("memory://").option("timeoutMs", 300u64).unwrap().build().unwrap();
    /// assert_eq!(l.timeout(), std::time::Duration::from_millis(300));
    /// ```
    pub fn option(mut self, name: &str, value: impl Into<OptionValue>) -> Result<Self> {
        self.options.set(name, value)?;
        Ok(self)
    }

    /// [`option`](Self::option) by the name in `spelling` only (see
    /// [`LimiterOptions::set_as`]).
    pub fn option_as(mut self, spelling: Spelling, name: &str, value: impl Into<OptionValue>) -> Result<Self> {
        self.options.set_as(spelling, name, value)?;
        Ok(self)
    }

    /// Replace every option with `options`.
    pub fn options(mut self, options: LimiterOptions) -> Self {
        self.options = options;
        self
    }

    /// A builder for `url` with the default options.
    pub(crate) fn new(url: &str) -> Self {
        LimiterBuilder {
            url: url.to_owned(),
            options: LimiterOptions::default(),
        }
    }
}
