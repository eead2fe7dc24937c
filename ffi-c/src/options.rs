//! `ratewarden_options`: a handle on the core's `LimiterOptions`. Every
//! setter hands its value to the core by the option's name; the core checks
//! it (and reports the error) — nothing is range-checked here.
#![allow(non_camel_case_types)]

use std::ffi::c_char;

use ratewarden::{LimiterOptions, OptionValue, Spelling};

use crate::error::ratewarden_result;
use crate::ffi::{boundary, out_arg, str_arg, ArgError};

/// Opaque options for `ratewarden_limiter_new_with_options`. Not thread-safe
/// while being modified; free with `ratewarden_options_free`.
pub struct ratewarden_options {
    _private: [u8; 0],
}

/// The core options behind a handle (NULL is `RATEWARDEN_NULL_PARAMETER`).
pub(crate) fn options_ref<'a>(opts: *const ratewarden_options) -> Option<&'a LimiterOptions> {
    // SAFETY: a non-NULL opts came from ratewarden_options_new (caller contract).
    unsafe { opts.cast::<LimiterOptions>().as_ref() }
}

fn set(opts: *mut ratewarden_options, name: &str, value: OptionValue) -> Result<(), ArgError> {
    // SAFETY: a non-NULL opts came from ratewarden_options_new (caller contract).
    let o = unsafe { opts.cast::<LimiterOptions>().as_mut() }
        .ok_or_else(|| ArgError(ratewarden_result::RATEWARDEN_NULL_PARAMETER, "options is NULL".into()))?;
    o.set_as(Spelling::Rust, name, value)?;
    Ok(())
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
        *out = Box::into_raw(Box::new(LimiterOptions::default())).cast();
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
        drop(unsafe { Box::from_raw(opts.cast::<LimiterOptions>()) });
    });
}

/// Set any option by its name (see the README's option table: "timeout_ms",
/// "breaker_threshold", ...) from text; numbers are given as decimal text.
/// Unknown names and bad values are `RATEWARDEN_INVALID_ARGUMENT`, checked
/// now. Both strings are copied.
///
/// ```c
/// ratewarden_options_set(o, "breaker_threshold", "5");
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set(
    opts: *mut ratewarden_options,
    name: *const c_char,
    value: *const c_char,
) -> ratewarden_result {
    boundary(|| {
        // SAFETY: caller contract (NUL-terminated or NULL).
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: as above.
        let value = unsafe { str_arg(value, "value") }?;
        set(opts, name, value.into())
    })
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
    boundary(|| set(opts, "timeout_ms", timeout_ms.into()))
}

/// Prefix of every Redis key (default "ratewarden:"; no braces, ≤ 128 bytes).
/// The string is copied.
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
        // SAFETY: caller contract (NUL-terminated or NULL).
        let p = unsafe { str_arg(prefix, "prefix") }?;
        set(opts, "key_prefix", p.into())
    })
}

/// Bound on calls outstanding on the limiter's connection (1..=1048576;
/// default 1024).
///
/// ```c
/// ratewarden_options_set_max_in_flight(o, 256);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_max_in_flight(
    opts: *mut ratewarden_options,
    max_in_flight: u32,
) -> ratewarden_result {
    boundary(|| set(opts, "max_in_flight", max_in_flight.into()))
}

/// Trust this PEM CA certificate for `rediss://` (and every node and
/// Sentinel of `rediss+cluster://`, `rediss+sentinel://`) instead of the
/// system's roots. `pem` is copied; `len` is its length in bytes.
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
    // SAFETY: the caller's contract, passed on.
    unsafe { set_pem(opts, "tls_root_cert_pem", pem, len) }
}

/// Present this PEM client certificate to TLS servers that require one
/// (Redis `tls-auth-clients yes`: mutual TLS); give its key with
/// [`ratewarden_options_set_tls_client_key_pem`] too (one without the other
/// is `RATEWARDEN_CONFIG` when the limiter is made). `pem` is copied.
///
/// ```c
/// ratewarden_options_set_tls_client_cert_pem(o, (const uint8_t *)cert, cert_len);
/// ratewarden_options_set_tls_client_key_pem(o, (const uint8_t *)key, key_len);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_tls_client_cert_pem(
    opts: *mut ratewarden_options,
    pem: *const u8,
    len: usize,
) -> ratewarden_result {
    // SAFETY: the caller's contract, passed on.
    unsafe { set_pem(opts, "tls_client_cert_pem", pem, len) }
}

/// The PEM private key (PKCS#8, PKCS#1 or SEC1) of the client certificate
/// given with [`ratewarden_options_set_tls_client_cert_pem`]. `pem` is
/// copied.
///
/// ```c
/// ratewarden_options_set_tls_client_key_pem(o, (const uint8_t *)key, key_len);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_tls_client_key_pem(
    opts: *mut ratewarden_options,
    pem: *const u8,
    len: usize,
) -> ratewarden_result {
    // SAFETY: the caller's contract, passed on.
    unsafe { set_pem(opts, "tls_client_key_pem", pem, len) }
}

/// Copy `len` bytes at `pem` into the option `name`.
///
/// # Safety
/// `pem` points to `len` readable bytes (or is NULL: an error).
unsafe fn set_pem(opts: *mut ratewarden_options, name: &str, pem: *const u8, len: usize) -> ratewarden_result {
    boundary(|| {
        if pem.is_null() {
            return Err(ArgError(
                ratewarden_result::RATEWARDEN_NULL_PARAMETER,
                "pem is NULL".into(),
            ));
        }
        // SAFETY: caller passes `len` readable bytes at `pem`.
        let bytes = unsafe { std::slice::from_raw_parts(pem, len) };
        set(opts, name, bytes.to_vec().into())
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
        // SAFETY: caller contract (NUL-terminated or NULL).
        let name = unsafe { str_arg(algorithm, "algorithm") }?;
        set(opts, "algorithm", name.into())
    })
}

/// What decisions return while Redis cannot be reached: "error" (default),
/// "allow", "deny" or "local" (an in-process limiter with
/// `ratewarden_options_set_local_share` of each quota). A circuit breaker
/// makes calls fail (or fall back) at once after
/// `ratewarden_options_set_breaker_threshold` consecutive outages and probes
/// Redis every `ratewarden_options_set_breaker_open_for_ms`.
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
        // SAFETY: caller contract (NUL-terminated or NULL).
        let name = unsafe { str_arg(mode, "mode") }?;
        set(opts, "failure_mode", name.into())
    })
}

/// The share (0 < share <= 1, default 1) of each quota granted by the local
/// failure mode.
///
/// ```c
/// ratewarden_options_set_local_share(o, 0.25);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_local_share(
    opts: *mut ratewarden_options,
    share: f64,
) -> ratewarden_result {
    boundary(|| set(opts, "local_share", share.into()))
}

/// Consecutive outages that open the circuit (1..=1000; default 3).
///
/// ```c
/// ratewarden_options_set_breaker_threshold(o, 5);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_breaker_threshold(
    opts: *mut ratewarden_options,
    threshold: u32,
) -> ratewarden_result {
    boundary(|| set(opts, "breaker_threshold", threshold.into()))
}

/// How long the circuit stays open before one call probes Redis again, in
/// milliseconds (1..=3600000; default 500).
///
/// ```c
/// ratewarden_options_set_breaker_open_for_ms(o, 200);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_options_set_breaker_open_for_ms(
    opts: *mut ratewarden_options,
    open_for_ms: u64,
) -> ratewarden_result {
    boundary(|| set(opts, "breaker_open_for_ms", open_for_ms.into()))
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
    boundary(|| set(opts, "deny_cache", entries.into()))
}
