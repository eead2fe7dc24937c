//! Live policies: the arguments of `set_policy` and the result of
//! `policies()`, shared by `Limiter` and `AsyncLimiter`.

use std::collections::HashMap;

use pyo3::prelude::*;

use crate::args::{algorithm_arg, str_arg};
use crate::decision::Limit;

/// `set_policy(name, capacity=None, rate_per_second=None, *,
/// algorithm=None, quota=None)` arguments.
pub(crate) fn policy_args(
    py: Python<'_>,
    name: &Bound<'_, PyAny>,
    capacity: Option<&Bound<'_, PyAny>>,
    rate_per_second: Option<&Bound<'_, PyAny>>,
    algorithm: Option<&Bound<'_, PyAny>>,
    quota: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, ratewarden::Policy)> {
    let name = str_arg(py, name, "name")?.into_owned();
    let quotas = crate::quota::quotas_arg(py, quota, capacity, rate_per_second)?;
    let mut p = ratewarden::Policy::quota(quotas).map_err(|e| crate::error::to_pyerr(py, e))?;
    if let Some(a) = algorithm_arg(py, algorithm)? {
        p = p.algorithm(a);
    }
    Ok((name, p))
}

/// `{name: Limit}` (a Limit's cost is 1).
pub(crate) fn policy_map(all: HashMap<String, ratewarden::Policy>) -> HashMap<String, Limit> {
    all.into_iter()
        .map(|(n, p)| (n.clone(), Limit::from_policy(n, &p)))
        .collect()
}
