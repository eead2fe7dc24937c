//! Live policies: the arguments of `set_policy` and the result of
//! `policies()`, shared by `Limiter` and `AsyncLimiter`.

use std::collections::HashMap;

use pyo3::prelude::*;

use crate::args::{algorithm_arg, str_arg, u64_arg};
use crate::decision::Limit;

/// `set_policy(name, capacity, rate_per_second, *, algorithm=None)` arguments.
pub(crate) fn policy_args(
    py: Python<'_>,
    name: &Bound<'_, PyAny>,
    capacity: &Bound<'_, PyAny>,
    rate_per_second: &Bound<'_, PyAny>,
    algorithm: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, ratewarden::Policy)> {
    let name = str_arg(py, name, "name")?.into_owned();
    let mut p = ratewarden::Policy::new(
        u64_arg(py, capacity, "capacity")?,
        u64_arg(py, rate_per_second, "rate_per_second")?,
    );
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
