//! The limiter handle and its decisions.
#![allow(non_camel_case_types)]

use std::ffi::c_char;

use ratewarden::blocking::Limiter;
use ratewarden::{Algorithm, Limit, Quota};

use crate::decision::{ratewarden_decision, ratewarden_limit};
use crate::error::ratewarden_result;
use crate::ffi::{boundary, in_arg, out_arg, str_arg, ArgError};
use crate::options::{options_ref, ratewarden_options};

/// An opaque rate limiter. Create with `ratewarden_limiter_new` or
/// `ratewarden_limiter_new_with_options`, release with
/// `ratewarden_limiter_free`.
///
/// Thread safety: one limiter may be used from any number of threads at once;
/// all of them share its one Redis connection (calls are pipelined).
pub struct ratewarden_limiter {
    _private: [u8; 0],
}

/// `n` C limits as core limits (borrowing their strings).
///
/// # Safety
/// `limits` must be NULL or point to `n` limits whose strings are NULL or
/// NUL-terminated.
unsafe fn limits_arg<'a>(limits: *const ratewarden_limit, n: usize) -> Result<Vec<Limit<'a>>, ArgError> {
    if limits.is_null() {
        return Err(ArgError(
            ratewarden_result::RATEWARDEN_NULL_PARAMETER,
            "limits is NULL".into(),
        ));
    }
    if n == 0 || n > ratewarden::MAX_LIMITS_PER_CHECK {
        return Err(ArgError(
            ratewarden_result::RATEWARDEN_INVALID_ARGUMENT,
            format!("n must be 1..={}, got {n}", ratewarden::MAX_LIMITS_PER_CHECK),
        ));
    }
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
    Ok(converted)
}

/// An optional algorithm name (NULL = none).
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string.
pub(crate) unsafe fn algorithm_arg(p: *const c_char, name: &str) -> Result<Option<Algorithm>, ArgError> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { str_arg(p, name) }?;
    Ok(Some(s.parse()?))
}

pub(crate) fn limiter_ref<'a>(lim: *const ratewarden_limiter) -> Result<&'a Limiter, ArgError> {
    // A non-NULL `lim` came from ratewarden_limiter_new* and has not been
    // freed (caller's contract).
    in_arg(lim.cast::<Limiter>(), "limiter")
}

/// Create a limiter for `url` with default options: `"memory://"` (embedded,
/// shared by every limiter of this process with the same URL),
/// `"redis://[user:pass@]host:port[/db]"`, `"rediss://..."` (TLS),
/// `"redis+cluster://h1:p1,h2:p2"`, `"redis+sentinel://h:p/master"` or their
/// TLS twins `"rediss+cluster://..."`, `"rediss+sentinel://..."`. Does not
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
        crate::logging::install();
        // SAFETY: caller contract (NUL-terminated or NULL).
        let url = unsafe { str_arg(url, "url") }?;
        let out = out_arg(out, "out")?;
        let mut builder = Limiter::builder(url);
        if let Some(o) = options_ref(opts) {
            builder = builder.options(o.clone());
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
        if decisions.is_null() {
            return Err(ArgError(
                ratewarden_result::RATEWARDEN_NULL_PARAMETER,
                "decisions is NULL".into(),
            ));
        }
        let allowed = out_arg(allowed, "allowed")?;
        // SAFETY: the caller passes `n` readable limits.
        let converted = unsafe { limits_arg(limits, n) }?;
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

/// A static NUL-terminated copy of a name from a fixed set (algorithms,
/// failure modes), made once per process.
fn static_name(name: &'static str) -> *const c_char {
    static NAMES: std::sync::OnceLock<Vec<(&'static str, std::ffi::CString)>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let algorithms = Algorithm::ALL.iter().map(|a| a.as_str());
        let modes = ratewarden::FailureMode::ALL.iter().map(|m| m.as_str());
        algorithms
            .chain(modes)
            .filter_map(|n| std::ffi::CString::new(n).ok().map(|c| (n, c)))
            .collect()
    });
    names
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(std::ptr::null(), |(_, c)| c.as_ptr())
}

/// The name of an algorithm as a static C string.
pub(crate) fn algorithm_name(a: Algorithm) -> *const c_char {
    static_name(a.as_str())
}

/// The limiter's default algorithm ("sliding_window_log", ...), a static
/// string; NULL if `lim` is NULL.
///
/// ```c
/// printf("algorithm: %s\n", ratewarden_limiter_algorithm(lim));
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_limiter_algorithm(lim: *const ratewarden_limiter) -> *const c_char {
    std::panic::catch_unwind(|| limiter_ref(lim).map_or(std::ptr::null(), |l| algorithm_name(l.algorithm())))
        .unwrap_or(std::ptr::null())
}

/// The limiter's failure mode ("error", "allow", "deny" or "local"), a
/// static string; NULL if `lim` is NULL.
///
/// ```c
/// printf("failure mode: %s\n", ratewarden_limiter_failure_mode(lim));
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_limiter_failure_mode(lim: *const ratewarden_limiter) -> *const c_char {
    std::panic::catch_unwind(|| limiter_ref(lim).map_or(std::ptr::null(), |l| static_name(l.failure_mode().as_str())))
        .unwrap_or(std::ptr::null())
}

/// The limiter's per-call deadline in milliseconds; 0 if `lim` is NULL.
///
/// ```c
/// uint64_t ms = ratewarden_limiter_timeout_ms(lim);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_limiter_timeout_ms(lim: *const ratewarden_limiter) -> u64 {
    std::panic::catch_unwind(|| limiter_ref(lim).map_or(0, |l| l.timeout().as_millis() as u64)).unwrap_or(0)
}

/// The Redis key a decision for (`client`, `endpoint`, `capacity`,
/// `rate_per_second`) with the limiter's algorithm uses, for inspection
/// (`redis-cli TTL ...`). Written to `buf` (not NUL-terminated: keys are
/// bytes) with its length in `*written`. `RATEWARDEN_INVALID_ARGUMENT` for
/// the memory backend, invalid arguments, or a `buf` shorter than the key
/// (the message says how long it is; 1200 bytes always suffice).
///
/// ```c
/// uint8_t key[1200]; size_t n;
/// if (ratewarden_redis_key(lim, "alice", "/search", 10, 10, key, sizeof key, &n) == RATEWARDEN_OK)
///     fwrite(key, 1, n, stdout);
/// ```
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ratewarden_redis_key(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    capacity: u64,
    rate_per_second: u64,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let client = unsafe { str_arg(client, "client") }?;
        // SAFETY: as above.
        let endpoint = unsafe { str_arg(endpoint, "endpoint") }?;
        let written = out_arg(written, "written")?;
        if buf.is_null() {
            return Err(ArgError(
                ratewarden_result::RATEWARDEN_NULL_PARAMETER,
                "buf is NULL".into(),
            ));
        }
        let key = l
            .redis_key(client, endpoint, Quota::new(capacity, rate_per_second))
            .ok_or_else(|| {
                ArgError(
                    ratewarden_result::RATEWARDEN_INVALID_ARGUMENT,
                    "no Redis key: a memory:// limiter, or invalid arguments".into(),
                )
            })?;
        if key.len() > len {
            return Err(ArgError(
                ratewarden_result::RATEWARDEN_INVALID_ARGUMENT,
                format!("buf holds {len} bytes; the key has {}", key.len()),
            ));
        }
        // SAFETY: `buf` has room for `len` >= key.len() bytes (caller contract).
        unsafe { std::ptr::copy_nonoverlapping(key.as_ptr(), buf, key.len()) };
        *written = key.len();
        Ok(())
    })
}

/// Called once with the answer of `ratewarden_check_async`: `result` is a
/// `ratewarden_result` code; on `RATEWARDEN_OK` `decision` points to the
/// decision (else NULL) and `message` is NULL (else the error's text). Both
/// pointers are valid only during the call.
pub type ratewarden_check_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut std::ffi::c_void,
        result: ratewarden_result,
        decision: *const ratewarden_decision,
        message: *const c_char,
    ),
>;

/// Called once with the answer of `ratewarden_check_all_async`: on
/// `RATEWARDEN_OK`, `allowed`, `n` decisions (one per limit) and the index
/// of the deciding limit; else `decisions` is NULL and `message` the error's
/// text. Pointers are valid only during the call.
pub type ratewarden_check_all_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut std::ffi::c_void,
        result: ratewarden_result,
        allowed: bool,
        decisions: *const ratewarden_decision,
        n: usize,
        limiting: usize,
        message: *const c_char,
    ),
>;

/// `user_data` travels to the library thread that answers; the caller
/// promised it may (see the functions' docs).
struct UserData(*mut std::ffi::c_void);
// SAFETY: the caller of the *_async functions guarantees `user_data` may be
// used from another thread (documented there).
unsafe impl Send for UserData {}

fn error_text(e: &ratewarden::Error) -> std::ffi::CString {
    std::ffi::CString::new(e.to_string().replace('\0', "\\0")).unwrap_or_default()
}

/// `ratewarden_check_with_algorithm` without blocking: returns at once and
/// calls `callback(user_data, ...)` exactly once with the answer — on this
/// thread before returning when no I/O is needed (memory://, a refusal the
/// deny cache knows), otherwise on a library thread within the deadline.
/// `algorithm` may be NULL (the limiter's). Argument errors are returned
/// here and the callback is then not called. `user_data` must be usable from
/// any thread; the callback must be short and must not block.
///
/// ```c
/// static void done(void *ud, ratewarden_result r, const ratewarden_decision *d, const char *msg) {
///     if (r == RATEWARDEN_OK && !d->allowed) { ... }
/// }
/// ratewarden_check_async(lim, "alice", "/search", 10, 10, 1, NULL, done, ctx);
/// ```
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ratewarden_check_async(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    capacity: u64,
    rate_per_second: u64,
    cost: u64,
    algorithm: *const c_char,
    callback: ratewarden_check_callback,
    user_data: *mut std::ffi::c_void,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let client = unsafe { str_arg(client, "client") }?;
        // SAFETY: as above.
        let endpoint = unsafe { str_arg(endpoint, "endpoint") }?;
        // SAFETY: as above.
        let algorithm = unsafe { algorithm_arg(algorithm, "algorithm") }?;
        let callback = callback
            .ok_or_else(|| ArgError(ratewarden_result::RATEWARDEN_NULL_PARAMETER, "callback is NULL".into()))?;
        let ud = UserData(user_data);
        let quota = Quota::new(capacity, rate_per_second);
        l.as_async()
            .check_callback(client, endpoint, quota, cost, algorithm, move |r| {
                let ud = ud;
                match r {
                    Ok(d) => {
                        let d: ratewarden_decision = d.into();
                        // SAFETY: the caller's callback, called once as documented.
                        unsafe { callback(ud.0, ratewarden_result::RATEWARDEN_OK, &d, std::ptr::null()) }
                    }
                    Err(e) => {
                        let text = error_text(&e);
                        let code = ratewarden_result::from_kind(e.kind());
                        // SAFETY: as above.
                        unsafe { callback(ud.0, code, std::ptr::null(), text.as_ptr()) }
                    }
                }
            });
        Ok(())
    })
}

/// `ratewarden_check_all` without blocking: `limits` (1..=16) are copied
/// before this returns; `callback(user_data, ...)` is called exactly once,
/// as for `ratewarden_check_async`.
///
/// ```c
/// ratewarden_check_all_async(lim, "alice", limits, 2, done_all, ctx);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_check_all_async(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    limits: *const ratewarden_limit,
    n: usize,
    callback: ratewarden_check_all_callback,
    user_data: *mut std::ffi::c_void,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let client = unsafe { str_arg(client, "client") }?;
        // SAFETY: the caller passes `n` readable limits (checked for NULL there).
        let converted = unsafe { limits_arg(limits, n) }?;
        let callback = callback
            .ok_or_else(|| ArgError(ratewarden_result::RATEWARDEN_NULL_PARAMETER, "callback is NULL".into()))?;
        let ud = UserData(user_data);
        l.as_async().check_all_callback(client, &converted, move |r| {
            let ud = ud;
            match r {
                Ok(m) => {
                    let ds: Vec<ratewarden_decision> = m.decisions.iter().map(|d| (*d).into()).collect();
                    // SAFETY: the caller's callback, called once as documented.
                    unsafe {
                        callback(
                            ud.0,
                            ratewarden_result::RATEWARDEN_OK,
                            m.allowed,
                            ds.as_ptr(),
                            ds.len(),
                            m.limiting(),
                            std::ptr::null(),
                        )
                    }
                }
                Err(e) => {
                    let text = error_text(&e);
                    let code = ratewarden_result::from_kind(e.kind());
                    // SAFETY: as above.
                    unsafe { callback(ud.0, code, false, std::ptr::null(), 0, 0, text.as_ptr()) }
                }
            }
        });
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
