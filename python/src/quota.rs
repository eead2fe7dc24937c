//! `ratewarden.Quota` and the `quota=` argument (a notation string or a
//! `Quota`), converted to the core's quotas; the core parses and checks.

use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt, PyString};

use crate::error::{to_pyerr, type_error};

/// A quota: at most `capacity` requests per `period` seconds.
/// `Quota(5, 60)` is `Quota.parse("5/minute")`.
#[pyclass(frozen, eq, hash, module = "ratewarden")]
#[derive(PartialEq, Eq, Hash, Clone, Copy)]
pub(crate) struct Quota {
    pub(crate) inner: ratewarden::Quota,
}

#[pymethods]
impl Quota {
    #[new]
    fn new(py: Python<'_>, capacity: &Bound<'_, PyAny>, period: &Bound<'_, PyAny>) -> PyResult<Self> {
        let capacity = crate::args::u64_arg(py, capacity, "capacity")?;
        if !(period.is_instance_of::<PyFloat>() || period.is_instance_of::<PyInt>())
            || period.is_instance_of::<pyo3::types::PyBool>()
        {
            return Err(type_error("period must be a number of seconds".into()));
        }
        let secs: f64 = period.extract()?;
        let d = ratewarden::duration_from_secs("period", secs).map_err(|e| to_pyerr(py, e))?;
        let inner = ratewarden::Quota::per(capacity, d);
        inner.validate().map_err(|e| to_pyerr(py, e))?;
        Ok(Quota { inner })
    }

    /// One quota in the notation: "5/minute", "10 per second", "5/15 minutes".
    #[staticmethod]
    fn parse(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Self> {
        let text = crate::args::str_arg(py, text, "text")?;
        ratewarden::Quota::parse(&text)
            .map(|inner| Quota { inner })
            .map_err(|e| to_pyerr(py, e))
    }

    /// Burst size.
    #[getter]
    fn capacity(&self) -> u64 {
        self.inner.capacity()
    }

    /// The period in seconds.
    #[getter]
    fn period(&self) -> f64 {
        self.inner.period().as_secs_f64()
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Quota.parse({:?})", self.inner.to_string())
    }
}

/// The quotas of a call: `quota=` (str or Quota) or `capacity` with
/// `rate_per_second` — exactly one of the two forms.
pub(crate) fn quotas_arg(
    py: Python<'_>,
    quota: Option<&Bound<'_, PyAny>>,
    capacity: Option<&Bound<'_, PyAny>>,
    rate_per_second: Option<&Bound<'_, PyAny>>,
) -> PyResult<ratewarden::Quotas> {
    let quota = quota.filter(|q| !q.is_none());
    let num = |o: Option<&Bound<'_, PyAny>>, name| {
        o.filter(|v| !v.is_none())
            .map(|v| crate::args::u64_arg(py, v, name))
            .transpose()
    };
    let (capacity, rate) = (num(capacity, "capacity")?, num(rate_per_second, "rate_per_second")?);
    let result = match quota {
        Some(q) if q.is_instance_of::<PyString>() => {
            let text = crate::args::str_arg(py, q, "quota")?;
            ratewarden::Quotas::from_parts(Some(&text), capacity, rate, None)
        }
        Some(q) => match q.cast::<Quota>() {
            Ok(obj) if capacity.is_none() && rate.is_none() => Ok(ratewarden::Quotas::from(obj.get().inner)),
            Ok(_) => ratewarden::Quotas::from_parts(Some(""), capacity, rate, None),
            Err(_) => {
                return Err(type_error(format!(
                    "quota must be a str or a ratewarden.Quota, not {}",
                    q.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string())
                )))
            }
        },
        None => ratewarden::Quotas::from_parts(None, capacity, rate, None),
    };
    result.map_err(|e| to_pyerr(py, e))
}
