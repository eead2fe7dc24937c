//! The one conversion point from the core error to a Python exception.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static CLASSES: [PyOnceLock<Py<PyType>>; 7] = [const { PyOnceLock::new() }; 7];

/// The index of `kind` in the core's table (`ErrorKind::ALL`) and its class
/// name there.
fn class_name(kind: ratewarden::ErrorKind) -> (usize, &'static str) {
    let i = ratewarden::ErrorKind::ALL.iter().position(|k| *k == kind).unwrap_or(6);
    (i, ratewarden::ErrorKind::ALL[i].class_name())
}

/// Build the `ratewarden.errors` exception for a core error: message, `kind`,
/// `outcome_unknown`, and the Rust cause chain kept in the message.
pub(crate) fn to_pyerr(py: Python<'_>, err: ratewarden::Error) -> PyErr {
    let (i, name) = class_name(err.kind());
    let build = || -> PyResult<PyErr> {
        let cls = CLASSES[i].import(py, "ratewarden.errors", name)?;
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = s.source();
        }
        let exc = cls.call1((message,))?;
        exc.setattr("kind", err.kind().as_str())?;
        exc.setattr("outcome_unknown", err.outcome_unknown())?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

/// An invalid-argument error raised from the binding itself (out-of-range
/// integers, strings that are not UTF-8).
pub(crate) fn invalid_argument(py: Python<'_>, message: String) -> PyErr {
    to_pyerr(py, ratewarden::Error::invalid_argument(message))
}

pub(crate) fn type_error(message: String) -> PyErr {
    PyTypeError::new_err(message)
}
