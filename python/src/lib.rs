//! `ratewarden._native`: the PyO3 extension behind the `ratewarden` package.
//!
//! Why it exists: Python gets the same decisions as every other front door by
//! calling the one Rust core. This crate converts arguments, releases the GIL
//! while waiting, maps errors to the exception classes of
//! `ratewarden/errors.py` — nothing more.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};

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
    // `log` logger keeps its own. Levels are not cached: a level set after
    // import (`getLogger("ratewarden").setLevel(INFO)`) is seen at once; the
    // level is asked of Python only for records at debug and above, which
    // the decision path does not log.
    let logger = pyo3_log::Logger::new(m.py(), pyo3_log::Caching::Loggers)?;
    if log::set_boxed_logger(Box::new(Bridge(logger))).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
    m.py()
        .import("atexit")?
        .call_method1("register", (wrap_pyfunction!(_interpreter_exits, m)?,))?;
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

/// False once the interpreter began to exit (an `atexit` hook): from then
/// on no library thread touches Python — no log record is forwarded — so
/// an exit with connections still being made or calls in flight is silent.
static PYTHON_ALIVE: AtomicBool = AtomicBool::new(true);

/// Whether a library thread may still enter the interpreter.
pub(crate) fn python_alive() -> bool {
    // SAFETY: Py_IsInitialized may be called at any time, from any thread.
    PYTHON_ALIVE.load(Ordering::Acquire) && unsafe { pyo3::ffi::Py_IsInitialized() } != 0
}

/// Registered with `atexit` when the module is imported.
#[pyfunction]
fn _interpreter_exits() {
    PYTHON_ALIVE.store(false, Ordering::Release);
}

/// pyo3-log's logger, silent once the interpreter exits (pyo3-log itself
/// would enter a finalized interpreter and panic on the runtime thread).
struct Bridge(pyo3_log::Logger);

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        python_alive() && self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if python_alive() {
            self.0.log(record);
        }
    }

    fn flush(&self) {}
}
