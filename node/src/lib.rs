//! The Node.js addon behind `require('ratewarden')`.
//!
//! Why it exists: Node services get the same decisions as every other front
//! door from the one Rust core. The JavaScript wrapper (`lib.js`) checks
//! argument types (TypeError) and turns error codes into `err.code`; this
//! crate converts numbers, runs every call on the core's runtime — never on
//! napi's, which is dropped when a worker thread ends — and maps errors.

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod error;
mod limiter;
mod settle;
