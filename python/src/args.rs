//! Argument conversion shared by every class: ints, strings, costs and
//! algorithm names. Wrong Python types are `TypeError`; ranges are the
//! core's to check.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};

use crate::error::{invalid_argument, to_pyerr, type_error};

/// A positive int argument; bools and non-ints are `TypeError`, out-of-range
/// ints `InvalidArgumentError` (the core checks the real limits).
pub(crate) fn u64_arg(py: Python<'_>, obj: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
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
pub(crate) fn cost_arg(py: Python<'_>, cost: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
    cost.map_or(Ok(1), |c| u64_arg(py, c, "cost"))
}

pub(crate) fn str_arg<'a>(py: Python<'_>, obj: &'a Bound<'_, PyAny>, name: &str) -> PyResult<Cow<'a, str>> {
    let s = obj.cast::<PyString>().map_err(|_| {
        type_error(format!(
            "{name} must be a str, not {}",
            obj.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })?;
    s.to_cow()
        .map_err(|_| invalid_argument(py, format!("{name} is not valid UTF-8 (lone surrogate?)")))
}

pub(crate) struct Call {
    pub(crate) client: String,
    pub(crate) endpoint: String,
    pub(crate) quota: ratewarden::Quotas,
    pub(crate) cost: u64,
    pub(crate) algorithm: Option<ratewarden::Algorithm>,
}

/// The arguments of a call on one endpoint: ids, the quota in either form
/// (`capacity, rate_per_second` or `quota=`), cost and algorithm.
#[allow(clippy::too_many_arguments)]
pub(crate) fn call_args(
    py: Python<'_>,
    client_id: &Bound<'_, PyAny>,
    api_endpoint: &Bound<'_, PyAny>,
    capacity: Option<&Bound<'_, PyAny>>,
    rate_per_second: Option<&Bound<'_, PyAny>>,
    cost: Option<&Bound<'_, PyAny>>,
    algorithm: Option<&Bound<'_, PyAny>>,
    quota: Option<&Bound<'_, PyAny>>,
) -> PyResult<Call> {
    Ok(Call {
        algorithm: algorithm_arg(py, algorithm)?,
        client: str_arg(py, client_id, "client_id")?.into_owned(),
        endpoint: str_arg(py, api_endpoint, "api_endpoint")?.into_owned(),
        quota: crate::quota::quotas_arg(py, quota, capacity, rate_per_second)?,
        cost: cost_arg(py, cost)?,
    })
}

/// The seed's call, `(client_id, api_endpoint, capacity, rate_per_second)`:
/// both numbers required ints (`None` is a `TypeError` here).
pub(crate) fn seed_args(
    py: Python<'_>,
    client_id: &Bound<'_, PyAny>,
    api_endpoint: &Bound<'_, PyAny>,
    capacity: &Bound<'_, PyAny>,
    rate_per_second: &Bound<'_, PyAny>,
) -> PyResult<Call> {
    u64_arg(py, capacity, "capacity")?;
    u64_arg(py, rate_per_second, "rate_per_second")?;
    call_args(
        py,
        client_id,
        api_endpoint,
        Some(capacity),
        Some(rate_per_second),
        None,
        None,
        None,
    )
}

/// A duration in seconds (int or float; bools and others are `TypeError`).
pub(crate) fn secs_arg(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<std::time::Duration> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Err(crate::error::invalid_argument(
            py,
            format!("{name} (seconds) is required"),
        ));
    };
    if obj.is_instance_of::<PyBool>()
        || !(obj.is_instance_of::<PyInt>() || obj.is_instance_of::<pyo3::types::PyFloat>())
    {
        return Err(type_error(format!("{name} must be a number of seconds")));
    }
    let secs: f64 = obj.extract()?;
    ratewarden::duration_from_secs(name, secs).map_err(|e| to_pyerr(py, e))
}

/// `None` or an algorithm name (str); anything else is `TypeError`.
pub(crate) fn algorithm_arg(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<ratewarden::Algorithm>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => {
            let name = str_arg(py, o, "algorithm")?;
            name.parse().map(Some).map_err(|e| to_pyerr(py, e))
        }
    }
}
