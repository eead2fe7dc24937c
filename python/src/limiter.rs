//! `Limiter` (blocking, GIL released while waiting), `AsyncLimiter`
//! (awaitables resolved from the core runtime) and the immutable `Decision`.

use std::borrow::Cow;
use std::future::Future;
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
}

#[allow(clippy::too_many_arguments)]
fn call_args(
    py: Python<'_>,
    client_id: &Bound<'_, PyAny>,
    api_endpoint: &Bound<'_, PyAny>,
    capacity: &Bound<'_, PyAny>,
    rate_per_second: &Bound<'_, PyAny>,
    cost: Option<&Bound<'_, PyAny>>,
) -> PyResult<Call> {
    Ok(Call {
        client: str_arg(py, client_id, "client_id")?.into_owned(),
        endpoint: str_arg(py, api_endpoint, "api_endpoint")?.into_owned(),
        quota: ratewarden::Quota::new(
            u64_arg(py, capacity, "capacity")?,
            u64_arg(py, rate_per_second, "rate_per_second")?,
        ),
        cost: match cost {
            Some(c) => u64_arg(py, c, "cost")?,
            None => 1,
        },
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

fn builder(
    py: Python<'_>,
    url: &str,
    timeout: f64,
    key_prefix: &str,
    max_in_flight: usize,
    tls_root_cert_pem: Option<Vec<u8>>,
) -> PyResult<ratewarden::LimiterBuilder> {
    let mut b = ratewarden::Limiter::builder(url)
        .timeout(timeout_arg(py, timeout)?)
        .key_prefix(key_prefix)
        .max_in_flight(max_in_flight);
    if let Some(pem) = tls_root_cert_pem {
        b = b.tls_root_cert_pem(pem);
    }
    Ok(b)
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
    #[pyo3(signature = (url = "memory://", *, timeout = 1.0, key_prefix = "ratewarden:", max_in_flight = 1024, tls_root_cert_pem = None))]
    fn new(
        py: Python<'_>,
        url: &str,
        timeout: f64,
        key_prefix: &str,
        max_in_flight: usize,
        tls_root_cert_pem: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        let b = builder(py, url, timeout, key_prefix, max_in_flight, tls_root_cert_pem)?;
        let inner = b.build().map_err(|e| to_pyerr(py, e))?;
        Ok(Limiter {
            inner: inner.into(),
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
        let c = call_args(py, client_id, api_endpoint, capacity, rate_per_second, None)?;
        let inner = &self.inner;
        py.detach(|| inner.check(&c.client, &c.endpoint, c.quota, c.cost))
            .map(|d| d.allowed)
            .map_err(|e| to_pyerr(py, e))
    }

    /// The full decision for a request of `cost` units (all or nothing).
    #[pyo3(signature = (client_id, api_endpoint, capacity, rate_per_second, cost = None))]
    fn check(
        &self,
        py: Python<'_>,
        client_id: &Bound<'_, PyAny>,
        api_endpoint: &Bound<'_, PyAny>,
        capacity: &Bound<'_, PyAny>,
        rate_per_second: &Bound<'_, PyAny>,
        cost: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let c = call_args(py, client_id, api_endpoint, capacity, rate_per_second, cost)?;
        let inner = &self.inner;
        py.detach(|| inner.check(&c.client, &c.endpoint, c.quota, c.cost))
            .map(Decision::from)
            .map_err(|e| to_pyerr(py, e))
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

/// Run `fut` on the core runtime; return an asyncio future of the running
/// loop that it resolves.
fn into_asyncio<'py, T, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
    F: Future<Output = Result<T, ratewarden::Error>> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let py_fut = event_loop.call_method0("create_future")?;
    let loop_ref = event_loop.unbind();
    let fut_ref = py_fut.clone().unbind();
    ratewarden::runtime::handle().spawn(async move {
        let out = fut.await;
        Python::try_attach(|py| {
            let deliver = || -> PyResult<()> {
                let (value, exc): (Py<PyAny>, Py<PyAny>) = match out {
                    Ok(v) => (v.into_py_any(py)?, py.None()),
                    Err(e) => (py.None(), to_pyerr(py, e).into_value(py).into_any()),
                };
                let resolve = RESOLVE.get_or_try_init(py, || {
                    Ok::<_, PyErr>(py.import("ratewarden._aio")?.getattr("resolve")?.unbind())
                })?;
                loop_ref
                    .bind(py)
                    .call_method1("call_soon_threadsafe", (resolve, fut_ref.bind(py), value, exc))?;
                Ok(())
            };
            if let Err(e) = deliver() {
                // The loop was closed before the answer came back.
                tracing::debug!(target: "ratewarden", "could not deliver an async result: {e}");
            }
        });
    });
    Ok(py_fut)
}

#[pymethods]
impl AsyncLimiter {
    #[new]
    #[pyo3(signature = (url = "memory://", *, timeout = 1.0, key_prefix = "ratewarden:", max_in_flight = 1024, tls_root_cert_pem = None))]
    fn new(
        py: Python<'_>,
        url: &str,
        timeout: f64,
        key_prefix: &str,
        max_in_flight: usize,
        tls_root_cert_pem: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        let b = builder(py, url, timeout, key_prefix, max_in_flight, tls_root_cert_pem)?;
        let inner = b.build().map_err(|e| to_pyerr(py, e))?;
        Ok(AsyncLimiter {
            inner,
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
        let c = call_args(py, client_id, api_endpoint, capacity, rate_per_second, None)?;
        let inner = self.inner.clone();
        into_asyncio(py, async move {
            inner
                .check(&c.client, &c.endpoint, c.quota, c.cost)
                .await
                .map(|d| d.allowed)
        })
    }

    /// Awaitable: the full decision for a request of `cost` units.
    #[pyo3(signature = (client_id, api_endpoint, capacity, rate_per_second, cost = None))]
    fn check<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
        capacity: &Bound<'py, PyAny>,
        rate_per_second: &Bound<'py, PyAny>,
        cost: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = call_args(py, client_id, api_endpoint, capacity, rate_per_second, cost)?;
        let inner = self.inner.clone();
        into_asyncio(py, async move {
            inner
                .check(&c.client, &c.endpoint, c.quota, c.cost)
                .await
                .map(Decision::from)
        })
    }

    /// Awaitable round trip to the backend within the deadline.
    fn ping<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        into_asyncio(py, async move { inner.ping().await })
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
