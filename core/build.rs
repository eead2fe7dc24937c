//! Joins the Lua sources in `src/algorithm/lua/` into the one script the
//! core loads (one body, one SHA). The order is the order of `PARTS`: the
//! prelude (arguments, shared helpers), one file per algorithm, then the
//! dispatcher that walks the batch.

use std::path::Path;

/// Every part of the script, in order. Adding an algorithm: add its file
/// here, before `dispatch.lua` (see CONTRIBUTING.md).
const PARTS: &[&str] = &[
    "prelude.lua",
    "sliding_window_log.lua",
    "sliding_window_log_bucketed.lua",
    "sliding_window_counter.lua",
    "fixed_window.lua",
    "gcra.lua",
    "dispatch.lua",
];

fn main() {
    let dir = Path::new("src/algorithm/lua");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut script = String::new();
    for part in PARTS {
        let path = dir.join(part);
        println!("cargo:rerun-if-changed={}", path.display());
        match std::fs::read_to_string(&path) {
            Ok(text) => script.push_str(&text),
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        }
    }
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("ratewarden.lua");
    if let Err(e) = std::fs::write(&out, script) {
        panic!("cannot write {}: {e}", out.display());
    }
}
