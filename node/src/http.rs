//! `Rule`, `ClientIp` and the `Verdict` of `checkHttp`: the core's web
//! pieces behind `ratewarden/express` and `ratewarden/fastify` (the
//! middleware is JavaScript; what it answers is rendered by the core).

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::decision::Decision;
use crate::error::throw;

/// A route's quotas and header sets, checked once.
#[napi]
pub struct Rule {
    pub(crate) inner: ratewarden::http::Rule,
}

#[napi]
impl Rule {
    /// `quota`: notation ("5/minute", "10/second;1000/hour"); `headers`: a
    /// comma-separated list of "draft-11", "draft-06", "x-ratelimit", or "none".
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, quota: String, headers: String) -> Result<Self> {
        ratewarden::http::Rule::new(quota.as_str(), &headers)
            .map(|inner| Rule { inner })
            .map_err(|e| throw(&env, e))
    }

    /// The quotas in notation, `;`-separated.
    #[napi(getter, catch_unwind)]
    pub fn quota(&self) -> String {
        self.inner.quotas().to_string()
    }

    /// The header sets, canonical ("draft-11", "draft-11,draft-06", "none").
    #[napi(getter, catch_unwind)]
    pub fn headers(&self) -> String {
        self.inner.header_sets()
    }

    /// The `RateLimit-Policy` value, or null without draft-11 headers.
    #[napi(getter, catch_unwind)]
    pub fn policy_header(&self) -> Option<String> {
        self.inner.policy_header().map(str::to_owned)
    }
}

/// The client key of a request: the peer address, or behind trusted
/// proxies the first untrusted address of the forwarding header; IPv6
/// grouped by `ipv6Subnet` bits.
#[napi]
pub struct ClientIp {
    inner: ratewarden::http::ClientIp,
}

#[napi]
impl ClientIp {
    /// `trusted`: addresses, networks ("10.0.0.0/8"), "loopback", "private";
    /// `proxyHeader`: "x-forwarded-for" or "forwarded"; `ipv6Subnet`: 32..128.
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, trusted: Vec<String>, proxy_header: String, ipv6_subnet: u32) -> Result<Self> {
        let header = proxy_header.parse().map_err(|e| throw(&env, e))?;
        let refs: Vec<&str> = trusted.iter().map(String::as_str).collect();
        let prefix = u8::try_from(ipv6_subnet).unwrap_or(u8::MAX);
        ratewarden::http::ClientIp::new(&refs, header, prefix)
            .map(|inner| ClientIp { inner })
            .map_err(|e| throw(&env, e))
    }

    /// The forwarding header read behind trusted proxies (lowercase), or
    /// null when no proxy is trusted.
    #[napi(getter, catch_unwind)]
    pub fn header(&self) -> Option<String> {
        self.inner
            .trusts_proxies()
            .then(|| self.inner.header().name().to_owned())
    }

    /// The key of a request from `peer` with the forwarding header's value.
    #[napi(catch_unwind)]
    pub fn key(&self, peer: Option<String>, forwarded: Option<String>) -> String {
        self.inner.key(peer.as_deref().unwrap_or(""), forwarded.as_deref())
    }
}

/// What a request gets under a rule.
#[napi(object)]
pub struct Verdict {
    /// Whether the request passes.
    pub allowed: bool,
    /// 200; 429 when refused; 503 when the "deny" failure mode refused.
    pub status: u32,
    /// Milliseconds until the request would be admitted (0 when allowed).
    pub retry_after_ms: f64,
    /// The failure mode that decided because Redis could not, or null.
    pub fallback: Option<String>,
    /// `[name, value]` pairs, in order.
    pub headers: Vec<Vec<String>>,
    /// The JSON body of a refusal.
    pub body: Option<String>,
    /// One decision per quota of the rule.
    pub decisions: Vec<Decision>,
}

impl From<ratewarden::http::Verdict> for Verdict {
    fn from(v: ratewarden::http::Verdict) -> Self {
        Verdict {
            allowed: v.allowed,
            status: u32::from(v.status),
            retry_after_ms: v.retry_after.as_secs_f64() * 1000.0,
            fallback: v.fallback.map(|m| m.as_str().to_owned()),
            headers: v.headers.into_iter().map(|(n, val)| vec![n.to_owned(), val]).collect(),
            body: v.body,
            decisions: v.decisions.into_iter().map(Decision::from).collect(),
        }
    }
}
