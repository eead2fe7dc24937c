//! Fork safety: `ratewarden/__init__.py` registers this with
//! `os.register_at_fork(after_in_child=...)`.

use pyo3::prelude::*;

/// Called in a forked child: abandon the parent's runtime and connections;
/// new ones are made on first use.
#[pyfunction]
pub(crate) fn _after_fork_in_child() {
    ratewarden::runtime::after_fork_in_child();
}
