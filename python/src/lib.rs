//! `ratewarden._native`: the PyO3 extension behind the `ratewarden` package.
//!
//! Why it exists: Python gets the same decisions as every other front door by
//! calling the one Rust core. This crate converts arguments, releases the GIL
//! while waiting, maps errors to the exception classes of
//! `ratewarden/errors.py` — nothing more.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use pyo3::prelude::*;

mod aio;
mod args;
mod decision;
mod error;
mod http;
mod limiter;
mod options;
mod policy;
mod quota;
mod runtime;
mod stats;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Core `tracing` events reach Python's logging as `log` records under the
    // "ratewarden" logger (see Cargo.toml). A host that already installed a
    // `log` logger keeps its own.
    let _ = pyo3_log::try_init();
    m.add_class::<limiter::Limiter>()?;
    m.add_class::<limiter::AsyncLimiter>()?;
    m.add_class::<decision::Decision>()?;
    m.add_class::<decision::Limit>()?;
    m.add_class::<decision::MultiDecision>()?;
    m.add_class::<quota::Quota>()?;
    m.add_class::<http::Rule>()?;
    m.add_class::<http::ClientIp>()?;
    m.add_class::<http::Verdict>()?;
    m.add_class::<aio::_Channel>()?;
    m.add_function(wrap_pyfunction!(runtime::_after_fork_in_child, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
