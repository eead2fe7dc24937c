//! The limiter handle, its options, and the decisions.
#![allow(non_camel_case_types)]

use std::ffi::c_char;
use std::time::Duration;

use ratewarden::blocking::Limiter;
use ratewarden::{Algorithm, Limit, Quota};

use crate::error::ratewarden_result;
use crate::ffi::{boundary, out_arg, str_arg, ArgError};

/// An opaque rate limiter. Create with `ratewarden_limiter_new` or
/// `ratewarden_limiter_new_with_options`, release with
/// `ratewarden_limiter_free`.
///
/// Thread safety: one limiter may be used from any number of threads at once;
/// all of them share its one Redis connection (calls are pipelined).
pub struct ratewarden_limiter {
    _private: [u8; 0],
}

/// Opaque options for `ratewarden_limiter_new_with_options`. Not thread-safe
/// while being modified; free with `ratewarden_options_free`.
pub struct ratewarden_options {
    _private: [u8; 0],
}

struct Options {
    timeout: Option<Duration>,
    key_prefix: Option<String>,
    max_in_flight: Option<usize>,
    tls_root_cert_pem: Option<Vec<u8>>,
    algorithm: Option<Algorithm>,
    failure_mode: Option<ratewarden::FailureMode>,
    local_share: Option<f64>,
    deny_cache: Option<usize>,
}

/// The full answer to one check.
///
/// ```c
/// ratewarden_decision d;
/// if (ratewarden_check(lim, "alice", "/upload", 10, 1, 3, &d) == RATEWARDEN_OK && !d.allowed)
///     printf("Retry-After: %llu\n", (unsigned long long)((d.retry_after_us + 999999) / 1000000));
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ratewarden_decision {
    /// Whether the request (all of its cost) was admitted.
    pub allowed: bool,
    /// The capacity that applied.
    pub limit: u64,
    /// Units that could still be admitted right now.
    pub remaining: u64,
    /// 0 when allowed; else microseconds until a request of the same cost
    /// would be admitted if nobody else takes the room first.
    pub retry_after_us: u64,
    /// Microseconds until the window is empty again.
    pub reset_after_us: u64,
}

impl From<ratewarden::Decision> for ratewarden_decision {
    fn from(d: ratewarden::Decision) -> Self {
        ratewarden_decision {
            allowed: d.allowed,
            limit: d.limit,
            remaining: d.remaining,
            retry_after_us: u64::try_from(d.retry_after.as_micros()).unwrap_or(u64::MAX),
            reset_after_us: u64::try_from(d.reset_after.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

/// One limit of `ratewarden_check_all`.
///
/// ```c
/// ratewarden_limit limits[2] = {
///     { .api_endpoint = "/search", .capacity = 10, .rate_per_second = 10, .cost = 1, .algorithm = NULL },
///     { .api_endpoint = "*", .capacity = 1200, .rate_per_second = 20, .cost = 1, .algorithm = "gcra" },
/// };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ratewarden_limit {
    /// The scope: an endpoint, or any label such as "*" (UTF-8, 1..=512 bytes).
    pub api_endpoint: *const c_char,
    /// Burst size, 1..=1e9.
    pub capacity: u64,
    /// Sustained rate per second, 1..=1e9.
    pub rate_per_second: u64,
    /// Units this request counts as here, 1..=capacity.
    pub cost: u64,
    /// An algorithm name, or NULL for the limiter's.
    pub algorithm: *const c_char,
}

/// An optional algorithm name (NULL = none).
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string.
unsafe fn algorithm_arg(p: *const c_char, name: &str) -> Result<Option<Algorithm>, ArgError> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { str_arg(p, name) }?;
    Ok(Some(s.parse()?))
}

fn limiter_ref<'a>(lim: *const ratewarden_limiter) -> Result<&'a Limiter, ArgError> {
    // SAFETY: a non-NULL `lim` came from ratewarden_limiter_new* and has not
    // been freed (caller's contract).
    unsafe { lim.cast::<Limiter>().as_ref() }
        .ok_or_else(|| ArgError(ratewarden_result::RATEWARDEN_NULL_PARAMETER, "limiter is NULL".into()))
}

/// Create a limiter for `url` with default options: `"memory://"` (embedded,
/// shared by every limiter of this process with the same URL),
/// `"redis://[user:pass@]host:port[/db]"` or `"rediss://..."` (TLS). Does not
/// wait for Redis: calls made while it is unreachable fail within their
/// deadline (default 1 s).
///
/// On success writes a new handle to `*out`; free it with
/// `ratewarden_limiter_free`. Returns `RATEWARDEN_NULL_PARAMETER` if `url` or
/// `out` is NULL, `RATEWARDEN_INVALID_UTF8`, or `RATEWARDEN_CONFIG` for a bad
/// URL; `*out` is untouched on failure.
///
/// ```c
/// ratewarden_limiter *lim = NULL;
/// if (ratewarden_limiter_new("redis://127.0.0.1:6379", &lim) != RATEWARDEN_OK) { ... }
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_limiter_new(
    url: *const c_char,
    out: *mut *mut ratewarden_limiter,
) -> ratewarden_result {
    // SAFETY: forwarded caller contract; NULL options mean defaults.
    unsafe { ratewarden_limiter_new_with_options(url, std::ptr::null(), out) }
}

/// Like `ratewarden_limiter_new`, with options (`opts` may be NULL for the
/// defaults). The options are copied; `opts` may be freed right after.
///
/// ```c
/// ratewarden_options *o = NULL;
/// ratewarden_options_new(&o);
/// ratewarden_options_set_timeout_ms(o, 250);
/// ratewarden_options_set_key_prefix(o, "myapp:rl:");
/// ratewarden_limiter_new_with_options("redis://127.0.0.1:6379", o, &lim);
/// ratewarden_options_free(o);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_limiter_new_with_options(
    url: *const c_char,
    opts: *const ratewarden_options,
    out: *mut *mut ratewarden_limiter,
) -> ratewarden_result {
    boundary(|| {
        // SAFETY: caller contract (NUL-terminated or NULL).
        let url = unsafe { str_arg(url, "url") }?;
        let out = out_arg(out, "out")?;
        let mut builder = Limiter::builder(url);
        // SAFETY: a non-NULL opts came from ratewarden_options_new.
        if let Some(o) = unsafe { opts.cast::<Options>().as_ref() } {
            if let Some(t) = o.timeout {
                builder = builder.timeout(t);
            }
            if let Some(p) = &o.key_prefix {
                builder = builder.key_prefix(p.clone());
            }
            if let Some(n) = o.max_in_flight {
                builder = builder.max_in_flight(n);
            }
            if let Some(pem) = &o.tls_root_cert_pem {
                builder = builder.tls_root_cert_pem(pem.clone());
            }
            if let Some(a) = o.algorithm {
                builder = builder.algorithm(a);
            }
            if let Some(m) = o.failure_mode {
                builder = builder.failure_mode(m);
            }
            if let Some(share) = o.local_share {
                builder = builder.local_share(share);
            }
            if let Some(n) = o.deny_cache {
                builder = builder.deny_cache(n);
            }
        }
        let limiter = builder.build()?;
        *out = Box::into_raw(Box::new(limiter)).cast();
        Ok(())
    })
}

/// Release a limiter. NULL is a no-op. The handle must not be in use by
/// another thread and must not be used afterwards.
///
/// ```c
/// ratewarden_limiter_free(lim);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_limiter_free(lim: *mut ratewarden_limiter) {
    if lim.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: came from Box::into_raw in ratewarden_limiter_new*, freed once.
        drop(unsafe { Box::from_raw(lim.cast::<Limiter>()) });
    });
}

/// May `client` call `endpoint` now, under `capacity` at once and
/// `rate_per_second` sustained? Counts the request if so and writes the answer
/// to `*allowed` (only on success).
///
/// Blocks the calling thread for at most the limiter's deadline. Returns
/// `RATEWARDEN_OK`, `RATEWARDEN_NULL_PARAMETER`, `RATEWARDEN_INVALID_UTF8`,
/// `RATEWARDEN_INVALID_ARGUMENT` (ids of 1–512 bytes; capacity and rate
/// 1–1e9), `RATEWARDEN_CONNECTION`, `RATEWARDEN_TIMEOUT`, `RATEWARDEN_SERVER`.
///
/// ```c
/// bool ok;
/// if (ratewarden_is_allowed(lim, "alice", "GET /search", 10, 10, &ok) == RATEWARDEN_OK && !ok)
///     return respond_429();
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_is_allowed(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    capacity: u64,
    rate_per_second: u64,
    allowed: *mut bool,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let client = unsafe { str_arg(client, "client") }?;
        // SAFETY: as above.
        let endpoint = unsafe { str_arg(endpoint, "endpoint") }?;
        let allowed = out_arg(allowed, "allowed")?;
        *allowed = l.is_allowed(client, endpoint, capacity, rate_per_second)?;
        Ok(())
    })
}

/// The full decision for a request of `cost` units (all or nothing), written
/// to `*out` only on success. Same codes as `ratewarden_is_allowed`; cost
/// must be 1..=capacity.
///
/// A `RATEWARDEN_TIMEOUT` means the outcome is unknown: the decision may have
/// been taken on the server.
///
/// ```c
/// ratewarden_decision d;
/// ratewarden_result r = ratewarden_check(lim, "alice", "/upload", 100, 10, 5, &d);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_check(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    capacity: u64,
    rate_per_second: u64,
    cost: u64,
    out: *mut ratewarden_decision,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let client = unsafe { str_arg(client, "client") }?;
        // SAFETY: as above.
        let endpoint = unsafe { str_arg(endpoint, "endpoint") }?;
        let out = out_arg(out, "out")?;
        let d = l.check(client, endpoint, Quota::new(capacity, rate_per_second), cost)?;
        *out = d.into();
        Ok(())
    })
}

/// `ratewarden_check` with an algorithm other than the limiter's:
/// "sliding_window_log", "sliding_window_counter", "fixed_window",
/// "token_bucket", "gcra" or "leaky_bucket" (NULL = the limiter's). An
/// unknown name is `RATEWARDEN_INVALID_ARGUMENT`.
///
/// ```c
/// ratewarden_decision d;
/// ratewarden_check_with_algorithm(lim, "alice", "/upload", 100, 10, 1, "token_bucket", &d);
/// ```
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ratewarden_check_with_algorithm(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    capacity: u64,
    rate_per_second: u64,
    cost: u64,
    algorithm: *const c_char,
    out: *mut ratewarden_decision,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let client = unsafe { str_arg(client, "client") }?;
        // SAFETY: as above.
        let endpoint = unsafe { str_arg(endpoint, "endpoint") }?;
        // SAFETY: as above.
        let algorithm = unsafe { algorithm_arg(algorithm, "algorithm") }?.unwrap_or(l.algorithm());
        let out = out_arg(out, "out")?;
        let d = l.check_with(client, endpoint, Quota::new(capacity, rate_per_second), cost, algorithm)?;
        *out = d.into();
        Ok(())
    })
}

/// Decide by the policy stored for `endpoint` (or the default policy "*"),
/// written to `*out` only on success. No policy and no default is
/// `RATEWARDEN_INVALID_ARGUMENT`. Policies are set with
/// `ratewarden_set_policy` or `ratewarden policy set`; a change reaches
/// every running limiter within 1 s.
///
/// ```c
/// ratewarden_decision d;
/// ratewarden_check_policy(lim, "alice", "/users", 1, &d);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_check_policy(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    cost: u64,
    out: *mut ratewarden_decision,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let client = unsafe { str_arg(client, "client") }?;
        // SAFETY: as above.
        let endpoint = unsafe { str_arg(endpoint, "endpoint") }?;
        let out = out_arg(out, "out")?;
        *out = l.check_policy(client, endpoint, cost)?.into();
        Ok(())
    })
}

/// Store a policy named `name` (an endpoint, or "*" for the default) for
/// every limiter on this backend and key prefix. `algorithm` may be NULL
/// (the deciding limiter's).
///
/// ```c
/// ratewarden_set_policy(lim, "/users", 100, 50, "gcra");
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_set_policy(
    lim: *const ratewarden_limiter,
    name: *const c_char,
    capacity: u64,
    rate_per_second: u64,
    algorithm: *const c_char,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: as above.
        let algorithm = unsafe { algorithm_arg(algorithm, "algorithm") }?;
        let mut p = ratewarden::Policy::new(capacity, rate_per_second);
        if let Some(a) = algorithm {
            p = p.algorithm(a);
        }
        l.set_policy(name, p)?;
        Ok(())
    })
}

/// Remove the policy named `name` (no-op if absent).
///
/// ```c
/// ratewarden_delete_policy(lim, "/users");
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_delete_policy(
    lim: *const ratewarden_limiter,
    name: *const c_char,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let name = unsafe { str_arg(name, "name") }?;
        l.delete_policy(name)?;
        Ok(())
    })
}

/// Several limits for one client in one atomic step (one round trip):
/// admitted only if every limit has room, and then counted in all of them.
/// `limits` points to `n` limits (1..=16, distinct scope/algorithm pairs);
/// on success `*allowed` is the answer, `decisions` (room for `n`) gets one
/// decision per limit (`allowed` there: whether that limit alone had room),
/// and `*limiting` the index of the deciding limit (NULL to skip it).
///
/// ```c
/// ratewarden_decision ds[2]; bool ok; size_t which;
/// if (ratewarden_check_all(lim, "alice", limits, 2, &ok, ds, &which) == RATEWARDEN_OK && !ok)
///     printf("limited by %s\n", limits[which].api_endpoint);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_check_all(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    limits: *const ratewarden_limit,
    n: usize,
    allowed: *mut bool,
    decisions: *mut ratewarden_decision,
    limiting: *mut usize,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let client = unsafe { str_arg(client, "client") }?;
        if limits.is_null() || decisions.is_null() {
            return Err(ArgError(
                ratewarden_result::RATEWARDEN_NULL_PARAMETER,
                "limits or decisions is NULL".into(),
            ));
        }
        if n == 0 || n > ratewarden::MAX_LIMITS_PER_CHECK {
            return Err(ArgError(
                ratewarden_result::RATEWARDEN_INVALID_ARGUMENT,
                format!("n must be 1..={}, got {n}", ratewarden::MAX_LIMITS_PER_CHECK),
            ));
        }
        let allowed = out_arg(allowed, "allowed")?;
        // SAFETY: the caller passes `n` readable limits.
        let raw = unsafe { std::slice::from_raw_parts(limits, n) };
        let mut converted = Vec::with_capacity(n);
        for (i, r) in raw.iter().enumerate() {
            // SAFETY: caller contract for every limit's strings.
            let endpoint = unsafe { str_arg(r.api_endpoint, &format!("limits[{i}].api_endpoint")) }?;
            // SAFETY: as above.
            let algorithm = unsafe { algorithm_arg(r.algorithm, &format!("limits[{i}].algorithm")) }?;
            converted.push(Limit {
                api_endpoint: endpoint,
                quota: Quota::new(r.capacity, r.rate_per_second),
                cost: r.cost,
                algorithm,
            });
        }
        let m = l.check_all(client, &converted)?;
        // SAFETY: the caller passes room for `n` decisions.
        let out = unsafe { std::slice::from_raw_parts_mut(decisions, n) };
        for (o, d) in out.iter_mut().zip(&m.decisions) {
            *o = (*d).into();
        }
        *allowed = m.allowed;
        // SAFETY: NULL or a valid pointer (caller contract).
        if let Some(w) = unsafe { limiting.as_mut() } {
            *w = m.limiting();
        }
        Ok(())
    })
}

/// Round trip to the backend within the deadline (readiness check).
///
/// ```c
/// if (ratewarden_ping(lim) != RATEWARDEN_OK) puts("Redis not reachable yet");
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_ping(lim: *const ratewarden_limiter) -> ratewarden_result {
    boundary(|| {
        limiter_ref(lim)?.ping()?;
        Ok(())
    })
}

/// Create default options; write them to `*out`. Free with
/// `ratewarden_options_free`.
///
/// ```c
/// ratewarden_options *o; ratewarden_options_new(&o);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_new(out: *mut *mut ratewarden_options) -> ratewarden_result {
    boundary(|| {
        let out = out_arg(out, "out")?;
        let o = Options {
            timeout: None,
            key_prefix: None,
            max_in_flight: None,
            tls_root_cert_pem: None,
            algorithm: None,
            failure_mode: None,
            local_share: None,
            deny_cache: None,
        };
        *out = Box::into_raw(Box::new(o)).cast();
        Ok(())
    })
}

/// Release options. NULL is a no-op.
///
/// ```c
/// ratewarden_options_free(o);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_free(opts: *mut ratewarden_options) {
    if opts.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: came from Box::into_raw in ratewarden_options_new, freed once.
        drop(unsafe { Box::from_raw(opts.cast::<Options>()) });
    });
}

fn options_mut<'a>(opts: *mut ratewarden_options) -> Result<&'a mut Options, ArgError> {
    // SAFETY: a non-NULL opts came from ratewarden_options_new (caller contract).
    unsafe { opts.cast::<Options>().as_mut() }
        .ok_or_else(|| ArgError(ratewarden_result::RATEWARDEN_NULL_PARAMETER, "options is NULL".into()))
}

/// Per-call deadline in milliseconds (1..=3600000; default 1000).
///
/// ```c
/// ratewarden_options_set_timeout_ms(o, 250);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_timeout_ms(
    opts: *mut ratewarden_options,
    timeout_ms: u64,
) -> ratewarden_result {
    boundary(|| {
        let o = options_mut(opts)?;
        if !(1..=3_600_000).contains(&timeout_ms) {
            return Err(ArgError(
                ratewarden_result::RATEWARDEN_INVALID_ARGUMENT,
                format!("timeout_ms must be 1..=3600000, got {timeout_ms}"),
            ));
        }
        o.timeout = Some(Duration::from_millis(timeout_ms));
        Ok(())
    })
}

/// Prefix of every Redis key (default "ratewarden:"; no braces, ≤ 128 bytes;
/// checked when the limiter is created). The string is copied.
///
/// ```c
/// ratewarden_options_set_key_prefix(o, "myapp:rl:");
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_key_prefix(
    opts: *mut ratewarden_options,
    prefix: *const c_char,
) -> ratewarden_result {
    boundary(|| {
        let o = options_mut(opts)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let p = unsafe { str_arg(prefix, "prefix") }?;
        o.key_prefix = Some(p.to_owned());
        Ok(())
    })
}

/// The algorithm of calls that name none (default "sliding_window_log"):
/// "sliding_window_log", "sliding_window_counter", "fixed_window",
/// "token_bucket", "gcra" or "leaky_bucket". An unknown name is
/// `RATEWARDEN_INVALID_ARGUMENT`.
///
/// ```c
/// ratewarden_options_set_algorithm(o, "gcra");
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_algorithm(
    opts: *mut ratewarden_options,
    algorithm: *const c_char,
) -> ratewarden_result {
    boundary(|| {
        let o = options_mut(opts)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let name = unsafe { str_arg(algorithm, "algorithm") }?;
        o.algorithm = Some(name.parse()?);
        Ok(())
    })
}

/// Entries of the local deny cache (default 10000; 0 turns it off): a
/// refusal is answered locally until its retry_after, for the same quota and
/// the same or a larger cost, without a round trip.
///
/// ```c
/// ratewarden_options_set_deny_cache(o, 0);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_deny_cache(
    opts: *mut ratewarden_options,
    entries: u32,
) -> ratewarden_result {
    boundary(|| {
        let o = options_mut(opts)?;
        o.deny_cache = Some(entries as usize);
        Ok(())
    })
}

/// What decisions return while Redis cannot be reached: "error" (default),
/// "allow", "deny" or "local" (an in-process limiter with
/// `ratewarden_options_set_local_share` of each quota). A circuit breaker
/// makes calls fail (or fall back) at once after 3 consecutive outages and
/// probes Redis every 500 ms.
///
/// ```c
/// ratewarden_options_set_failure_mode(o, "local");
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_failure_mode(
    opts: *mut ratewarden_options,
    mode: *const c_char,
) -> ratewarden_result {
    boundary(|| {
        let o = options_mut(opts)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let name = unsafe { str_arg(mode, "mode") }?;
        o.failure_mode = Some(name.parse()?);
        Ok(())
    })
}

/// The share (0 < share <= 1, default 1) of each quota granted by the local
/// failure mode; checked when the limiter is created.
///
/// ```c
/// ratewarden_options_set_local_share(o, 0.25);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_local_share(
    opts: *mut ratewarden_options,
    share: f64,
) -> ratewarden_result {
    boundary(|| {
        let o = options_mut(opts)?;
        o.local_share = Some(share);
        Ok(())
    })
}

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

/// Bound on calls outstanding on the limiter's connection (default 1024).
///
/// ```c
/// ratewarden_options_set_max_in_flight(o, 256);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_max_in_flight(
    opts: *mut ratewarden_options,
    max_in_flight: u32,
) -> ratewarden_result {
    boundary(|| {
        let o = options_mut(opts)?;
        if max_in_flight == 0 {
            return Err(ArgError(
                ratewarden_result::RATEWARDEN_INVALID_ARGUMENT,
                "max_in_flight must be at least 1".into(),
            ));
        }
        o.max_in_flight = Some(max_in_flight as usize);
        Ok(())
    })
}

/// Trust this PEM CA certificate for `rediss://` (instead of the system's
/// roots). `pem` is copied; `len` is its length in bytes.
///
/// ```c
/// ratewarden_options_set_tls_root_cert_pem(o, (const uint8_t *)pem, pem_len);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_tls_root_cert_pem(
    opts: *mut ratewarden_options,
    pem: *const u8,
    len: usize,
) -> ratewarden_result {
    boundary(|| {
        let o = options_mut(opts)?;
        if pem.is_null() {
            return Err(ArgError(
                ratewarden_result::RATEWARDEN_NULL_PARAMETER,
                "pem is NULL".into(),
            ));
        }
        // SAFETY: caller passes `len` readable bytes at `pem`.
        let bytes = unsafe { std::slice::from_raw_parts(pem, len) };
        o.tls_root_cert_pem = Some(bytes.to_vec());
        Ok(())
    })
}

/// Benchmark helper, not part of the API (excluded from the header): the
/// same decision loop as a C caller would run, but calling the Rust core
/// directly, so `ffi-c/bench/overhead.c` can measure the C path's added cost
/// in one process. Returns the number of admitted calls, or `u64::MAX` on an
/// error.
#[doc(hidden)]
#[no_mangle]
pub unsafe extern "C" fn ratewarden_bench_native_loop(
    lim: *const ratewarden_limiter,
    clients: *const *const c_char,
    n_clients: usize,
    endpoint: *const c_char,
    iterations: u64,
    capacity: u64,
    rate_per_second: u64,
) -> u64 {
    let run = || -> Result<u64, ArgError> {
        let l = limiter_ref(lim)?;
        if clients.is_null() || n_clients == 0 {
            return Err(ArgError(ratewarden_result::RATEWARDEN_NULL_PARAMETER, "clients".into()));
        }
        // SAFETY: caller passes n_clients valid C strings.
        let ptrs = unsafe { std::slice::from_raw_parts(clients, n_clients) };
        let mut ids = Vec::with_capacity(n_clients);
        for &p in ptrs {
            // SAFETY: as above.
            ids.push(unsafe { str_arg(p, "client") }?);
        }
        // SAFETY: caller contract.
        let endpoint = unsafe { str_arg(endpoint, "endpoint") }?;
        let quota = Quota::new(capacity, rate_per_second);
        let mut allowed = 0;
        for i in 0..iterations {
            let id = ids[(i % n_clients as u64) as usize];
            allowed += u64::from(l.check(id, endpoint, quota, 1)?.allowed);
        }
        Ok(allowed)
    };
    std::panic::catch_unwind(run)
        .ok()
        .and_then(Result::ok)
        .unwrap_or(u64::MAX)
}
