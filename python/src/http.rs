//! `Rule`, `ClientIp` and `Verdict`: the core's web pieces for the
//! middleware of `ratewarden.asgi`, `.flask` and `.django` (the middleware
//! itself is Python; what it answers is rendered by the core).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};

use crate::args::str_arg;
use crate::decision::Decision;
use crate::error::{to_pyerr, type_error};

/// A route's quotas and header sets, checked once: `Rule("5/minute")`,
/// `Rule("10/second;1000/hour", headers="draft-11,draft-06")`.
#[pyclass(frozen, module = "ratewarden")]
pub(crate) struct Rule {
    pub(crate) inner: ratewarden::http::Rule,
}

#[pymethods]
impl Rule {
    #[new]
    #[pyo3(signature = (quota, headers = None))]
    fn new(py: Python<'_>, quota: &Bound<'_, PyAny>, headers: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let quotas = crate::quota::quotas_arg(py, Some(quota), None, None)?;
        let sets = headers_arg(py, headers)?;
        ratewarden::http::Rule::new(quotas, &sets)
            .map(|inner| Rule { inner })
            .map_err(|e| to_pyerr(py, e))
    }

    /// The quotas in notation, `;`-separated.
    #[getter]
    fn quota(&self) -> String {
        self.inner.quotas().to_string()
    }

    /// The header sets, canonical ("draft-11", "draft-11,draft-06", "none").
    #[getter]
    fn headers(&self) -> String {
        self.inner.header_sets()
    }

    /// The `RateLimit-Policy` value, or None without draft-11 headers.
    #[getter]
    fn policy_header(&self) -> Option<&str> {
        self.inner.policy_header()
    }

    fn __repr__(&self) -> String {
        format!(
            "Rule({:?}, headers={:?})",
            self.inner.quotas().to_string(),
            self.inner.header_sets()
        )
    }
}

/// `headers=`: None (draft-11), False ("none"), a str, or a list of str.
fn headers_arg(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok("draft-11".into());
    };
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(if b.is_true() { "draft-11" } else { "none" }.into());
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(str_arg(py, obj, "headers")?.into_owned());
    }
    let items: Vec<Bound<'_, PyAny>> = obj
        .try_iter()
        .map_err(|_| type_error("headers must be a str, a list of str, or False".into()))?
        .collect::<PyResult<_>>()?;
    let names: Vec<String> = items
        .iter()
        .map(|i| str_arg(py, i, "headers").map(|s| s.into_owned()))
        .collect::<PyResult<_>>()?;
    Ok(if names.is_empty() {
        "none".into()
    } else {
        names.join(",")
    })
}

/// The client key of a request: the peer address, or behind `trusted_proxies`
/// the first untrusted address of `proxy_header`; IPv6 grouped by
/// `ipv6_subnet` bits.
#[pyclass(frozen, module = "ratewarden")]
pub(crate) struct ClientIp {
    inner: ratewarden::http::ClientIp,
}

#[pymethods]
impl ClientIp {
    #[new]
    #[pyo3(signature = (trusted_proxies = None, *, proxy_header = "x-forwarded-for", ipv6_subnet = None))]
    fn new(
        py: Python<'_>,
        trusted_proxies: Option<&Bound<'_, PyAny>>,
        proxy_header: &str,
        ipv6_subnet: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let trusted: Vec<String> = match trusted_proxies.filter(|t| !t.is_none()) {
            None => Vec::new(),
            Some(t) if t.is_instance_of::<PyString>() => vec![str_arg(py, t, "trusted_proxies")?.into_owned()],
            Some(t) => t
                .try_iter()
                .map_err(|_| type_error("trusted_proxies must be a list of str".into()))?
                .map(|i| i.and_then(|i| str_arg(py, &i, "trusted_proxies").map(|s| s.into_owned())))
                .collect::<PyResult<_>>()?,
        };
        let prefix = match ipv6_subnet.filter(|p| !p.is_none()) {
            None => 64,
            Some(p) if p.is_instance_of::<PyInt>() && !p.is_instance_of::<PyBool>() => {
                let v = crate::args::u64_arg(py, p, "ipv6_subnet")?;
                u8::try_from(v).unwrap_or(u8::MAX)
            }
            Some(_) => return Err(type_error("ipv6_subnet must be an int".into())),
        };
        let header = proxy_header.parse().map_err(|e| to_pyerr(py, e))?;
        let refs: Vec<&str> = trusted.iter().map(String::as_str).collect();
        ratewarden::http::ClientIp::new(&refs, header, prefix)
            .map(|inner| ClientIp { inner })
            .map_err(|e| to_pyerr(py, e))
    }

    /// The forwarding header read behind trusted proxies (lowercase), or
    /// None when no proxy is trusted.
    #[getter]
    fn header(&self) -> Option<&'static str> {
        self.inner.trusts_proxies().then(|| self.inner.header().name())
    }

    /// The key of a request from `peer` (the socket's address) with the
    /// forwarding header's value `forwarded` (lines joined with ",").
    #[pyo3(signature = (peer, forwarded = None))]
    fn key(&self, peer: Option<&str>, forwarded: Option<&str>) -> String {
        self.inner.key(peer.unwrap_or(""), forwarded)
    }
}

/// What a request gets under a `Rule`: `allowed`, `status` (200, 429, or
/// 503 when the "deny" failure mode refused), `headers` (name, value pairs
/// in order), `body` (JSON of a refusal), `retry_after` (seconds),
/// `fallback` (the failure mode that decided, or None) and `decisions`
/// (one per quota).
#[pyclass(frozen, module = "ratewarden")]
pub(crate) struct Verdict {
    #[pyo3(get)]
    allowed: bool,
    #[pyo3(get)]
    status: u16,
    #[pyo3(get)]
    retry_after: f64,
    #[pyo3(get)]
    fallback: Option<&'static str>,
    #[pyo3(get)]
    headers: Vec<(&'static str, String)>,
    #[pyo3(get)]
    body: Option<String>,
    decisions: Vec<ratewarden::Decision>,
}

impl From<ratewarden::http::Verdict> for Verdict {
    fn from(v: ratewarden::http::Verdict) -> Self {
        Verdict {
            allowed: v.allowed,
            status: v.status,
            retry_after: v.retry_after.as_secs_f64(),
            fallback: v.fallback.map(|m| m.as_str()),
            headers: v.headers,
            body: v.body,
            decisions: v.decisions,
        }
    }
}

#[pymethods]
impl Verdict {
    /// One decision per quota of the rule.
    #[getter]
    fn decisions(&self) -> Vec<Decision> {
        self.decisions.iter().copied().map(Decision::from).collect()
    }

    fn __bool__(&self) -> bool {
        self.allowed
    }

    fn __repr__(&self) -> String {
        format!(
            "Verdict(allowed={}, status={}, fallback={:?})",
            if self.allowed { "True" } else { "False" },
            self.status,
            self.fallback
        )
    }
}

/// `(key, scope, rule, cost)` of `check_http`, converted.
pub(crate) fn http_args(
    py: Python<'_>,
    key: &Bound<'_, PyAny>,
    scope: &Bound<'_, PyAny>,
    rule: &Bound<'_, PyAny>,
    cost: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, String, ratewarden::http::Rule, u64)> {
    let rule = rule
        .cast::<Rule>()
        .map_err(|_| type_error("rule must be a ratewarden.Rule".into()))?
        .get()
        .inner
        .clone();
    Ok((
        str_arg(py, key, "key")?.into_owned(),
        str_arg(py, scope, "scope")?.into_owned(),
        rule,
        crate::args::cost_arg(py, cost)?,
    ))
}
