//! `ratewarden_stats`: a limiter's counters.
#![allow(non_camel_case_types)]

use crate::error::ratewarden_result;
use crate::ffi::{boundary, out_arg};
use crate::limiter::{limiter_ref, ratewarden_limiter};

/// A limiter's counters since it was created.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ratewarden_stats {
    /// Decisions that admitted (fallback decisions included).
    pub allowed: u64,
    /// Decisions that refused (fallback decisions included).
    pub denied: u64,
    /// Decisions that returned a backend error.
    pub errors: u64,
    /// Decisions taken by the failure mode instead of Redis.
    pub fallbacks: u64,
    /// Refusals answered by the local deny cache (no round trip).
    pub cache_hits: u64,
    /// Whether the circuit breaker is open now.
    pub circuit_open: bool,
    /// Backend decisions measured, and the sum of their latencies in µs.
    pub latency_count: u64,
    /// Sum of the measured latencies in microseconds.
    pub latency_sum_us: u64,
}

/// Write the limiter's counters to `*out`.
///
/// ```c
/// ratewarden_stats s;
/// if (ratewarden_get_stats(lim, &s) == RATEWARDEN_OK) printf("%llu fallbacks\n", (unsigned long long)s.fallbacks);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_get_stats(
    lim: *const ratewarden_limiter,
    out: *mut ratewarden_stats,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        let out = out_arg(out, "out")?;
        let s = l.stats();
        *out = ratewarden_stats {
            allowed: s.allowed,
            denied: s.denied,
            errors: s.errors,
            fallbacks: s.fallbacks,
            cache_hits: s.cache_hits,
            circuit_open: s.circuit_open,
            latency_count: s.latency_buckets.iter().map(|b| b.1).sum(),
            latency_sum_us: s.latency_sum_us,
        };
        Ok(())
    })
}
