//! `stats()` as a dict (the same fields in `Limiter` and `AsyncLimiter`).

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `stats()` as a dict.
pub(crate) fn stats_dict(py: Python<'_>, s: ratewarden::Stats) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("allowed", s.allowed)?;
    d.set_item("denied", s.denied)?;
    d.set_item("errors", s.errors)?;
    d.set_item("fallbacks", s.fallbacks)?;
    d.set_item("cache_hits", s.cache_hits)?;
    d.set_item("circuit_open", s.circuit_open)?;
    d.set_item("latency_count", s.latency_buckets.iter().map(|b| b.1).sum::<u64>())?;
    d.set_item("latency_sum_seconds", s.latency_sum_us as f64 / 1e6)?;
    // (upper bound in seconds, count in that bucket), the last bound inf.
    let buckets: Vec<(f64, u64)> = s
        .latency_buckets
        .iter()
        .map(|&(le, c)| (if le == u64::MAX { f64::INFINITY } else { le as f64 / 1e6 }, c))
        .collect();
    d.set_item("latency_buckets", buckets)?;
    d.set_item("prometheus", s.to_prometheus("ratewarden"))?;
    Ok(d)
}
