//! A limiter's counters as a plain object.

use napi_derive::napi;

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
    /// Their histogram: each bucket's upper bound in seconds (the last is
    /// `Infinity`) and its count (not cumulative).
    pub latency_buckets: Vec<LatencyBucket>,
    /// All of it in the Prometheus text format.
    pub prometheus: String,
}

/// One bucket of the latency histogram.
#[napi(object)]
pub struct LatencyBucket {
    /// Upper bound in seconds; `Infinity` for the last.
    pub le: f64,
    /// Decisions in this bucket (not cumulative).
    pub count: f64,
}

impl From<ratewarden::Stats> for Stats {
    fn from(s: ratewarden::Stats) -> Self {
        Stats {
            allowed: s.allowed as f64,
            denied: s.denied as f64,
            errors: s.errors as f64,
            fallbacks: s.fallbacks as f64,
            cache_hits: s.cache_hits as f64,
            circuit_open: s.circuit_open,
            latency_count: s.latency_buckets.iter().map(|b| b.1).sum::<u64>() as f64,
            latency_sum_ms: s.latency_sum_us as f64 / 1000.0,
            latency_buckets: s
                .latency_buckets
                .iter()
                .map(|&(le, count)| LatencyBucket {
                    le: if le == u64::MAX { f64::INFINITY } else { le as f64 / 1e6 },
                    count: count as f64,
                })
                .collect(),
            prometheus: s.to_prometheus("ratewarden"),
        }
    }
}
