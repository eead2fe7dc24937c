//! Live policies: named limits stored with the state, seen by every limiter.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, CString};

use crate::decision::ratewarden_decision;
use crate::error::ratewarden_result;
use crate::ffi::{boundary, out_arg, str_arg, ArgError};
use crate::limiter::{algorithm_arg, algorithm_name, limiter_ref, ratewarden_limiter};

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

/// Store a policy of any quota or quotas, in the notation ("5/minute",
/// "10/second;1000/hour"), like `ratewarden_set_policy`.
///
/// ```c
/// ratewarden_set_policy_quota(lim, "/login", "5/minute;20/hour", NULL);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_set_policy_quota(
    lim: *const ratewarden_limiter,
    name: *const c_char,
    quota: *const c_char,
    algorithm: *const c_char,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: as above.
        let quota = unsafe { str_arg(quota, "quota") }?;
        // SAFETY: as above.
        let algorithm = unsafe { algorithm_arg(algorithm, "algorithm") }?;
        let mut p = ratewarden::Policy::quota(quota)?;
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

/// One stored policy, as listed by `ratewarden_policies`. The strings belong
/// to the list and live as long as it does.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ratewarden_policy {
    /// The name: an endpoint, or "*" for the default.
    pub name: *const c_char,
    /// Burst size (of the first quota).
    pub capacity: u64,
    /// Sustained rate per second, if the policy is one quota with a whole
    /// rate per second; else 0 (read `quota`).
    pub rate_per_second: u64,
    /// The algorithm's name, or NULL for the deciding limiter's.
    pub algorithm: *const c_char,
    /// The period of the first quota, in microseconds.
    pub period_us: u64,
    /// Every quota, in the notation ("5/minute;100/hour").
    pub quota: *const c_char,
}

/// Every stored policy, read from the backend now (opaque; free with
/// `ratewarden_policy_list_free`).
pub struct ratewarden_policy_list {
    _private: [u8; 0],
}

struct PolicyList {
    /// (name, algorithm, quota) strings, kept alive for the pointers in `items`.
    _strings: Vec<(CString, Option<CString>, CString)>,
    items: Vec<ratewarden_policy>,
}

/// Read every stored policy into a new list at `*out` (sorted by name).
/// Free it with `ratewarden_policy_list_free`.
///
/// ```c
/// ratewarden_policy_list *list;
/// if (ratewarden_policies(lim, &list) == RATEWARDEN_OK) {
///     for (size_t i = 0; i < ratewarden_policy_list_len(list); i++)
///         printf("%s\n", ratewarden_policy_list_get(list, i)->name);
///     ratewarden_policy_list_free(list);
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_policies(
    lim: *const ratewarden_limiter,
    out: *mut *mut ratewarden_policy_list,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        let out = out_arg(out, "out")?;
        let mut all: Vec<(String, ratewarden::Policy)> = l.policies()?.into_iter().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let c = |s: &str| {
            CString::new(s).map_err(|_| ArgError(ratewarden_result::RATEWARDEN_INTERNAL, "NUL in a policy name".into()))
        };
        let mut strings = Vec::with_capacity(all.len());
        for (name, p) in &all {
            let quota = c(&p.quotas.to_string())?;
            strings.push((c(name)?, p.algorithm.map(|a| c(a.as_str())).transpose()?, quota));
        }
        let items = all
            .iter()
            .zip(&strings)
            .map(|((_, p), (name, alg, quota))| ratewarden_policy {
                name: name.as_ptr(),
                capacity: p.first().capacity(),
                rate_per_second: p.capacity_and_rate().map_or(0, |(_, r)| r),
                algorithm: alg.as_ref().map_or(std::ptr::null(), |a| a.as_ptr()),
                period_us: p.first().period().as_micros() as u64,
                quota: quota.as_ptr(),
            })
            .collect();
        *out = Box::into_raw(Box::new(PolicyList {
            _strings: strings,
            items,
        }))
        .cast();
        Ok(())
    })
}

/// The number of policies in `list` (0 for NULL).
///
/// ```c
/// size_t n = ratewarden_policy_list_len(list);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_policy_list_len(list: *const ratewarden_policy_list) -> usize {
    // SAFETY: NULL or a list from ratewarden_policies (caller contract).
    unsafe { list.cast::<PolicyList>().as_ref() }.map_or(0, |l| l.items.len())
}

/// The policy at `index`, or NULL if `list` is NULL or `index` is out of
/// range. Valid until the list is freed.
///
/// ```c
/// const ratewarden_policy *p = ratewarden_policy_list_get(list, 0);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_policy_list_get(
    list: *const ratewarden_policy_list,
    index: usize,
) -> *const ratewarden_policy {
    // SAFETY: NULL or a list from ratewarden_policies (caller contract).
    unsafe { list.cast::<PolicyList>().as_ref() }
        .and_then(|l| l.items.get(index))
        .map_or(std::ptr::null(), |p| p as *const ratewarden_policy)
}

/// Release a policy list. NULL is a no-op.
///
/// ```c
/// ratewarden_policy_list_free(list);
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_policy_list_free(list: *mut ratewarden_policy_list) {
    if list.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: came from Box::into_raw in ratewarden_policies, freed once.
        drop(unsafe { Box::from_raw(list.cast::<PolicyList>()) });
    });
}

/// The policy `ratewarden_check_policy` applies to `endpoint` right now (its
/// own, or the default "*"), from this limiter's copy: `*capacity`,
/// `*rate_per_second` (of its first quota; 0 where that is not a whole rate
/// per second — `ratewarden_policies` lists every quota in the notation)
/// and `*algorithm` (a static name, or NULL for the
/// limiter's), written only on success. No policy and no default is
/// `RATEWARDEN_INVALID_ARGUMENT`. `algorithm` may be NULL to skip it.
///
/// ```c
/// uint64_t cap, rate; const char *alg;
/// if (ratewarden_resolved_policy(lim, "/users", &cap, &rate, &alg) == RATEWARDEN_OK) ...
/// ```
#[no_mangle]
pub unsafe extern "C" fn ratewarden_resolved_policy(
    lim: *const ratewarden_limiter,
    endpoint: *const c_char,
    capacity: *mut u64,
    rate_per_second: *mut u64,
    algorithm: *mut *const c_char,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL).
        let endpoint = unsafe { str_arg(endpoint, "endpoint") }?;
        let capacity = out_arg(capacity, "capacity")?;
        let rate_per_second = out_arg(rate_per_second, "rate_per_second")?;
        let p = l.resolved_policy(endpoint)?;
        *capacity = p.first().capacity();
        *rate_per_second = p.capacity_and_rate().map_or(0, |(_, r)| r);
        // SAFETY: NULL or a valid pointer (caller contract).
        if let Some(a) = unsafe { algorithm.as_mut() } {
            *a = p.algorithm.map_or(std::ptr::null(), algorithm_name);
        }
        Ok(())
    })
}
