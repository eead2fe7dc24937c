//! What a limiter does when Redis does not answer: the failure mode, the
//! circuit breaker in front of the connection, and the counters behind
//! [`Limiter::stats`](crate::Limiter::stats).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};

/// What a decision returns when the backend cannot be reached (a
/// [`Connection`](ErrorKind::Connection) or [`Timeout`](ErrorKind::Timeout)
/// error, or an open circuit). Other errors are always returned.
///
/// Names, the same in every language: `error`, `allow`, `deny`, `local`.
///
/// ```
/// use ratewarden::FailureMode;
/// assert_eq!("local".parse::<FailureMode>().unwrap(), FailureMode::Local);
/// assert_eq!(FailureMode::default(), FailureMode::Error);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FailureMode {
    /// Return the error (the default): the caller decides.
    #[default]
    Error,
    /// Fail open: admit the request (`remaining` is reported as the capacity
    /// minus the cost).
    Allow,
    /// Fail closed: refuse it, with `retry_after` = when the circuit will try
    /// Redis again.
    Deny,
    /// An in-process limiter with the same algorithm takes over, with
    /// [`local_share`](crate::LimiterBuilder::local_share) of each quota,
    /// until Redis answers again.
    Local,
}

impl FailureMode {
    /// The canonical name.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureMode::Error => "error",
            FailureMode::Allow => "allow",
            FailureMode::Deny => "deny",
            FailureMode::Local => "local",
        }
    }
}

impl std::str::FromStr for FailureMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "error" => FailureMode::Error,
            "allow" => FailureMode::Allow,
            "deny" => FailureMode::Deny,
            "local" => FailureMode::Local,
            other => {
                return Err(Error::invalid_argument(format!(
                    "unknown failure mode {other:?}; expected error, allow, deny or local"
                )))
            }
        })
    }
}

impl std::fmt::Display for FailureMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an error means "the backend is unreachable" (trips the breaker,
/// triggers the failure mode).
pub(crate) fn is_outage(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout)
}

/// A circuit breaker: after `threshold` consecutive outages it opens and
/// calls fail at once for `open_for`; then one call at a time probes (half
/// open) until one succeeds.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u64,
    open_for: Duration,
    epoch: Instant,
    failures: AtomicU64,
    /// Microseconds since `epoch` until which the circuit is open (0: closed).
    open_until: AtomicU64,
}

impl Breaker {
    pub(crate) fn new(threshold: u64, open_for: Duration) -> Self {
        Breaker {
            threshold,
            open_for,
            epoch: Instant::now(),
            failures: AtomicU64::new(0),
            open_until: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64 + 1
    }

    /// May a call go to the backend now? `Err(wait)` while open. Once the
    /// open period has passed, one caller at a time is let through as a
    /// probe (the others keep failing fast for another period).
    pub(crate) fn admit(&self) -> Result<(), Duration> {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return Ok(());
        }
        let now = self.now();
        if now < until {
            return Err(Duration::from_micros(until - now));
        }
        // Half open: the caller that moves the deadline probes.
        let next = now + self.open_for.as_micros() as u64;
        match self
            .open_until
            .compare_exchange(until, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(()),
            Err(_) => Err(self.open_for),
        }
    }

    /// Reads only, on the hot path, unless something is to be reset.
    pub(crate) fn success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.open_until.load(Ordering::Acquire) != 0 && self.open_until.swap(0, Ordering::AcqRel) != 0 {
            tracing::warn!(target: "ratewarden", "Redis answers again: circuit closed");
        }
    }

    pub(crate) fn failure(&self) {
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= self.threshold && self.open_until.load(Ordering::Acquire) == 0 {
            let until = self.now() + self.open_for.as_micros() as u64;
            if self
                .open_until
                .compare_exchange(0, until, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                tracing::warn!(target: "ratewarden", failures = n, open_for = ?self.open_for,
                    "Redis unreachable: circuit open, calls fail fast until a probe succeeds");
            }
        }
    }

    #[cfg(test)]
    fn is_open(&self) -> bool {
        self.open_until.load(Ordering::Acquire) != 0
    }

    /// Open, and opened or probed within the last period: a breaker of a
    /// server that no call goes to any more (a cluster master replaced by a
    /// failover) stops counting once its probe is overdue by a period.
    fn is_open_recently(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        until != 0 && self.now() < until + self.open_for.as_micros() as u64
    }

    /// How long until the next probe (zero when closed or due).
    pub(crate) fn wait(&self) -> Duration {
        let until = self.open_until.load(Ordering::Acquire);
        Duration::from_micros(until.saturating_sub(self.now()))
    }
}

/// Upper bounds (µs) of the latency histogram's buckets; the last is +Inf.
pub const LATENCY_BUCKETS_US: [u64; 12] = [
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    100_000,
    1_000_000,
    u64::MAX,
];

/// Counters of one limiter (all its clones), since it was built.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) allowed: AtomicU64,
    pub(crate) denied: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) fallbacks: AtomicU64,
    pub(crate) cache_hits: AtomicU64,
    pub(crate) latency: [AtomicU64; LATENCY_BUCKETS_US.len()],
    pub(crate) latency_sum_us: AtomicU64,
}

impl Counters {
    pub(crate) fn decided(&self, allowed: bool) {
        if allowed {
            self.allowed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.denied.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn latency(&self, took: Duration) {
        let us = took.as_micros().min(u128::from(u64::MAX - 1)) as u64;
        let i = LATENCY_BUCKETS_US
            .iter()
            .position(|&le| us <= le)
            .unwrap_or(LATENCY_BUCKETS_US.len() - 1);
        self.latency[i].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, circuit_open: bool) -> Stats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            allowed: load(&self.allowed),
            denied: load(&self.denied),
            errors: load(&self.errors),
            fallbacks: load(&self.fallbacks),
            cache_hits: load(&self.cache_hits),
            circuit_open,
            latency_buckets: LATENCY_BUCKETS_US
                .iter()
                .zip(&self.latency)
                .map(|(&le, c)| (le, load(c)))
                .collect(),
            latency_sum_us: load(&self.latency_sum_us),
        }
    }
}

/// A limiter's counters ([`Limiter::stats`](crate::Limiter::stats)).
///
/// ```
/// let l = ratewarden::blocking::Limiter::connect("memory://doc-stats").unwrap();
/// l.is_allowed("a", "/e", 1, 1).unwrap();
/// l.is_allowed("a", "/e", 1, 1).unwrap();
/// let s = l.stats();
/// assert_eq!((s.allowed, s.denied), (1, 1));
/// assert!(s.to_prometheus("ratewarden").contains("ratewarden_decisions_total{result=\"denied\"} 1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Decisions that admitted (fallback decisions included).
    pub allowed: u64,
    /// Decisions that refused (fallback decisions included).
    pub denied: u64,
    /// Decisions that returned a backend error (invalid arguments, refused
    /// before any I/O, are not counted).
    pub errors: u64,
    /// Decisions taken by the failure mode instead of the backend.
    pub fallbacks: u64,
    /// Refusals answered by the local deny cache (no round trip).
    pub cache_hits: u64,
    /// Whether the circuit breaker is open now.
    pub circuit_open: bool,
    /// Latency histogram of backend decisions: (upper bound in µs, count);
    /// the last bound is `u64::MAX` (+Inf). Counts are per bucket, not
    /// cumulative.
    pub latency_buckets: Vec<(u64, u64)>,
    /// Sum of the latencies in the histogram, in µs.
    pub latency_sum_us: u64,
}

impl Stats {
    /// The counters in the Prometheus text exposition format, names
    /// prefixed with `namespace`.
    pub fn to_prometheus(&self, namespace: &str) -> String {
        let mut out = String::new();
        let n = namespace;
        out += &format!("# TYPE {n}_decisions_total counter\n");
        out += &format!("{n}_decisions_total{{result=\"allowed\"}} {}\n", self.allowed);
        out += &format!("{n}_decisions_total{{result=\"denied\"}} {}\n", self.denied);
        out += &format!("# TYPE {n}_errors_total counter\n{n}_errors_total {}\n", self.errors);
        out += &format!(
            "# TYPE {n}_fallbacks_total counter\n{n}_fallbacks_total {}\n",
            self.fallbacks
        );
        out += &format!(
            "# TYPE {n}_circuit_open gauge\n{n}_circuit_open {}\n",
            u8::from(self.circuit_open)
        );
        out += &format!("# TYPE {n}_decision_seconds histogram\n");
        let mut cumulative = 0;
        for &(le, c) in &self.latency_buckets {
            cumulative += c;
            let le = if le == u64::MAX {
                "+Inf".to_owned()
            } else {
                format!("{}", le as f64 / 1e6)
            };
            out += &format!("{n}_decision_seconds_bucket{{le=\"{le}\"}} {cumulative}\n");
        }
        out += &format!("{n}_decision_seconds_sum {}\n", self.latency_sum_us as f64 / 1e6);
        out += &format!("{n}_decision_seconds_count {cumulative}\n");
        out
    }
}

/// Warn about fallback decisions at most once a second.
#[derive(Debug, Default)]
pub(crate) struct WarnLimit(AtomicU64, std::sync::OnceLock<Instant>);

impl WarnLimit {
    pub(crate) fn should_warn(&self) -> bool {
        let epoch = *self.1.get_or_init(Instant::now);
        let now = epoch.elapsed().as_millis() as u64 + 1000;
        let last = self.0.load(Ordering::Relaxed);
        now.saturating_sub(last) >= 1000
            && self
                .0
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// Shared by a limiter's clones.
#[derive(Debug)]
pub(crate) struct Resilience {
    pub(crate) mode: FailureMode,
    pub(crate) local_share: f64,
    /// One circuit breaker per server ([`Remote::route`](crate::remote::Remote::route)
    /// modulo their number): on a cluster, one master down does not open
    /// the circuit for the others.
    pub(crate) breakers: Box<[Breaker]>,
    pub(crate) counters: Counters,
    pub(crate) warn: WarnLimit,
    /// The in-process limiter of `FailureMode::Local`.
    pub(crate) local: Arc<crate::memory::MemoryStore>,
}

/// Circuit breakers per limiter (cluster masters share them modulo this).
pub(crate) const BREAKERS: usize = 16;

impl Resilience {
    /// The breaker of the server numbered `route`.
    pub(crate) fn breaker(&self, route: usize) -> &Breaker {
        &self.breakers[route % self.breakers.len()]
    }

    /// True when any server's circuit is open (see `is_open_recently`).
    pub(crate) fn any_open(&self) -> bool {
        self.breakers.iter().any(Breaker::is_open_recently)
    }

    /// The answer of the failure mode to an outage `e` for `specs` (keys
    /// `keys`): `Err(e)` in mode `error`, else outcomes (`specs` returned
    /// are those the outcomes are measured against). `route` names the
    /// server that failed.
    pub(crate) fn fallback(
        &self,
        route: usize,
        e: Error,
        keys: &[Vec<u8>],
        specs: &[crate::algorithm::Spec],
    ) -> Result<(Vec<crate::algorithm::Outcome>, Vec<crate::algorithm::Spec>), Error> {
        use crate::algorithm::{Outcome, Spec};
        if self.mode == FailureMode::Error {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        let (outcomes, specs): (Vec<Outcome>, Vec<Spec>) = match self.mode {
            FailureMode::Allow => (
                specs
                    .iter()
                    .map(|s| Outcome {
                        ok: true,
                        remaining: s.capacity - s.cost,
                        retry_us: 0,
                        reset_us: 0,
                    })
                    .collect(),
                specs.to_vec(),
            ),
            FailureMode::Deny => {
                let wait = self.breaker(route).wait().max(Duration::from_millis(1)).as_micros() as u64;
                let outcomes = specs
                    .iter()
                    .map(|_| Outcome {
                        ok: false,
                        remaining: 0,
                        retry_us: wait,
                        reset_us: wait,
                    })
                    .collect();
                (outcomes, specs.to_vec())
            }
            _ => {
                let scaled: Vec<Spec> = specs.iter().map(|s| s.scaled(self.local_share)).collect();
                let names: Vec<String> = keys.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
                let limits: Vec<(&str, Spec)> = names.iter().map(String::as_str).zip(scaled.iter().copied()).collect();
                (self.local.decide("", &limits, None), scaled)
            }
        };
        self.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
        let admitted = outcomes.iter().all(|o| o.ok);
        self.counters.decided(admitted);
        if self.warn.should_warn() {
            tracing::warn!(target: "ratewarden", mode = %self.mode, "Redis unreachable ({e}); deciding by the failure mode");
        } else {
            tracing::debug!(target: "ratewarden", mode = %self.mode, "fallback decision: {e}");
        }
        Ok((outcomes, specs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_threshold_and_probes_one_at_a_time() {
        let b = Breaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            b.failure();
        }
        assert!(b.admit().is_ok() && !b.is_open());
        b.failure();
        assert!(b.is_open() && b.admit().is_err());
        std::thread::sleep(Duration::from_millis(35));
        assert!(b.admit().is_ok(), "the first caller after the period probes");
        assert!(b.admit().is_err(), "others keep failing fast");
        b.success();
        assert!(!b.is_open() && b.admit().is_ok());
    }

    #[test]
    fn names_parse_and_the_histogram_is_cumulative_in_prometheus() {
        for m in [
            FailureMode::Error,
            FailureMode::Allow,
            FailureMode::Deny,
            FailureMode::Local,
        ] {
            assert_eq!(m.as_str().parse::<FailureMode>().unwrap(), m);
        }
        assert!("open".parse::<FailureMode>().is_err());
        let c = Counters::default();
        c.latency(Duration::from_micros(40));
        c.latency(Duration::from_micros(400));
        c.latency(Duration::from_secs(5));
        let text = c.snapshot(false).to_prometheus("rw");
        assert!(
            text.contains("rw_decision_seconds_bucket{le=\"0.00005\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("rw_decision_seconds_bucket{le=\"0.0005\"} 2\n"), "{text}");
        assert!(text.contains("rw_decision_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("rw_decision_seconds_count 3\n"));
    }
}
