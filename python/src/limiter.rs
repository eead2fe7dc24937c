//! `Limiter` (blocking, GIL released while waiting), `AsyncLimiter`
//! (awaitables resolved from the core runtime) and the immutable `Decision`.

use std::borrow::Cow;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyString};
use pyo3::IntoPyObjectExt;

use crate::error::{invalid_argument, to_pyerr, type_error};

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

fn ceil_secs(us: u64) -> u64 {
    us.div_ceil(1_000_000)
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
        ceil_secs(self.retry_after_us)
    }

    /// HTTP headers for this decision: `RateLimit-Limit`, `RateLimit-Remaining`,
    /// `RateLimit-Reset` (seconds), plus `Retry-After` when denied.
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let h = PyDict::new(py);
        h.set_item("RateLimit-Limit", self.limit.to_string())?;
        h.set_item("RateLimit-Remaining", self.remaining.to_string())?;
        h.set_item("RateLimit-Reset", ceil_secs(self.reset_after_us).to_string())?;
        if !self.allowed {
            h.set_item("Retry-After", ceil_secs(self.retry_after_us).to_string())?;
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

/// A positive int argument; bools and non-ints are `TypeError`, out-of-range
/// ints `InvalidArgumentError` (the core checks the real limits).
fn u64_arg(py: Python<'_>, obj: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(type_error(format!(
            "{name} must be an int, not {}",
            obj.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string())
        )));
    }
    match obj.extract::<i128>() {
        Ok(v) if (0..=i128::from(u64::MAX)).contains(&v) => Ok(v as u64),
        _ => Err(invalid_argument(py, format!("{name} is out of range: {obj}"))),
    }
}

/// The optional `cost` argument (default 1).
fn cost_arg(py: Python<'_>, cost: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
    cost.map_or(Ok(1), |c| u64_arg(py, c, "cost"))
}

fn str_arg<'a>(py: Python<'_>, obj: &'a Bound<'_, PyAny>, name: &str) -> PyResult<Cow<'a, str>> {
    let s = obj.cast::<PyString>().map_err(|_| {
        type_error(format!(
            "{name} must be a str, not {}",
            obj.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })?;
    s.to_cow()
        .map_err(|_| invalid_argument(py, format!("{name} is not valid UTF-8 (lone surrogate?)")))
}

struct Call {
    client: String,
    endpoint: String,
    quota: ratewarden::Quota,
    cost: u64,
    algorithm: Option<ratewarden::Algorithm>,
}

#[allow(clippy::too_many_arguments)]
fn call_args(
    py: Python<'_>,
    client_id: &Bound<'_, PyAny>,
    api_endpoint: &Bound<'_, PyAny>,
    capacity: &Bound<'_, PyAny>,
    rate_per_second: &Bound<'_, PyAny>,
    cost: Option<&Bound<'_, PyAny>>,
    algorithm: Option<&Bound<'_, PyAny>>,
) -> PyResult<Call> {
    Ok(Call {
        algorithm: algorithm_arg(py, algorithm)?,
        client: str_arg(py, client_id, "client_id")?.into_owned(),
        endpoint: str_arg(py, api_endpoint, "api_endpoint")?.into_owned(),
        quota: ratewarden::Quota::new(
            u64_arg(py, capacity, "capacity")?,
            u64_arg(py, rate_per_second, "rate_per_second")?,
        ),
        cost: cost_arg(py, cost)?,
    })
}

fn timeout_arg(py: Python<'_>, timeout: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            invalid_argument(
                py,
                format!("timeout must be a positive number of seconds, got {timeout}"),
            )
        })
}

/// The options both limiter classes take, as given.
struct Options<'a> {
    url: &'a str,
    timeout: f64,
    key_prefix: &'a str,
    max_in_flight: usize,
    tls_root_cert_pem: Option<Vec<u8>>,
    algorithm: Option<&'a Bound<'a, PyAny>>,
    failure_mode: &'a str,
    local_share: f64,
    deny_cache: usize,
}

fn build(py: Python<'_>, o: Options<'_>) -> PyResult<ratewarden::Limiter> {
    let mut b = ratewarden::Limiter::builder(o.url)
        .timeout(timeout_arg(py, o.timeout)?)
        .key_prefix(o.key_prefix)
        .max_in_flight(o.max_in_flight);
    if let Some(pem) = o.tls_root_cert_pem {
        b = b.tls_root_cert_pem(pem);
    }
    if let Some(a) = algorithm_arg(py, o.algorithm)? {
        b = b.algorithm(a);
    }
    let mode: ratewarden::FailureMode = o.failure_mode.parse().map_err(|e| to_pyerr(py, e))?;
    b = b.failure_mode(mode).local_share(o.local_share).deny_cache(o.deny_cache);
    b.build().map_err(|e| to_pyerr(py, e))
}

/// `stats()` as a dict.
fn stats_dict(py: Python<'_>, s: ratewarden::Stats) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("allowed", s.allowed)?;
    d.set_item("denied", s.denied)?;
    d.set_item("errors", s.errors)?;
    d.set_item("fallbacks", s.fallbacks)?;
    d.set_item("cache_hits", s.cache_hits)?;
    d.set_item("circuit_open", s.circuit_open)?;
    d.set_item("latency_count", s.latency_buckets.iter().map(|b| b.1).sum::<u64>())?;
    d.set_item("latency_sum_seconds", s.latency_sum_us as f64 / 1e6)?;
    d.set_item("prometheus", s.to_prometheus("ratewarden"))?;
    Ok(d)
}

/// `None` or an algorithm name (str); anything else is `TypeError`.
fn algorithm_arg(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<ratewarden::Algorithm>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => {
            let name = str_arg(py, o, "algorithm")?;
            name.parse().map(Some).map_err(|e| to_pyerr(py, e))
        }
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
        Ok(Limit {
            api_endpoint: str_arg(py, api_endpoint, "api_endpoint")?.into_owned(),
            capacity: u64_arg(py, capacity, "capacity")?,
            rate_per_second: u64_arg(py, rate_per_second, "rate_per_second")?,
            cost: cost_arg(py, cost)?,
            algorithm: parsed.map(|a| a.as_str().to_owned()),
            parsed,
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
    fn as_core(&self) -> ratewarden::Limit<'_> {
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
fn limits_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Limit>> {
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

/// A blocking rate limiter. Thread-safe; the GIL is released while waiting.
#[pyclass(frozen, module = "ratewarden")]
pub(crate) struct Limiter {
    inner: ratewarden::blocking::Limiter,
    url: String,
}

#[pymethods]
impl Limiter {
    #[new]
    #[pyo3(signature = (url = "memory://", *, timeout = 1.0, key_prefix = "ratewarden:", max_in_flight = 1024, tls_root_cert_pem = None, algorithm = None, failure_mode = "error", local_share = 1.0, deny_cache = 10000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: &str,
        timeout: f64,
        key_prefix: &str,
        max_in_flight: usize,
        tls_root_cert_pem: Option<Vec<u8>>,
        algorithm: Option<&Bound<'_, PyAny>>,
        failure_mode: &str,
        local_share: f64,
        deny_cache: usize,
    ) -> PyResult<Self> {
        let o = Options {
            url,
            timeout,
            key_prefix,
            max_in_flight,
            tls_root_cert_pem,
            algorithm,
            failure_mode,
            local_share,
            deny_cache,
        };
        Ok(Limiter {
            inner: build(py, o)?.into(),
            url: url.to_owned(),
        })
    }

    /// May `client_id` call `api_endpoint` now? Counts the request if so.
    #[pyo3(signature = (client_id, api_endpoint, capacity, rate_per_second))]
    fn is_allowed(
        &self,
        py: Python<'_>,
        client_id: &Bound<'_, PyAny>,
        api_endpoint: &Bound<'_, PyAny>,
        capacity: &Bound<'_, PyAny>,
        rate_per_second: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let c = call_args(py, client_id, api_endpoint, capacity, rate_per_second, None, None)?;
        let inner = &self.inner;
        py.detach(|| inner.check(&c.client, &c.endpoint, c.quota, c.cost))
            .map(|d| d.allowed)
            .map_err(|e| to_pyerr(py, e))
    }

    /// The full decision for a request of `cost` units (all or nothing),
    /// with `algorithm` or the limiter's.
    #[pyo3(signature = (client_id, api_endpoint, capacity, rate_per_second, cost = None, *, algorithm = None))]
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        py: Python<'_>,
        client_id: &Bound<'_, PyAny>,
        api_endpoint: &Bound<'_, PyAny>,
        capacity: &Bound<'_, PyAny>,
        rate_per_second: &Bound<'_, PyAny>,
        cost: Option<&Bound<'_, PyAny>>,
        algorithm: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let c = call_args(py, client_id, api_endpoint, capacity, rate_per_second, cost, algorithm)?;
        let inner = &self.inner;
        let alg = c.algorithm.unwrap_or(inner.algorithm());
        py.detach(|| inner.check_with(&c.client, &c.endpoint, c.quota, c.cost, alg))
            .map(Decision::from)
            .map_err(|e| to_pyerr(py, e))
    }

    /// Several limits for one client in one atomic step: admitted only if
    /// every limit has room, and then counted in all of them.
    fn check_all(
        &self,
        py: Python<'_>,
        client_id: &Bound<'_, PyAny>,
        limits: &Bound<'_, PyAny>,
    ) -> PyResult<MultiDecision> {
        let client = str_arg(py, client_id, "client_id")?.into_owned();
        let limits = limits_arg(limits)?;
        let inner = &self.inner;
        py.detach(|| {
            let core: Vec<_> = limits.iter().map(Limit::as_core).collect();
            inner.check_all(&client, &core)
        })
        .map(MultiDecision::from)
        .map_err(|e| to_pyerr(py, e))
    }

    /// Decide by the policy stored for `api_endpoint` (or the default policy
    /// `"*"`); a change made anywhere reaches this limiter within 1 s.
    #[pyo3(signature = (client_id, api_endpoint, cost = None))]
    fn check_policy(
        &self,
        py: Python<'_>,
        client_id: &Bound<'_, PyAny>,
        api_endpoint: &Bound<'_, PyAny>,
        cost: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let client = str_arg(py, client_id, "client_id")?.into_owned();
        let endpoint = str_arg(py, api_endpoint, "api_endpoint")?.into_owned();
        let cost = cost_arg(py, cost)?;
        let inner = &self.inner;
        py.detach(|| inner.check_policy(&client, &endpoint, cost))
            .map(Decision::from)
            .map_err(|e| to_pyerr(py, e))
    }

    /// Store a policy (`name`: an endpoint, or `"*"` for the default) for
    /// every limiter on this backend and key prefix.
    #[pyo3(signature = (name, capacity, rate_per_second, *, algorithm = None))]
    fn set_policy(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        capacity: &Bound<'_, PyAny>,
        rate_per_second: &Bound<'_, PyAny>,
        algorithm: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let name = str_arg(py, name, "name")?.into_owned();
        let mut p = ratewarden::Policy::new(
            u64_arg(py, capacity, "capacity")?,
            u64_arg(py, rate_per_second, "rate_per_second")?,
        );
        if let Some(a) = algorithm_arg(py, algorithm)? {
            p = p.algorithm(a);
        }
        let inner = &self.inner;
        py.detach(|| inner.set_policy(&name, p)).map_err(|e| to_pyerr(py, e))
    }

    /// Remove the policy `name` (no-op if absent).
    fn delete_policy(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<()> {
        let name = str_arg(py, name, "name")?.into_owned();
        let inner = &self.inner;
        py.detach(|| inner.delete_policy(&name)).map_err(|e| to_pyerr(py, e))
    }

    /// Every stored policy: `{name: Limit}` (a Limit's cost is 1).
    fn policies(&self, py: Python<'_>) -> PyResult<std::collections::HashMap<String, Limit>> {
        let inner = &self.inner;
        let all = py.detach(|| inner.policies()).map_err(|e| to_pyerr(py, e))?;
        Ok(all
            .into_iter()
            .map(|(n, p)| {
                let l = Limit {
                    api_endpoint: n.clone(),
                    capacity: p.capacity,
                    rate_per_second: p.rate_per_second,
                    cost: 1,
                    algorithm: p.algorithm.map(|a| a.as_str().to_owned()),
                    parsed: p.algorithm,
                };
                (n, l)
            })
            .collect())
    }

    /// Counters since the limiter was built: allowed, denied, errors,
    /// fallbacks, circuit_open, latency_count, latency_sum_seconds, and all of
    /// it as Prometheus text under "prometheus".
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, self.inner.stats())
    }

    /// The algorithm of calls that name none.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.algorithm().as_str()
    }

    /// Round trip to the backend within the deadline.
    fn ping(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| inner.ping()).map_err(|e| to_pyerr(py, e))
    }

    /// The per-call deadline in seconds.
    #[getter]
    fn timeout(&self) -> f64 {
        self.inner.as_async().timeout().as_secs_f64()
    }

    fn __repr__(&self) -> String {
        format!("Limiter({:?})", redact(&self.url))
    }
}

/// An asyncio rate limiter: the same methods, as coroutines-like awaitables.
/// The event loop never blocks; work runs on the core's runtime.
#[pyclass(frozen, module = "ratewarden")]
pub(crate) struct AsyncLimiter {
    inner: ratewarden::Limiter,
    url: String,
}

static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Resolves one asyncio future from any thread (through the loop's
/// `call_soon_threadsafe`).
struct Completer {
    loop_ref: Py<PyAny>,
    fut_ref: Py<PyAny>,
}

impl Completer {
    fn complete<T>(self, out: Result<T, ratewarden::Error>)
    where
        T: for<'a> IntoPyObject<'a>,
    {
        Python::try_attach(|py| {
            let deliver = || -> PyResult<()> {
                let (value, exc): (Py<PyAny>, Py<PyAny>) = match out {
                    Ok(v) => (v.into_py_any(py)?, py.None()),
                    Err(e) => (py.None(), to_pyerr(py, e).into_value(py).into_any()),
                };
                let resolve = RESOLVE.get_or_try_init(py, || {
                    Ok::<_, PyErr>(py.import("ratewarden._aio")?.getattr("resolve")?.unbind())
                })?;
                self.loop_ref
                    .bind(py)
                    .call_method1("call_soon_threadsafe", (resolve, self.fut_ref.bind(py), value, exc))?;
                Ok(())
            };
            if let Err(e) = deliver() {
                // The loop was closed before the answer came back.
                tracing::debug!(target: "ratewarden", "could not deliver an async result: {e}");
            }
        });
    }
}

/// A new asyncio future of the running loop and what resolves it.
fn asyncio_future(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Completer)> {
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let py_fut = event_loop.call_method0("create_future")?;
    let completer = Completer {
        loop_ref: event_loop.unbind(),
        fut_ref: py_fut.clone().unbind(),
    };
    Ok((py_fut, completer))
}

#[pymethods]
impl AsyncLimiter {
    #[new]
    #[pyo3(signature = (url = "memory://", *, timeout = 1.0, key_prefix = "ratewarden:", max_in_flight = 1024, tls_root_cert_pem = None, algorithm = None, failure_mode = "error", local_share = 1.0, deny_cache = 10000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: &str,
        timeout: f64,
        key_prefix: &str,
        max_in_flight: usize,
        tls_root_cert_pem: Option<Vec<u8>>,
        algorithm: Option<&Bound<'_, PyAny>>,
        failure_mode: &str,
        local_share: f64,
        deny_cache: usize,
    ) -> PyResult<Self> {
        let o = Options {
            url,
            timeout,
            key_prefix,
            max_in_flight,
            tls_root_cert_pem,
            algorithm,
            failure_mode,
            local_share,
            deny_cache,
        };
        Ok(AsyncLimiter {
            inner: build(py, o)?,
            url: url.to_owned(),
        })
    }

    /// Awaitable: may `client_id` call `api_endpoint` now?
    #[pyo3(signature = (client_id, api_endpoint, capacity, rate_per_second))]
    fn is_allowed<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
        capacity: &Bound<'py, PyAny>,
        rate_per_second: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = call_args(py, client_id, api_endpoint, capacity, rate_per_second, None, None)?;
        let (fut, completer) = asyncio_future(py)?;
        self.inner
            .check_callback(&c.client, &c.endpoint, c.quota, c.cost, None, move |r| {
                completer.complete(r.map(|d| d.allowed))
            });
        Ok(fut)
    }

    /// Awaitable: the full decision for a request of `cost` units, with
    /// `algorithm` or the limiter's.
    #[pyo3(signature = (client_id, api_endpoint, capacity, rate_per_second, cost = None, *, algorithm = None))]
    #[allow(clippy::too_many_arguments)]
    fn check<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
        capacity: &Bound<'py, PyAny>,
        rate_per_second: &Bound<'py, PyAny>,
        cost: Option<&Bound<'py, PyAny>>,
        algorithm: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = call_args(py, client_id, api_endpoint, capacity, rate_per_second, cost, algorithm)?;
        let (fut, completer) = asyncio_future(py)?;
        self.inner
            .check_callback(&c.client, &c.endpoint, c.quota, c.cost, c.algorithm, move |r| {
                completer.complete(r.map(Decision::from))
            });
        Ok(fut)
    }

    /// Awaitable: several limits for one client in one atomic step.
    fn check_all<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        limits: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = str_arg(py, client_id, "client_id")?.into_owned();
        let limits = limits_arg(limits)?;
        let core: Vec<_> = limits.iter().map(Limit::as_core).collect();
        let (fut, completer) = asyncio_future(py)?;
        self.inner
            .check_all_callback(&client, &core, move |r| completer.complete(r.map(MultiDecision::from)));
        Ok(fut)
    }

    /// Awaitable round trip to the backend within the deadline.
    fn ping<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        let (fut, completer) = asyncio_future(py)?;
        ratewarden::runtime::handle().spawn(async move { completer.complete(inner.ping().await) });
        Ok(fut)
    }

    /// Awaitable: decide by the policy stored for `api_endpoint` (or `"*"`).
    #[pyo3(signature = (client_id, api_endpoint, cost = None))]
    fn check_policy<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
        cost: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = str_arg(py, client_id, "client_id")?.into_owned();
        let endpoint = str_arg(py, api_endpoint, "api_endpoint")?.into_owned();
        let cost = cost_arg(py, cost)?;
        let inner = self.inner.clone();
        let (fut, completer) = asyncio_future(py)?;
        ratewarden::runtime::handle().spawn(async move {
            completer.complete(inner.check_policy(&client, &endpoint, cost).await.map(Decision::from))
        });
        Ok(fut)
    }

    /// Counters since the limiter was built (see `Limiter.stats`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, self.inner.stats())
    }

    /// The algorithm of calls that name none.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.algorithm().as_str()
    }

    /// The per-call deadline in seconds.
    #[getter]
    fn timeout(&self) -> f64 {
        self.inner.timeout().as_secs_f64()
    }

    fn __repr__(&self) -> String {
        format!("AsyncLimiter({:?})", redact(&self.url))
    }
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..s + 3 + colon], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}
