//! The counters behind [`Limiter::stats`](crate::Limiter::stats), their
//! Prometheus rendering, and the rate limit on repeated warnings.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
            "# TYPE {n}_deny_cache_hits_total counter\n{n}_deny_cache_hits_total {}\n",
            self.cache_hits
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_in_prometheus() {
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
