//! The C ABI of ratewarden (`libratewarden.so`, `libratewarden.a`,
//! `include/ratewarden.h`).
//!
//! Why it is a separate crate: the core knows nothing of C. This crate turns
//! C arguments into Rust ones, calls `ratewarden::blocking::Limiter`, and maps
//! errors to `ratewarden_result` codes — nothing more.
//!
//! Conventions (also in the README, "Using from C/C++"):
//! * every fallible function returns a `ratewarden_result`, 0 = OK, and
//!   writes its out-parameters only on success;
//! * NULL for a required pointer is `RATEWARDEN_NULL_PARAMETER`, a string that
//!   is not UTF-8 is `RATEWARDEN_INVALID_UTF8`; a Rust panic never crosses the
//!   boundary, it becomes `RATEWARDEN_PANIC`;
//! * `ratewarden_last_error()` describes the last failure on the calling thread;
//! * `*_free(NULL)` is a no-op; a limiter may be shared by any number of threads.

#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
// Every exported function has the same safety contract, stated once in the
// README ("Using from C/C++") and the header: pointers are NULL or valid,
// strings NUL-terminated, handles not used after being freed.
#![allow(clippy::missing_safety_doc)]

mod decision;
mod error;
mod ffi;
mod http;
mod limiter;
mod logging;
mod options;
mod policy;
mod quota;
mod stats;

pub use decision::*;
pub use error::*;
pub use http::*;
pub use limiter::*;
pub use logging::*;
pub use options::*;
pub use policy::*;
pub use quota::*;
pub use stats::*;
