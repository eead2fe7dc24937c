//! `Limiter` (blocking, GIL released while waiting) and `AsyncLimiter`
//! (awaitables resolved from the core runtime): the same operations.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::aio::asyncio_future;
use crate::args::{call_args, cost_arg, secs_arg, seed_args, str_arg};
use crate::decision::{limits_arg, Decision, Limit, MultiDecision};
use crate::error::to_pyerr;
use crate::http::{http_args, Verdict};
use crate::options;
use crate::policy::{policy_args, policy_map};
use crate::stats::stats_dict;

/// A blocking rate limiter. Thread-safe; the GIL is released while waiting.
#[pyclass(frozen, module = "ratewarden")]
pub(crate) struct Limiter {
    inner: ratewarden::blocking::Limiter,
    url: String,
}

#[pymethods]
impl Limiter {
    /// `url` and keyword options (see `ratewarden.OPTIONS`): `timeout`
    /// (seconds), `key_prefix`, `max_in_flight`, `tls_root_cert_pem`,
    /// `tls_client_cert_pem`, `tls_client_key_pem`, `algorithm`,
    /// `failure_mode`, `local_share`, `breaker_threshold`,
    /// `breaker_open_for` (seconds), `deny_cache`.
    #[new]
    #[pyo3(signature = (url = "memory://", **options))]
    fn new(py: Python<'_>, url: &str, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Ok(Limiter {
            inner: options::builder(py, url, options)?
                .build()
                .map_err(|e| to_pyerr(py, e))?
                .into(),
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
        let c = seed_args(py, client_id, api_endpoint, capacity, rate_per_second)?;
        let inner = &self.inner;
        py.detach(|| inner.check(&c.client, &c.endpoint, c.quota, c.cost))
            .map(|d| d.allowed)
            .map_err(|e| to_pyerr(py, e))
    }

    /// The full decision for a request of `cost` units (all or nothing),
    /// with `algorithm` or the limiter's.
    /// `quota=` (a notation string such as `"5/minute"` or a
    /// `ratewarden.Quota`) replaces `capacity, rate_per_second`.
    #[pyo3(signature = (client_id, api_endpoint, capacity = None, rate_per_second = None, cost = None, *, algorithm = None, quota = None))]
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        py: Python<'_>,
        client_id: &Bound<'_, PyAny>,
        api_endpoint: &Bound<'_, PyAny>,
        capacity: Option<&Bound<'_, PyAny>>,
        rate_per_second: Option<&Bound<'_, PyAny>>,
        cost: Option<&Bound<'_, PyAny>>,
        algorithm: Option<&Bound<'_, PyAny>>,
        quota: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let c = call_args(
            py,
            client_id,
            api_endpoint,
            capacity,
            rate_per_second,
            cost,
            algorithm,
            quota,
        )?;
        let inner = &self.inner;
        let alg = c.algorithm.unwrap_or(inner.algorithm());
        py.detach(|| inner.check_with(&c.client, &c.endpoint, c.quota, c.cost, alg))
            .map(Decision::from)
            .map_err(|e| to_pyerr(py, e))
    }

    /// The decision a cost-1 `check` would get now, counting nothing.
    #[pyo3(signature = (client_id, api_endpoint, capacity = None, rate_per_second = None, *, quota = None))]
    fn peek(
        &self,
        py: Python<'_>,
        client_id: &Bound<'_, PyAny>,
        api_endpoint: &Bound<'_, PyAny>,
        capacity: Option<&Bound<'_, PyAny>>,
        rate_per_second: Option<&Bound<'_, PyAny>>,
        quota: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let c = call_args(
            py,
            client_id,
            api_endpoint,
            capacity,
            rate_per_second,
            None,
            None,
            quota,
        )?;
        let inner = &self.inner;
        py.detach(|| inner.peek(&c.client, &c.endpoint, c.quota))
            .map(Decision::from)
            .map_err(|e| to_pyerr(py, e))
    }

    /// Give back `cost` units of the latest admissions; returns what a
    /// cost-1 check would get afterwards.
    #[pyo3(signature = (client_id, api_endpoint, capacity = None, rate_per_second = None, cost = None, *, quota = None))]
    #[allow(clippy::too_many_arguments)]
    fn refund(
        &self,
        py: Python<'_>,
        client_id: &Bound<'_, PyAny>,
        api_endpoint: &Bound<'_, PyAny>,
        capacity: Option<&Bound<'_, PyAny>>,
        rate_per_second: Option<&Bound<'_, PyAny>>,
        cost: Option<&Bound<'_, PyAny>>,
        quota: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let c = call_args(
            py,
            client_id,
            api_endpoint,
            capacity,
            rate_per_second,
            cost,
            None,
            quota,
        )?;
        let inner = &self.inner;
        py.detach(|| inner.refund(&c.client, &c.endpoint, c.quota, c.cost))
            .map(Decision::from)
            .map_err(|e| to_pyerr(py, e))
    }

    /// Refuse the client on this endpoint and quota for `duration` seconds.
    #[pyo3(signature = (client_id, api_endpoint, capacity = None, rate_per_second = None, *, quota = None, duration = None))]
    #[allow(clippy::too_many_arguments)]
    fn block(
        &self,
        py: Python<'_>,
        client_id: &Bound<'_, PyAny>,
        api_endpoint: &Bound<'_, PyAny>,
        capacity: Option<&Bound<'_, PyAny>>,
        rate_per_second: Option<&Bound<'_, PyAny>>,
        quota: Option<&Bound<'_, PyAny>>,
        duration: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let c = call_args(
            py,
            client_id,
            api_endpoint,
            capacity,
            rate_per_second,
            None,
            None,
            quota,
        )?;
        let d = secs_arg(py, duration, "duration")?;
        let inner = &self.inner;
        py.detach(|| inner.block(&c.client, &c.endpoint, c.quota, d))
            .map(Decision::from)
            .map_err(|e| to_pyerr(py, e))
    }

    /// Decide an HTTP request: `key` (e.g. `ClientIp.key(...)`) on `scope`
    /// (a route, or "*") under `rule` (a `ratewarden.Rule`), counting
    /// `cost`; returns the `Verdict` (status, headers, body) to answer with.
    #[pyo3(signature = (key, scope, rule, cost = None))]
    fn check_http(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        scope: &Bound<'_, PyAny>,
        rule: &Bound<'_, PyAny>,
        cost: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Verdict> {
        let (key, scope, rule, cost) = http_args(py, key, scope, rule, cost)?;
        let inner = &self.inner;
        py.detach(|| inner.check_http(&key, &scope, &rule, cost))
            .map(Verdict::from)
            .map_err(|e| to_pyerr(py, e))
    }

    /// Forget all state of (client_id, api_endpoint): every algorithm and quota.
    fn reset(&self, py: Python<'_>, client_id: &Bound<'_, PyAny>, api_endpoint: &Bound<'_, PyAny>) -> PyResult<()> {
        let client = str_arg(py, client_id, "client_id")?.into_owned();
        let endpoint = str_arg(py, api_endpoint, "api_endpoint")?.into_owned();
        let inner = &self.inner;
        py.detach(|| inner.reset(&client, &endpoint))
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
    #[pyo3(signature = (name, capacity = None, rate_per_second = None, *, algorithm = None, quota = None))]
    fn set_policy(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        capacity: Option<&Bound<'_, PyAny>>,
        rate_per_second: Option<&Bound<'_, PyAny>>,
        algorithm: Option<&Bound<'_, PyAny>>,
        quota: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (name, p) = policy_args(py, name, capacity, rate_per_second, algorithm, quota)?;
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
    fn policies(&self, py: Python<'_>) -> PyResult<HashMap<String, Limit>> {
        let inner = &self.inner;
        let all = py.detach(|| inner.policies()).map_err(|e| to_pyerr(py, e))?;
        Ok(policy_map(all))
    }

    /// Counters since the limiter was built: allowed, denied, errors,
    /// fallbacks, circuit_open, latency_count, latency_sum_seconds, and all of
    /// it as Prometheus text under "prometheus".
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, self.inner.stats())
    }

    /// The failure mode: "error", "allow", "deny" or "local".
    #[getter]
    fn failure_mode(&self) -> &'static str {
        self.inner.failure_mode().as_str()
    }

    /// The policy `check_policy` applies to `api_endpoint` now (its own or
    /// the default `"*"`), as a `Limit` of cost 1 named after the policy's
    /// endpoint argument.
    fn resolved_policy(&self, py: Python<'_>, api_endpoint: &Bound<'_, PyAny>) -> PyResult<Limit> {
        let endpoint = str_arg(py, api_endpoint, "api_endpoint")?.into_owned();
        let inner = &self.inner;
        let p = py
            .detach(|| inner.resolved_policy(&endpoint))
            .map_err(|e| to_pyerr(py, e))?;
        Ok(Limit::from_policy(endpoint, &p))
    }

    /// The Redis key a decision for these arguments uses with the limiter's
    /// algorithm (for inspection), or None on memory:// or for invalid arguments.
    fn redis_key<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
        capacity: &Bound<'py, PyAny>,
        rate_per_second: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        redis_key(
            py,
            self.inner.as_async(),
            (client_id, api_endpoint, capacity, rate_per_second),
        )
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

/// `redis_key(...)` of both classes.
fn redis_key<'py>(
    py: Python<'py>,
    inner: &ratewarden::Limiter,
    (client_id, api_endpoint, capacity, rate_per_second): (
        &Bound<'py, PyAny>,
        &Bound<'py, PyAny>,
        &Bound<'py, PyAny>,
        &Bound<'py, PyAny>,
    ),
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let c = seed_args(py, client_id, api_endpoint, capacity, rate_per_second)?;
    let key = inner.redis_key(&c.client, &c.endpoint, c.quota);
    Ok(key.map(|k| PyBytes::new(py, &k)))
}

#[pymethods]
impl AsyncLimiter {
    /// `url` and keyword options (see `ratewarden.OPTIONS`): `timeout`
    /// (seconds), `key_prefix`, `max_in_flight`, `tls_root_cert_pem`,
    /// `tls_client_cert_pem`, `tls_client_key_pem`, `algorithm`,
    /// `failure_mode`, `local_share`, `breaker_threshold`,
    /// `breaker_open_for` (seconds), `deny_cache`.
    #[new]
    #[pyo3(signature = (url = "memory://", **options))]
    fn new(py: Python<'_>, url: &str, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Ok(AsyncLimiter {
            inner: options::builder(py, url, options)?
                .build()
                .map_err(|e| to_pyerr(py, e))?,
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
        let c = seed_args(py, client_id, api_endpoint, capacity, rate_per_second)?;
        let (fut, completer) = asyncio_future(py)?;
        self.inner
            .check_callback(&c.client, &c.endpoint, c.quota, c.cost, None, move |r| {
                completer.complete(r.map(|d| d.allowed))
            });
        Ok(fut)
    }

    /// Awaitable: the full decision for a request of `cost` units, with
    /// `algorithm` or the limiter's.
    #[pyo3(signature = (client_id, api_endpoint, capacity = None, rate_per_second = None, cost = None, *, algorithm = None, quota = None))]
    #[allow(clippy::too_many_arguments)]
    fn check<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
        capacity: Option<&Bound<'py, PyAny>>,
        rate_per_second: Option<&Bound<'py, PyAny>>,
        cost: Option<&Bound<'py, PyAny>>,
        algorithm: Option<&Bound<'py, PyAny>>,
        quota: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = call_args(
            py,
            client_id,
            api_endpoint,
            capacity,
            rate_per_second,
            cost,
            algorithm,
            quota,
        )?;
        let (fut, completer) = asyncio_future(py)?;
        self.inner
            .check_callback(&c.client, &c.endpoint, c.quota, c.cost, c.algorithm, move |r| {
                completer.complete(r.map(Decision::from))
            });
        Ok(fut)
    }

    /// Awaitable: the decision a cost-1 `check` would get now, counting nothing.
    #[pyo3(signature = (client_id, api_endpoint, capacity = None, rate_per_second = None, *, quota = None))]
    fn peek<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
        capacity: Option<&Bound<'py, PyAny>>,
        rate_per_second: Option<&Bound<'py, PyAny>>,
        quota: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = call_args(
            py,
            client_id,
            api_endpoint,
            capacity,
            rate_per_second,
            None,
            None,
            quota,
        )?;
        let inner = self.inner.clone();
        let (fut, completer) = asyncio_future(py)?;
        ratewarden::runtime::handle().spawn(async move {
            completer.complete(inner.peek(&c.client, &c.endpoint, c.quota).await.map(Decision::from))
        });
        Ok(fut)
    }

    /// Awaitable: give back `cost` units of the latest admissions.
    #[pyo3(signature = (client_id, api_endpoint, capacity = None, rate_per_second = None, cost = None, *, quota = None))]
    #[allow(clippy::too_many_arguments)]
    fn refund<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
        capacity: Option<&Bound<'py, PyAny>>,
        rate_per_second: Option<&Bound<'py, PyAny>>,
        cost: Option<&Bound<'py, PyAny>>,
        quota: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = call_args(
            py,
            client_id,
            api_endpoint,
            capacity,
            rate_per_second,
            cost,
            None,
            quota,
        )?;
        let inner = self.inner.clone();
        let (fut, completer) = asyncio_future(py)?;
        ratewarden::runtime::handle().spawn(async move {
            completer.complete(
                inner
                    .refund(&c.client, &c.endpoint, c.quota, c.cost)
                    .await
                    .map(Decision::from),
            )
        });
        Ok(fut)
    }

    /// Awaitable: refuse the client on this endpoint and quota for `duration` seconds.
    #[pyo3(signature = (client_id, api_endpoint, capacity = None, rate_per_second = None, *, quota = None, duration = None))]
    #[allow(clippy::too_many_arguments)]
    fn block<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
        capacity: Option<&Bound<'py, PyAny>>,
        rate_per_second: Option<&Bound<'py, PyAny>>,
        quota: Option<&Bound<'py, PyAny>>,
        duration: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = call_args(
            py,
            client_id,
            api_endpoint,
            capacity,
            rate_per_second,
            None,
            None,
            quota,
        )?;
        let d = secs_arg(py, duration, "duration")?;
        let inner = self.inner.clone();
        let (fut, completer) = asyncio_future(py)?;
        ratewarden::runtime::handle().spawn(async move {
            completer.complete(
                inner
                    .block(&c.client, &c.endpoint, c.quota, d)
                    .await
                    .map(Decision::from),
            )
        });
        Ok(fut)
    }

    /// Awaitable: the `Verdict` on an HTTP request (see `Limiter.check_http`).
    #[pyo3(signature = (key, scope, rule, cost = None))]
    fn check_http<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        scope: &Bound<'py, PyAny>,
        rule: &Bound<'py, PyAny>,
        cost: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (key, scope, rule, cost) = http_args(py, key, scope, rule, cost)?;
        let (fut, completer) = asyncio_future(py)?;
        self.inner.check_http_callback(&key, &scope, &rule, cost, move |r| {
            completer.complete(r.map(Verdict::from))
        });
        Ok(fut)
    }

    /// Awaitable: forget all state of (client_id, api_endpoint).
    fn reset<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = str_arg(py, client_id, "client_id")?.into_owned();
        let endpoint = str_arg(py, api_endpoint, "api_endpoint")?.into_owned();
        let inner = self.inner.clone();
        let (fut, completer) = asyncio_future(py)?;
        ratewarden::runtime::handle().spawn(async move { completer.complete(inner.reset(&client, &endpoint).await) });
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

    /// Awaitable: store a policy for every limiter on this backend and key prefix.
    #[pyo3(signature = (name, capacity = None, rate_per_second = None, *, algorithm = None, quota = None))]
    fn set_policy<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyAny>,
        capacity: Option<&Bound<'py, PyAny>>,
        rate_per_second: Option<&Bound<'py, PyAny>>,
        algorithm: Option<&Bound<'py, PyAny>>,
        quota: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (name, p) = policy_args(py, name, capacity, rate_per_second, algorithm, quota)?;
        let inner = self.inner.clone();
        let (fut, completer) = asyncio_future(py)?;
        ratewarden::runtime::handle().spawn(async move { completer.complete(inner.set_policy(&name, p).await) });
        Ok(fut)
    }

    /// Awaitable: remove the policy `name` (no-op if absent).
    fn delete_policy<'py>(&self, py: Python<'py>, name: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let name = str_arg(py, name, "name")?.into_owned();
        let inner = self.inner.clone();
        let (fut, completer) = asyncio_future(py)?;
        ratewarden::runtime::handle().spawn(async move { completer.complete(inner.delete_policy(&name).await) });
        Ok(fut)
    }

    /// Awaitable: every stored policy, `{name: Limit}`.
    fn policies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        let (fut, completer) = asyncio_future(py)?;
        ratewarden::runtime::handle().spawn(async move { completer.complete(inner.policies().await.map(policy_map)) });
        Ok(fut)
    }

    /// Counters since the limiter was built (see `Limiter.stats`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, self.inner.stats())
    }

    /// The failure mode: "error", "allow", "deny" or "local".
    #[getter]
    fn failure_mode(&self) -> &'static str {
        self.inner.failure_mode().as_str()
    }

    /// Awaitable: the policy `check_policy` applies to `api_endpoint` now.
    fn resolved_policy<'py>(&self, py: Python<'py>, api_endpoint: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let endpoint = str_arg(py, api_endpoint, "api_endpoint")?.into_owned();
        let inner = self.inner.clone();
        let (fut, completer) = asyncio_future(py)?;
        ratewarden::runtime::handle().spawn(async move {
            let r = inner.resolved_policy(&endpoint).await;
            completer.complete(r.map(|p| Limit::from_policy(endpoint, &p)))
        });
        Ok(fut)
    }

    /// The Redis key a decision for these arguments uses (see `Limiter.redis_key`).
    fn redis_key<'py>(
        &self,
        py: Python<'py>,
        client_id: &Bound<'py, PyAny>,
        api_endpoint: &Bound<'py, PyAny>,
        capacity: &Bound<'py, PyAny>,
        rate_per_second: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        redis_key(py, &self.inner, (client_id, api_endpoint, capacity, rate_per_second))
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
