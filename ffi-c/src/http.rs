//! `ratewarden_check_http`: the verdict on an HTTP request under a route's
//! quotas — status, the IETF `RateLimit-Policy` / `RateLimit` headers and
//! the refusal body — rendered by the core, byte for byte as the Python and
//! Node middleware send it; and `ratewarden_client_key`, the default key
//! (client IP behind trusted proxies, IPv6 by /64).
#![allow(non_camel_case_types)]

use std::ffi::c_char;

use ratewarden::http::{ClientIp, ProxyHeader, Rule};
use ratewarden::FailureMode;

use crate::decision::write_headers;
use crate::error::ratewarden_result;
use crate::ffi::{boundary, out_arg, str_arg, write_text, ArgError};
use crate::limiter::{limiter_ref, ratewarden_limiter};

/// Which failure mode decided a verdict because Redis could not.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ratewarden_fallback {
    /// Redis decided.
    RATEWARDEN_FALLBACK_NONE = 0,
    /// The "allow" failure mode let the request through.
    RATEWARDEN_FALLBACK_ALLOW = 1,
    /// The "deny" failure mode refused it (status 503).
    RATEWARDEN_FALLBACK_DENY = 2,
    /// The in-process "local" limiter decided.
    RATEWARDEN_FALLBACK_LOCAL = 3,
}

/// The verdict on an HTTP request; the headers go to the caller's buffer.
///
/// ```c
/// ratewarden_verdict v; char h[1024]; size_t n;
/// ratewarden_check_http(lim, "203.0.113.7", "/login", "5/minute", "draft-11", 1, &v, h, sizeof h, &n);
/// printf("HTTP/1.1 %u\r\n%s\r\n%s", v.status, h, v.body);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ratewarden_verdict {
    /// Whether the request passes.
    pub allowed: bool,
    /// 200 when allowed; 429 when refused; 503 when the "deny" failure mode refused.
    pub status: u16,
    /// Microseconds until the request would be admitted (0 when allowed).
    pub retry_after_us: u64,
    /// Which failure mode decided, if Redis could not.
    pub fallback: ratewarden_fallback,
    /// The JSON body of a refusal, NUL-terminated (empty when allowed).
    pub body: [c_char; 96],
}

/// Decide an HTTP request of `key` on `scope` (a route, or "*") under
/// `quota` (notation, "5/minute" or "10/second;1000/hour": all or nothing),
/// counting `cost`. `headers` picks the header sets: "draft-11" (or NULL),
/// a comma-separated list adding "draft-06" / "x-ratelimit", or "none".
/// On success `*out` holds the status and body, and `buf` the response
/// headers as `Name: value\r\n` lines (`*written` bytes, NUL-terminated;
/// 2048 bytes always suffice).
///
/// Under the "allow", "deny" and "local" failure modes an unreachable Redis
/// gives a verdict with `fallback` set and no remaining counts in the
/// headers; under "error" it is an error code.
///
/// ```c
/// ratewarden_verdict v; char h[2048]; size_t n;
/// if (ratewarden_check_http(lim, key, "/login", "5/minute", NULL, 1, &v, h, sizeof h, &n) == RATEWARDEN_OK
///     && !v.allowed) send_response(v.status, h, v.body);
/// ```
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ratewarden_check_http(
    lim: *const ratewarden_limiter,
    key: *const c_char,
    scope: *const c_char,
    quota: *const c_char,
    headers: *const c_char,
    cost: u64,
    out: *mut ratewarden_verdict,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> ratewarden_result {
    boundary(|| {
        let l = limiter_ref(lim)?;
        // SAFETY: caller contract (NUL-terminated or NULL), as for every string here.
        let (key, scope, quota) = unsafe { (str_arg(key, "key")?, str_arg(scope, "scope")?, str_arg(quota, "quota")?) };
        let sets = if headers.is_null() {
            "draft-11"
        } else {
            // SAFETY: as above.
            unsafe { str_arg(headers, "headers") }?
        };
        let out = out_arg(out, "out")?;
        let written = out_arg(written, "written")?;
        if buf.is_null() {
            return Err(ArgError(
                ratewarden_result::RATEWARDEN_NULL_PARAMETER,
                "buf is NULL".into(),
            ));
        }
        let rule = Rule::new(quota, sets)?;
        let v = l.check_http(key, scope, &rule, cost)?;
        // SAFETY: `buf` has room for `len` bytes (caller contract).
        unsafe { write_headers(&v.headers, buf, len, written) }?;
        let mut body = [0 as c_char; 96];
        for (dst, src) in body.iter_mut().zip(v.body.as_deref().unwrap_or("").bytes().take(95)) {
            *dst = src as c_char;
        }
        *out = ratewarden_verdict {
            allowed: v.allowed,
            status: v.status,
            retry_after_us: u64::try_from(v.retry_after.as_micros()).unwrap_or(u64::MAX),
            fallback: match v.fallback {
                None => ratewarden_fallback::RATEWARDEN_FALLBACK_NONE,
                Some(FailureMode::Allow) => ratewarden_fallback::RATEWARDEN_FALLBACK_ALLOW,
                Some(FailureMode::Deny) => ratewarden_fallback::RATEWARDEN_FALLBACK_DENY,
                Some(_) => ratewarden_fallback::RATEWARDEN_FALLBACK_LOCAL,
            },
            body,
        };
        Ok(())
    })
}

/// The default web key of a request into `buf` (NUL-terminated,
/// `*written` bytes; 64 bytes always suffice for an address): the client
/// IP, IPv6 grouped by `ipv6_subnet` bits (32..=128; 64 is usual), from
/// `peer` (the socket's address) and — only when `peer` is one of the
/// comma-separated `trusted_proxies` (addresses, networks "10.0.0.0/8",
/// "loopback", "private"; NULL for none) — the first untrusted address of
/// `forwarded`, the value of `proxy_header` ("x-forwarded-for" or
/// "forwarded"; NULL for the former). `forwarded` may be NULL.
///
/// ```c
/// char key[64]; size_t n;
/// ratewarden_client_key("10.0.0.2", "198.51.100.9, 10.0.0.1", "10.0.0.0/8", NULL, 64, key, sizeof key, &n);
/// /* key == "198.51.100.9" */
/// ```
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ratewarden_client_key(
    peer: *const c_char,
    forwarded: *const c_char,
    trusted_proxies: *const c_char,
    proxy_header: *const c_char,
    ipv6_subnet: u8,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> ratewarden_result {
    boundary(|| {
        // SAFETY: caller contract (NUL-terminated or NULL), as for every string here.
        let peer = unsafe { str_arg(peer, "peer") }?;
        let opt = |p: *const c_char, name| {
            // SAFETY: as above.
            (!p.is_null()).then(|| unsafe { str_arg(p, name) }).transpose()
        };
        let forwarded = opt(forwarded, "forwarded")?;
        let trusted: Vec<&str> = opt(trusted_proxies, "trusted_proxies")?
            .map(|t| t.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let header: ProxyHeader = opt(proxy_header, "proxy_header")?.map_or(Ok(ProxyHeader::default()), str::parse)?;
        let written = out_arg(written, "written")?;
        let key = ClientIp::new(&trusted, header, ipv6_subnet)?.key(peer, forwarded);
        // SAFETY: `buf` has room for `len` bytes (caller contract).
        unsafe { write_text(&key, "key", buf, len, written) }?;
        Ok(())
    })
}
