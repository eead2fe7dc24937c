//! The Node.js addon behind `require('ratewarden')`.
//!
//! Why it exists: Node services get the same decisions as every other front
//! door from the one Rust core. The JavaScript wrapper (`index.js`) checks
//! argument types (TypeError); this
//! crate converts numbers, runs every call on the core's runtime — never on
//! napi's, which is dropped when a worker thread ends — and maps errors.

#![deny(clippy::unwrap_used, clippy::expect_used)]
// `#[napi]` exports are registered only in the addon build, not in `cargo test`.
#![cfg_attr(test, allow(dead_code))]

mod decision;
mod error;
mod http;
mod limiter;
mod logs;
mod options;
mod policy;
mod settle;
mod stats;
