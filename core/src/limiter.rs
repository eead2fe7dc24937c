//! The async [`Limiter`] and its builder: URL → backend, validation, keys, and
//! the decision itself.

use std::sync::Arc;
use std::time::Duration;

use crate::connection::RedisConnection;
use crate::error::{Error, Result};
use crate::keys;
use crate::memory::MemoryStore;
use crate::quota::{validate_call, Decision, Quota};
use crate::runtime;
use crate::script::SLIDING_WINDOW_LOG;

/// Default per-call deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default bound on calls outstanding on one limiter's connection.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// Key tag of the sliding-window log.
const SWL: &str = "swl";

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
}

impl LimiterBuilder {
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
        let backend = if let Some(name) = self.url.strip_prefix("memory://") {
            Backend::Memory(MemoryStore::named(name))
        } else if self.url.starts_with("redis://") || self.url.starts_with("rediss://") {
            let conn = RedisConnection::new(&self.url, self.timeout, self.max_in_flight, self.tls_root_cert)?;
            conn.warm_up();
            Backend::Redis(conn)
        } else if self.url.starts_with("redis+cluster://") || self.url.starts_with("redis+sentinel://") {
            return Err(Error::config(format!(
                "{} is not supported yet; use redis://, rediss:// or memory://",
                scheme(&self.url)
            )));
        } else {
            return Err(Error::config(format!(
                "unknown URL scheme in {:?}; expected memory://, redis:// or rediss://",
                scheme(&self.url)
            )));
        };
        Ok(Limiter {
            inner: Arc::new(Inner {
                backend,
                prefix: self.key_prefix,
                timeout: self.timeout,
            }),
        })
    }
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
}

#[derive(Debug)]
enum Backend {
    Memory(Arc<MemoryStore>),
    Redis(RedisConnection),
}

/// A decision that is either known already (memory) or needs Redis.
pub(crate) enum Prepared {
    Done(Decision),
    Redis {
        conn: RedisConnection,
        key: Vec<u8>,
        args: [u64; 4],
    },
}

impl Prepared {
    /// Finish the decision. Runs on the core runtime.
    pub(crate) async fn run(self) -> Result<Decision> {
        match self {
            Prepared::Done(d) => Ok(d),
            Prepared::Redis { conn, key, args } => {
                let reply = conn.eval(&SLIDING_WINDOW_LOG, &[&key], &args).await?;
                let d = parse_reply(&reply, args[0])?;
                tracing::trace!(target: "ratewarden", key = %String::from_utf8_lossy(&key), allowed = d.allowed, remaining = d.remaining, "decision");
                Ok(d)
            }
        }
    }
}

fn parse_reply(reply: &[i64], limit: u64) -> Result<Decision> {
    let [allowed, remaining, retry_us, reset_us] = *reply else {
        return Err(Error::Internal(format!("unexpected script reply {reply:?}")));
    };
    let nonneg = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(Decision {
        allowed: allowed == 1,
        limit,
        remaining: nonneg(remaining),
        retry_after: Duration::from_micros(nonneg(retry_us)),
        reset_after: Duration::from_micros(nonneg(reset_us)),
    })
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
        let prepared = self.prepare(client_id, api_endpoint, quota, cost)?;
        match prepared {
            Prepared::Done(d) => Ok(d),
            p if runtime::on_core_worker() => p.run().await,
            p => runtime::handle()
                .spawn(p.run())
                .await
                .map_err(|e| Error::Internal(format!("decision task failed: {e}")))?,
        }
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
                runtime::handle()
                    .spawn(async move { conn.ping().await })
                    .await
                    .map_err(|e| Error::Internal(format!("ping task failed: {e}")))?
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

    /// The Redis key a decision for (`client_id`, `api_endpoint`) uses, for
    /// inspection and tests (`None` for the memory backend).
    ///
    /// ```
    /// let l = ratewarden::Limiter::builder("redis://127.0.0.1:1").build().unwrap();
    /// let key = l.redis_key("a", "b").unwrap();
    /// assert!(key.starts_with(b"ratewarden:{"));
    /// ```
    pub fn redis_key(&self, client_id: &str, api_endpoint: &str) -> Option<Vec<u8>> {
        match self.inner.backend {
            Backend::Memory(_) => None,
            Backend::Redis(_) => Some(keys::key(&self.inner.prefix, SWL, client_id, api_endpoint)),
        }
    }

    /// Validate and do everything that needs no I/O.
    pub(crate) fn prepare(&self, client_id: &str, api_endpoint: &str, quota: Quota, cost: u64) -> Result<Prepared> {
        validate_call(client_id, api_endpoint, &quota, cost)?;
        match &self.inner.backend {
            Backend::Memory(store) => {
                let d = store.check(client_id, api_endpoint, quota, cost);
                tracing::trace!(target: "ratewarden", client_id, api_endpoint, allowed = d.allowed, remaining = d.remaining, "decision");
                Ok(Prepared::Done(d))
            }
            Backend::Redis(conn) => Ok(Prepared::Redis {
                conn: conn.clone(),
                key: keys::key(&self.inner.prefix, SWL, client_id, api_endpoint),
                args: [quota.capacity, quota.window_us(), cost, quota.log_bucket_us()],
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
        assert_eq!(kind(Limiter::builder("redis+cluster://a:1,b:2")), Config);
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
    fn replies_are_parsed_defensively() {
        let d = parse_reply(&[1, 4, 0, 900], 5).unwrap();
        assert!(d.allowed && d.remaining == 4 && d.reset_after == Duration::from_micros(900));
        assert!(parse_reply(&[1, 2], 5).is_err());
        assert_eq!(parse_reply(&[0, -1, -5, 3], 5).unwrap().remaining, 0);
    }
}
