//! `Decision`, `Limit` and `MultiDecision`: the answer to a check, one limit
//! of a multi-limit check, and the answer to that.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::args::{algorithm_arg, cost_arg, str_arg, u64_arg};
use crate::error::{to_pyerr, type_error};

/// The answer to one check (immutable).
#[pyclass(frozen, eq, hash, module = "ratewarden")]
#[derive(PartialEq, Eq, Hash, Clone)]
pub(crate) struct Decision {
    /// Whether the request (all of its cost) was admitted.
    #[pyo3(get)]
    allowed: bool,
    /// The capacity that applied.
    #[pyo3(get)]
    limit: u64,
    /// Units that could still be admitted right now.
    #[pyo3(get)]
    remaining: u64,
    retry_after_us: u64,
    reset_after_us: u64,
}

impl Decision {
    fn core(&self) -> ratewarden::Decision {
        ratewarden::Decision {
            allowed: self.allowed,
            limit: self.limit,
            remaining: self.remaining,
            retry_after: Duration::from_micros(self.retry_after_us),
            reset_after: Duration::from_micros(self.reset_after_us),
        }
    }
}

impl From<ratewarden::Decision> for Decision {
    fn from(d: ratewarden::Decision) -> Self {
        Decision {
            allowed: d.allowed,
            limit: d.limit,
            remaining: d.remaining,
            retry_after_us: u64::try_from(d.retry_after.as_micros()).unwrap_or(u64::MAX),
            reset_after_us: u64::try_from(d.reset_after.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

#[pymethods]
impl Decision {
    /// Seconds until a request of the same cost would be admitted (0.0 when allowed).
    #[getter]
    fn retry_after(&self) -> f64 {
        self.retry_after_us as f64 / 1e6
    }

    /// Seconds until the window is empty again.
    #[getter]
    fn reset_after(&self) -> f64 {
        self.reset_after_us as f64 / 1e6
    }

    /// `Retry-After` value: whole seconds, rounded up (0 when allowed).
    #[getter]
    fn retry_after_secs(&self) -> u64 {
        self.core().retry_after_secs()
    }

    /// Seconds until the window is empty again, rounded up.
    #[getter]
    fn reset_after_secs(&self) -> u64 {
        self.core().reset_after_secs()
    }

    /// HTTP headers for this decision, rendered by the core: with `set`
    /// "draft-06" (default) `RateLimit-Limit`, `RateLimit-Remaining`,
    /// `RateLimit-Reset` (seconds), with "x-ratelimit" the `X-RateLimit-*`
    /// trio; plus `Retry-After` when denied.
    #[pyo3(signature = (set = "draft-06"))]
    fn headers<'py>(&self, py: Python<'py>, set: &str) -> PyResult<Bound<'py, PyDict>> {
        let set: ratewarden::HeaderSet = set.parse().map_err(|e| to_pyerr(py, e))?;
        let h = PyDict::new(py);
        for (name, value) in self.core().headers(set) {
            h.set_item(name, value)?;
        }
        Ok(h)
    }

    /// The draft-ietf-httpapi-ratelimit-headers-11 headers under the quota
    /// policy `name` whose window is `window` seconds, rendered by the core:
    /// `RateLimit-Policy`, `RateLimit`, and `Retry-After` when denied.
    fn ietf_headers<'py>(&self, py: Python<'py>, name: &str, window: f64) -> PyResult<Bound<'py, PyDict>> {
        let window = Duration::try_from_secs_f64(window).map_err(|_| {
            to_pyerr(
                py,
                ratewarden::Error::invalid_argument(format!(
                    "window must be a non-negative number of seconds, got {window}"
                )),
            )
        })?;
        let h = PyDict::new(py);
        for (n, v) in self.core().ietf_headers(name, window).map_err(|e| to_pyerr(py, e))? {
            h.set_item(n, v)?;
        }
        Ok(h)
    }

    fn __bool__(&self) -> bool {
        self.allowed
    }

    fn __repr__(&self) -> String {
        format!(
            "Decision(allowed={}, limit={}, remaining={}, retry_after={:.6}, reset_after={:.6})",
            if self.allowed { "True" } else { "False" },
            self.limit,
            self.remaining,
            self.retry_after(),
            self.reset_after()
        )
    }
}

/// One limit of `check_all`: a scope (an endpoint, or any label such as
/// `"*"`), a quota, the cost here, and optionally an algorithm.
#[pyclass(frozen, eq, hash, module = "ratewarden")]
#[derive(PartialEq, Eq, Hash, Clone)]
pub(crate) struct Limit {
    /// The scope.
    #[pyo3(get)]
    api_endpoint: String,
    /// Burst size.
    #[pyo3(get)]
    capacity: u64,
    /// Sustained rate per second.
    #[pyo3(get)]
    rate_per_second: u64,
    /// Units this request counts as here.
    #[pyo3(get)]
    cost: u64,
    /// The algorithm's name, or None for the limiter's.
    #[pyo3(get)]
    algorithm: Option<String>,
    parsed: Option<ratewarden::Algorithm>,
    /// Every quota, in the notation (`"5/minute;100/hour"` for a policy of several).
    #[pyo3(get)]
    quota: String,
}

#[pymethods]
impl Limit {
    #[new]
    #[pyo3(signature = (api_endpoint, capacity, rate_per_second, cost = None, algorithm = None))]
    fn new(
        py: Python<'_>,
        api_endpoint: &Bound<'_, PyAny>,
        capacity: &Bound<'_, PyAny>,
        rate_per_second: &Bound<'_, PyAny>,
        cost: Option<&Bound<'_, PyAny>>,
        algorithm: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let parsed = algorithm_arg(py, algorithm)?;
        let (capacity, rate_per_second) = (
            u64_arg(py, capacity, "capacity")?,
            u64_arg(py, rate_per_second, "rate_per_second")?,
        );
        Ok(Limit {
            api_endpoint: str_arg(py, api_endpoint, "api_endpoint")?.into_owned(),
            capacity,
            rate_per_second,
            cost: cost_arg(py, cost)?,
            algorithm: parsed.map(|a| a.as_str().to_owned()),
            parsed,
            quota: ratewarden::Quota::new(capacity, rate_per_second).to_string(),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Limit({:?}, {}, {}, cost={}, algorithm={})",
            self.api_endpoint,
            self.capacity,
            self.rate_per_second,
            self.cost,
            self.algorithm.as_deref().map_or("None".into(), |a| format!("{a:?}"))
        )
    }
}

impl Limit {
    /// A stored policy as a Limit of cost 1 (what `policies()` returns).
    pub(crate) fn from_policy(name: String, p: &ratewarden::Policy) -> Self {
        Limit {
            api_endpoint: name,
            capacity: p.first().capacity(),
            rate_per_second: p.capacity_and_rate().map_or(0, |(_, r)| r),
            cost: 1,
            algorithm: p.algorithm.map(|a| a.as_str().to_owned()),
            parsed: p.algorithm,
            quota: p.quotas.to_string(),
        }
    }

    pub(crate) fn as_core(&self) -> ratewarden::Limit<'_> {
        ratewarden::Limit {
            api_endpoint: &self.api_endpoint,
            quota: ratewarden::Quota::new(self.capacity, self.rate_per_second),
            cost: self.cost,
            algorithm: self.parsed,
        }
    }
}

/// The answer to `check_all` (immutable).
#[pyclass(frozen, module = "ratewarden")]
pub(crate) struct MultiDecision {
    /// Whether every limit had room (and the request was counted in all).
    #[pyo3(get)]
    allowed: bool,
    /// Index of the deciding limit.
    #[pyo3(get)]
    limiting: usize,
    decisions: Vec<Decision>,
    combined: Decision,
}

impl From<ratewarden::MultiDecision> for MultiDecision {
    fn from(m: ratewarden::MultiDecision) -> Self {
        MultiDecision {
            allowed: m.allowed,
            limiting: m.limiting(),
            combined: m.decision().into(),
            decisions: m.decisions.into_iter().map(Decision::from).collect(),
        }
    }
}

#[pymethods]
impl MultiDecision {
    /// One decision per limit, in order (`allowed` there: that limit alone had room).
    #[getter]
    fn decisions(&self) -> Vec<Decision> {
        self.decisions.clone()
    }

    /// The deciding limit's decision with the overall `allowed`: use it for headers.
    #[getter]
    fn decision(&self) -> Decision {
        self.combined.clone()
    }

    fn __bool__(&self) -> bool {
        self.allowed
    }

    fn __len__(&self) -> usize {
        self.decisions.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "MultiDecision(allowed={}, limiting={}, decisions=[{}])",
            if self.allowed { "True" } else { "False" },
            self.limiting,
            self.decisions
                .iter()
                .map(Decision::__repr__)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// A list (or other sequence) of `Limit`.
pub(crate) fn limits_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Limit>> {
    if obj.is_instance_of::<PyString>() {
        return Err(type_error(
            "limits must be a sequence of ratewarden.Limit, not str".into(),
        ));
    }
    let mut out = Vec::new();
    for item in obj
        .try_iter()
        .map_err(|_| type_error("limits must be a sequence of ratewarden.Limit".into()))?
    {
        let item = item?;
        let l = item.cast::<Limit>().map_err(|_| {
            type_error(format!(
                "limits must hold ratewarden.Limit objects, not {}",
                item.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string())
            ))
        })?;
        out.push(l.get().clone());
    }
    Ok(out)
}
