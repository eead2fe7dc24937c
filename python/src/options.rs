//! Limiter options: every keyword is handed to the core by name
//! (`ratewarden::OPTIONS` holds the table); this module only turns Python
//! values into option values of the kind the core asks for.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString};
use ratewarden::Spelling;

use crate::error::{to_pyerr, type_error};

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string())
}

/// One keyword's value as the option value the core expects.
fn value(name: &str, kind: ratewarden::OptionKind, v: &Bound<'_, PyAny>) -> PyResult<ratewarden::OptionValue> {
    use ratewarden::{OptionKind as K, OptionValue as V};
    let wrong = || type_error(format!("{name} must be {}, not {}", kind_text(kind), type_name(v)));
    let is_int = v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>();
    Ok(match kind {
        K::Integer if is_int => V::Number(v.extract::<f64>()?),
        K::Number if is_int || v.is_instance_of::<PyFloat>() => V::Number(v.extract::<f64>()?),
        K::Text if v.is_instance_of::<PyString>() => V::Text(v.extract::<String>()?),
        K::Bytes if v.is_instance_of::<PyBytes>() => V::Bytes(v.extract::<Vec<u8>>()?),
        K::Bytes if v.is_instance_of::<PyString>() => V::Text(v.extract::<String>()?),
        _ => return Err(wrong()),
    })
}

fn kind_text(kind: ratewarden::OptionKind) -> &'static str {
    match kind {
        ratewarden::OptionKind::Integer => "an int",
        ratewarden::OptionKind::Number => "a number",
        ratewarden::OptionKind::Bytes => "bytes or str",
        _ => "a str",
    }
}

/// A builder for `url` with the keyword options (`None` means the default).
/// An unknown keyword is a `TypeError`, as for any Python function.
pub(crate) fn builder(
    py: Python<'_>,
    url: &str,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<ratewarden::LimiterBuilder> {
    let mut b = ratewarden::Limiter::builder(url);
    for (k, v) in options.into_iter().flat_map(|d| d.iter()) {
        let name: String = k.extract()?;
        let info = ratewarden::option_info_as(Spelling::Python, &name)
            .ok_or_else(|| type_error(format!("unexpected keyword argument {name:?}")))?;
        if v.is_none() {
            continue;
        }
        b = b
            .option_as(Spelling::Python, &name, value(&name, info.kind, &v)?)
            .map_err(|e| to_pyerr(py, e))?;
    }
    Ok(b)
}
