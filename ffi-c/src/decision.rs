//! `ratewarden_decision` (the answer), `ratewarden_limit` (one limit of a
//! multi-limit check), and the core's rendering of a decision: whole seconds
//! and HTTP headers, byte for byte as in every other language.
#![allow(non_camel_case_types)]

use std::ffi::c_char;
use std::time::Duration;

use crate::error::ratewarden_result;
use crate::ffi::{boundary, in_arg, out_arg, str_arg, write_text, ArgError};

/// The full answer to one check.
///
/// ```c
/// ratewarden_decision d;
/// if (ratewarden_check(lim, "alice", "/upload", 10, 1, 3, &d) == RATEWARDEN_OK && !d.allowed)
///     printf("Retry-After: %llu\n", (unsigned long long)ratewarden_decision_retry_after_secs(&d));
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

impl From<&ratewarden_decision> for ratewarden::Decision {
    fn from(d: &ratewarden_decision) -> Self {
        ratewarden::Decision {
            allowed: d.allowed,
            limit: d.limit,
            remaining: d.remaining,
            retry_after: Duration::from_micros(d.retry_after_us),
            reset_after: Duration::from_micros(d.reset_after_us),
        }
    }
}

/// `Retry-After` of a decision: whole seconds, rounded up (0 when allowed).
/// NULL gives 0.
///
/// ```c
/// printf("Retry-After: %llu\n", (unsigned long long)ratewarden_decision_retry_after_secs(&d));
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_decision_retry_after_secs(d: *const ratewarden_decision) -> u64 {
    // SAFETY: NULL or a valid decision (caller contract).
    std::panic::catch_unwind(|| unsafe { d.as_ref() }.map_or(0, |d| ratewarden::Decision::from(d).retry_after_secs()))
        .unwrap_or(0)
}

/// Seconds until the window resets, rounded up. NULL gives 0.
///
/// ```c
/// uint64_t reset = ratewarden_decision_reset_after_secs(&d);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_decision_reset_after_secs(d: *const ratewarden_decision) -> u64 {
    // SAFETY: NULL or a valid decision (caller contract).
    std::panic::catch_unwind(|| unsafe { d.as_ref() }.map_or(0, |d| ratewarden::Decision::from(d).reset_after_secs()))
        .unwrap_or(0)
}

/// Render the HTTP headers of `*d` into `buf` as `Name: value\r\n` lines,
/// NUL-terminated: `set` is "draft-06" (`RateLimit-Limit`, `-Remaining`,
/// `-Reset`) or "x-ratelimit" (`X-RateLimit-*`), plus `Retry-After` when
/// refused. On success `*written` is the length without the NUL. A buffer
/// shorter than that plus one is `RATEWARDEN_INVALID_ARGUMENT` (the message
/// says how long it must be); 256 bytes always suffice.
///
/// ```c
/// char h[256]; size_t n;
/// if (ratewarden_decision_headers(&d, "draft-06", h, sizeof h, &n) == RATEWARDEN_OK) fputs(h, stdout);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_decision_headers(
    d: *const ratewarden_decision,
    set: *const c_char,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> ratewarden_result {
    boundary(|| {
        let d = in_arg(d, "decision")?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let set: ratewarden::HeaderSet = unsafe { str_arg(set, "set") }?.parse()?;
        let written = out_arg(written, "written")?;
        // SAFETY: `buf` has room for `len` bytes (caller contract).
        unsafe { write_headers(&ratewarden::Decision::from(d).headers(set), buf, len, written) }
    })
}

/// `Name: value\r\n` lines into `buf`, NUL-terminated.
///
/// # Safety
/// `buf` is NULL or has room for `len` bytes.
pub(crate) unsafe fn write_headers(
    headers: &[(&str, String)],
    buf: *mut c_char,
    len: usize,
    written: &mut usize,
) -> Result<(), ArgError> {
    let text: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    // SAFETY: forwarded caller contract.
    unsafe { write_text(&text, "headers", buf, len, written) }
}

/// The draft-ietf-httpapi-ratelimit-headers-11 headers of `*d` under the
/// quota policy `name` (1..=64 printable ASCII characters) whose window is
/// `window_ms`, as `Name: value\r\n` lines in `buf` like
/// `ratewarden_decision_headers`: `RateLimit-Policy: "name";q=..;w=..`,
/// `RateLimit: "name";r=..;t=..`, and `Retry-After` when refused. 512 bytes
/// always suffice.
///
/// ```c
/// char h[512]; size_t n;
/// ratewarden_decision_ietf_headers(&d, "default", 60000, h, sizeof h, &n);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_decision_ietf_headers(
    d: *const ratewarden_decision,
    name: *const c_char,
    window_ms: u64,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> ratewarden_result {
    boundary(|| {
        let d = in_arg(d, "decision")?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let name = unsafe { str_arg(name, "name") }?;
        let written = out_arg(written, "written")?;
        let headers = ratewarden::Decision::from(d).ietf_headers(name, Duration::from_millis(window_ms))?;
        // SAFETY: `buf` has room for `len` bytes (caller contract).
        unsafe { write_headers(&headers, buf, len, written) }
    })
}
