//! Quotas over any period: the `ratewarden_quota` struct, the notation
//! parser, and the operations that take a quota (check, peek, refund,
//! block) plus reset.
#![allow(non_camel_case_types)]

use std::ffi::c_char;
use std::time::Duration;

use ratewarden::{Quota, Quotas};

use crate::decision::ratewarden_decision;
use crate::error::ratewarden_result;
use crate::ffi::{boundary, in_arg, out_arg, str_arg, ArgError};
use crate::limiter::{limiter_ref, ratewarden_limiter};

/// One quota: at most `capacity` requests per `period_us` microseconds.
/// Build it by hand or with `ratewarden_quota_parse`.
///
/// ```c
/// ratewarden_quota q = { .capacity = 5, .period_us = 60000000 }; /* 5/minute */
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ratewarden_quota {
    /// Burst size, 1..=1e9.
    pub capacity: u64,
    /// The period in microseconds, 1..=1e15 (10^9 s).
    pub period_us: u64,
}

impl ratewarden_quota {
    fn to_core(self) -> Quota {
        Quota::per(self.capacity, Duration::from_micros(self.period_us))
    }
}

/// Parse one quota in the notation ("5/minute", "10 per second", "5/15
/// minutes", "1000/day") into `*out`, written only on success. Anything else
/// — including several quotas — is `RATEWARDEN_INVALID_ARGUMENT`, and
/// `ratewarden_last_error()` names the bad part.
///
/// ```c
/// ratewarden_quota q;
/// if (ratewarden_quota_parse("5/minute", &q) == RATEWARDEN_OK) assert(q.period_us == 60000000);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_quota_parse(text: *const c_char, out: *mut ratewarden_quota) -> ratewarden_result {
    boundary(|| {
        // SAFETY: caller contract (NUL-terminated or NULL).
        let text = unsafe { str_arg(text, "text") }?;
        let out = out_arg(out, "out")?;
        let q = Quota::parse(text)?;
        *out = ratewarden_quota {
            capacity: q.capacity(),
            period_us: q.period().as_micros() as u64,
        };
        Ok(())
    })
}

/// The limiter and the (client, endpoint) pair every call here starts with.
///
/// # Safety
/// As `str_arg`; `lim` NULL or a live limiter.
unsafe fn pair_args<'a>(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
) -> Result<(&'a ratewarden::blocking::Limiter, &'a str, &'a str), ArgError> {
    let l = limiter_ref(lim)?;
    // SAFETY: forwarded caller contract.
    let (client, endpoint) = unsafe { (str_arg(client, "client")?, str_arg(endpoint, "endpoint")?) };
    Ok((l, client, endpoint))
}

/// Write `d` to an optional out-parameter (NULL: not wanted).
fn write_optional(out: *mut ratewarden_decision, d: ratewarden::Decision) {
    // SAFETY: NULL or a valid pointer (caller contract).
    if let Some(out) = unsafe { out.as_mut() } {
        *out = d.into();
    }
}

/// The quotas of a notation argument.
///
/// # Safety
/// As `str_arg`.
unsafe fn quotas_arg(p: *const c_char) -> Result<Quotas, ArgError> {
    // SAFETY: forwarded caller contract.
    let text = unsafe { str_arg(p, "quota") }?;
    Ok(Quotas::parse(text)?)
}

/// The full decision for a request of `cost` units under `quota`, in the
/// notation: one quota ("20/minute") or several, all or nothing
/// ("10/second;1000/hour"; the decision is the limiting quota's). Written to
/// `*out` only on success.
///
/// ```c
/// ratewarden_decision d;
/// ratewarden_check_quota(lim, "alice", "/login", "5/minute", 1, &d);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_check_quota(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    quota: *const c_char,
    cost: u64,
    out: *mut ratewarden_decision,
) -> ratewarden_result {
    boundary(|| {
        // SAFETY: caller contract (NUL-terminated or NULL), as for every string below.
        let (l, client, endpoint) = unsafe { pair_args(lim, client, endpoint) }?;
        // SAFETY: as above.
        let quotas = unsafe { quotas_arg(quota) }?;
        let out = out_arg(out, "out")?;
        *out = l.check(client, endpoint, quotas, cost)?.into();
        Ok(())
    })
}

/// `ratewarden_check_quota` with a `ratewarden_quota` struct.
///
/// ```c
/// ratewarden_quota q = { 5, 60000000 };
/// ratewarden_decision d;
/// ratewarden_check_quota_of(lim, "alice", "/login", &q, 1, &d);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_check_quota_of(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    quota: *const ratewarden_quota,
    cost: u64,
    out: *mut ratewarden_decision,
) -> ratewarden_result {
    boundary(|| {
        // SAFETY: caller contract (NUL-terminated or NULL).
        let (l, client, endpoint) = unsafe { pair_args(lim, client, endpoint) }?;
        let quota = in_arg(quota, "quota")?.to_core();
        let out = out_arg(out, "out")?;
        *out = l.check(client, endpoint, quota, cost)?.into();
        Ok(())
    })
}

/// The decision a cost-1 check under `quota` would get now, counting
/// nothing (`remaining` is what that check would leave).
///
/// ```c
/// ratewarden_decision d;
/// ratewarden_peek(lim, "alice", "/login", "5/minute", &d);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_peek(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    quota: *const c_char,
    out: *mut ratewarden_decision,
) -> ratewarden_result {
    boundary(|| {
        // SAFETY: caller contract (NUL-terminated or NULL).
        let (l, client, endpoint) = unsafe { pair_args(lim, client, endpoint) }?;
        // SAFETY: as above.
        let quotas = unsafe { quotas_arg(quota) }?;
        let out = out_arg(out, "out")?;
        *out = l.peek(client, endpoint, quotas)?.into();
        Ok(())
    })
}

/// Give back `cost` units (1..=capacity) of the latest admissions under
/// `quota`; never below empty. `*out` (may be NULL) gets what a cost-1 check
/// would get afterwards.
///
/// ```c
/// ratewarden_refund(lim, "alice", "/pay", "10/hour", 1, NULL);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_refund(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    quota: *const c_char,
    cost: u64,
    out: *mut ratewarden_decision,
) -> ratewarden_result {
    boundary(|| {
        // SAFETY: caller contract (NUL-terminated or NULL).
        let (l, client, endpoint) = unsafe { pair_args(lim, client, endpoint) }?;
        // SAFETY: as above.
        let quotas = unsafe { quotas_arg(quota) }?;
        let d = l.refund(client, endpoint, quotas, cost)?;
        write_optional(out, d);
        Ok(())
    })
}

/// Refuse (`client`, `endpoint`, `quota`) for `duration_ms` milliseconds
/// (1..=10^12) from now; then the full quota is back. `*out` (may be NULL)
/// gets the refusal, `retry_after` = the duration.
///
/// ```c
/// ratewarden_block(lim, "mallory", "/login", "5/minute", 15 * 60 * 1000, NULL);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_block(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
    quota: *const c_char,
    duration_ms: u64,
    out: *mut ratewarden_decision,
) -> ratewarden_result {
    boundary(|| {
        // SAFETY: caller contract (NUL-terminated or NULL).
        let (l, client, endpoint) = unsafe { pair_args(lim, client, endpoint) }?;
        // SAFETY: as above.
        let quotas = unsafe { quotas_arg(quota) }?;
        let d = l.block(client, endpoint, quotas, Duration::from_millis(duration_ms))?;
        write_optional(out, d);
        Ok(())
    })
}

/// Forget all state of (`client`, `endpoint`): every algorithm and quota.
///
/// ```c
/// ratewarden_reset(lim, "alice", "/login");
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_reset(
    lim: *const ratewarden_limiter,
    client: *const c_char,
    endpoint: *const c_char,
) -> ratewarden_result {
    boundary(|| {
        // SAFETY: caller contract (NUL-terminated or NULL).
        let (l, client, endpoint) = unsafe { pair_args(lim, client, endpoint) }?;
        l.reset(client, endpoint)?;
        Ok(())
    })
}
