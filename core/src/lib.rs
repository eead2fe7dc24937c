//! # ratewarden
//!
//! Exact distributed rate limiting: many processes, in many languages, ask
//! *"may this client call this endpoint now?"* and get one consistent answer,
//! because the state lives in Redis and each decision is one atomic Lua
//! script timed by the Redis server's clock.
//!
//! ```
//! use ratewarden::{blocking::Limiter, Quota};
//!
//! // memory:// is the embedded default; use "redis://127.0.0.1:6379" to share state.
//! let limiter = Limiter::connect("memory://crate-doc").unwrap();
//! for _ in 0..3 {
//!     assert!(limiter.is_allowed("alice", "/search", 3, 3).unwrap());
//! }
//! let d = limiter.check("alice", "/search", Quota::new(3, 3), 1).unwrap();
//! assert!(!d.allowed);
//! assert_eq!(d.retry_after_secs(), 1);
//! ```
//!
//! ## Semantics
//!
//! `capacity` and `rate_per_second` define a window `W = capacity / rate`
//! (rounded up to whole microseconds). The sliding-window log admits a
//! request iff fewer than `capacity` units were admitted in the trailing
//! window `(now - W, now]`; a request of `cost` k is admitted whole or not at
//! all. With `capacity == rate` this reads "at most N per sliding second".
//!
//! ## Granularity and memory
//!
//! Up to `capacity` 127 the log is exact: one 16-byte timestamp per admitted
//! unit in one Redis string (≤ 2 KB), so simultaneous requests are never
//! lost. Above that, admissions are counted in sorted-set buckets of `W/120`:
//! an entry stays counted until its *latest* request leaves the window, so a
//! request can be counted up to `W/120` too long. The limiter may therefore
//! refuse slightly early at the trailing edge of the window (by at most the
//! admissions of one bucket), and never admits more than the rule allows. A
//! key holds at most ~125 entries and stays in Redis's compact listpack
//! encoding: about 2–4 KB even at capacity 1,000,000.
//!
//! ## Algorithms and multi-limit checks
//!
//! [`Algorithm`] picks the rule per limiter ([`LimiterBuilder::algorithm`])
//! or per call ([`Limiter::check_with`]); [`Limiter::check_all`] checks
//! several [`Limit`]s of one client in one atomic step.
//!
//! ## Layers
//!
//! ```text
//! limiter/     the public API: Limiter (connect, builder and every
//!              operation), LimiterBuilder, LimiterOptions (every option,
//!              checked once), Decision (and its rendering), Limit /
//!              MultiDecision, and the decision path
//! blocking     the same Limiter for synchronous code
//! policy/      live named limits: the Policy type, the in-process table,
//!              the Redis store and its watcher
//! http/        web middleware's shared part: the client key of a
//!              request, a route's Rule and the Verdict (status, headers,
//!              body) every language sends
//! resilience/  failure modes, circuit breaker, deny cache, stats
//! backend/     memory:// and redis/ {connection, queue, batch, script, keys,
//!              url, sentinel, cluster/ {slot_map, redirect}}
//! algorithm/   the algorithms by name, what a limit hands the script, the
//!              Lua sources (one file per algorithm, joined into one script),
//!              and their in-process twin
//! quota        the question (Quota) and argument validation
//! runtime      the one process-wide tokio runtime
//! error        one error type; the kind table every binding derives from
//! ```
//!
//! Each layer uses only those below it; `core/tests/layers.rs` fails on an
//! import cycle between files.
//!
//! * [`Limiter`] (async) and [`blocking::Limiter`] share one connection
//!   manager per limiter and one process-wide [`runtime`].
//! * Errors are one [`Error`] enum with a small [`ErrorKind`] set that the C,
//!   Python and Node bindings mirror one-for-one.

#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod algorithm;
mod backend;
pub mod blocking;
mod error;
pub mod http;
mod limiter;
pub mod logging;
pub mod policy;
mod quota;
mod resilience;
pub mod runtime;

pub use algorithm::spec::{EXACT_LOG_MAX_CAPACITY, LOG_BUCKETS};
pub use algorithm::Algorithm;
pub use backend::redis::keys::{DEFAULT_PREFIX, MAX_PREFIX_LEN};
pub use error::{Error, ErrorKind, Result};
pub use limiter::decision::{Decision, HeaderSet};
pub use limiter::options::{
    duration_from_ms, duration_from_secs, option_info, option_info_as, LimiterOptions, OptionInfo, OptionKind,
    OptionValue, Spelling, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, OPTIONS,
};
pub use limiter::{Limit, Limiter, LimiterBuilder, MultiDecision, MAX_LIMITS_PER_CHECK};
pub use policy::Policy;
pub use quota::{IntoQuotas, Quota, Quotas, MAX_ID_LEN, MAX_LIMIT, MAX_PERIOD, MAX_QUOTAS, MIN_PERIOD};
pub use resilience::{FailureMode, Stats, LATENCY_BUCKETS_US};

/// Pieces for `ratewarden bench`'s bare-client ceiling. Not a stable API.
#[doc(hidden)]
pub mod __bench {
    use crate::Quota;

    /// The Redis Cluster hash slot of `key`.
    pub fn slot(key: &[u8]) -> u16 {
        crate::backend::redis::keys::slot(key)
    }

    /// The script source (every algorithm, batched).
    pub fn script() -> &'static str {
        crate::backend::redis::script::RATEWARDEN.body
    }

    /// ARGV for one single-limit decision of `quota` and `cost` with
    /// `algorithm` (batch of one, server time).
    pub fn single_args(algorithm: crate::Algorithm, quota: Quota, cost: u64) -> Vec<u64> {
        let spec = crate::algorithm::Spec::new(algorithm, quota, cost);
        let mut args = vec![0, 1, 1];
        args.extend(spec.args());
        args
    }
}
