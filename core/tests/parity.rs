//! Every binding exposes what the core does: each public operation of
//! `Limiter` (and of `Decision`'s rendering), each option and each error
//! kind has its counterpart in the C header, the Python stubs and the
//! TypeScript types — and `blocking::Limiter` mirrors the async one, and the
//! README's option table lists every option.
//!
//! The core's side is read from its sources (a `pub fn` in `impl Limiter`
//! that is not `#[doc(hidden)]`), the bindings' from their checked-in
//! interface files, which the header / stubtest / `.d.ts` drift checks keep
//! true to the code. A new core operation without a row in [`OPERATIONS`]
//! fails here, and so does a row whose binding function is missing.

use std::path::{Path, PathBuf};

/// A core operation and its name in C, Python and JavaScript.
struct Row {
    rust: &'static str,
    c: &'static str,
    python: &'static str,
    js: &'static str,
}

const fn row(rust: &'static str, c: &'static str, python: &'static str, js: &'static str) -> Row {
    Row { rust, c, python, js }
}

/// `Limiter`'s operations. Constructors map to the C constructors,
/// Python's `__new__` and the JavaScript `constructor`; the callback forms
/// (for callers that cannot await) map to the C `_async` functions and to
/// the awaitable methods of Python's `AsyncLimiter` and of Node.
const OPERATIONS: &[Row] = &[
    row("connect", "ratewarden_limiter_new", "__new__", "constructor"),
    row(
        "builder",
        "ratewarden_limiter_new_with_options",
        "__new__",
        "constructor",
    ),
    row("is_allowed", "ratewarden_is_allowed", "is_allowed", "isAllowed"),
    row("check", "ratewarden_check", "check", "check"),
    row("check_with", "ratewarden_check_with_algorithm", "check", "check"),
    row("check_all", "ratewarden_check_all", "check_all", "checkAll"),
    row("check_callback", "ratewarden_check_async", "check", "check"),
    row(
        "check_all_callback",
        "ratewarden_check_all_async",
        "check_all",
        "checkAll",
    ),
    row("check_policy", "ratewarden_check_policy", "check_policy", "checkPolicy"),
    row(
        "resolved_policy",
        "ratewarden_resolved_policy",
        "resolved_policy",
        "resolvedPolicy",
    ),
    row("set_policy", "ratewarden_set_policy", "set_policy", "setPolicy"),
    row(
        "delete_policy",
        "ratewarden_delete_policy",
        "delete_policy",
        "deletePolicy",
    ),
    row("policies", "ratewarden_policies", "policies", "policies"),
    row("stats", "ratewarden_get_stats", "stats", "stats"),
    row(
        "failure_mode",
        "ratewarden_limiter_failure_mode",
        "failure_mode",
        "failureMode",
    ),
    row("algorithm", "ratewarden_limiter_algorithm", "algorithm", "algorithm"),
    row("ping", "ratewarden_ping", "ping", "ping"),
    row("timeout", "ratewarden_limiter_timeout_ms", "timeout", "timeoutMs"),
    row("redis_key", "ratewarden_redis_key", "redis_key", "redisKey"),
    row("peek", "ratewarden_peek", "peek", "peek"),
    row("refund", "ratewarden_refund", "refund", "refund"),
    row("block", "ratewarden_block", "block", "block"),
    row("reset", "ratewarden_reset", "reset", "reset"),
];

/// `Decision`'s rendering (Node's decisions are plain objects: the seconds
/// are fields, the headers a function of the module).
const RENDERING: &[Row] = &[
    row(
        "retry_after_secs",
        "ratewarden_decision_retry_after_secs",
        "retry_after_secs",
        "retryAfterSecs",
    ),
    row(
        "reset_after_secs",
        "ratewarden_decision_reset_after_secs",
        "reset_after_secs",
        "resetAfterSecs",
    ),
    row("headers", "ratewarden_decision_headers", "headers", "headers"),
    row(
        "ietf_headers",
        "ratewarden_decision_ietf_headers",
        "ietf_headers",
        "ietfHeaders",
    ),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The public, documented methods of the `impl TYPE` blocks in `source`.
fn public_methods(source: &str, ty: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    let mut hidden = false;
    for line in source.lines() {
        if line.starts_with("impl ") {
            inside = line.starts_with(&format!("impl {ty} {{"));
            continue;
        }
        if !inside {
            continue;
        }
        let t = line.trim();
        if t.starts_with("#[doc(hidden)]") {
            hidden = true;
        }
        let rest = t.strip_prefix("pub async fn ").or_else(|| t.strip_prefix("pub fn "));
        if let Some(rest) = rest {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !std::mem::take(&mut hidden) {
                out.push(name);
            }
        } else if !t.starts_with("///") && !t.starts_with("#[") {
            hidden = false;
        }
    }
    out
}

/// The text of the block that starts at the first line containing `start`
/// and ends at the next line that is exactly `end`.
fn block<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}"));
    let rest = &text[from..];
    let to = rest.find(&format!("\n{end}\n")).unwrap_or(rest.len());
    &rest[..to]
}

fn check_rows(rows: &[Row], core: &[String], py_blocks: &[(&str, &str)], js_has: impl Fn(&str) -> bool) -> Vec<String> {
    let header = read("include/ratewarden.h");
    let mut missing = Vec::new();
    for name in core {
        if !rows.iter().any(|r| r.rust == name) {
            missing.push(format!(
                "core `{name}` has no row in core/tests/parity.rs (name it in C, Python and JS)"
            ));
        }
    }
    for r in rows {
        if !core.iter().any(|n| n == r.rust) {
            missing.push(format!("row `{}` names no core operation", r.rust));
        }
        if !header.contains(&format!(" {}(", r.c)) && !header.contains(&format!("*{}(", r.c)) {
            missing.push(format!("C: include/ratewarden.h lacks {} (for `{}`)", r.c, r.rust));
        }
        for (class, text) in py_blocks {
            if !text.contains(&format!("def {}(", r.python)) {
                missing.push(format!("Python: {class} lacks {} (for `{}`)", r.python, r.rust));
            }
        }
        if !js_has(r.js) {
            missing.push(format!("Node: index.d.ts lacks {} (for `{}`)", r.js, r.rust));
        }
    }
    missing
}

/// `Limiter`'s public methods, from every file of `core/src/limiter/`.
fn limiter_methods() -> Vec<String> {
    let dir = repo().join("core/src/limiter");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| public_methods(&std::fs::read_to_string(f).unwrap_or_default(), "Limiter"))
        .collect()
}

#[test]
fn every_binding_has_every_limiter_operation() {
    let core = limiter_methods();
    assert!(core.len() >= 15 && core.iter().any(|n| n == "check"), "{core:?}");
    let stubs = read("python/python/ratewarden/_native.pyi");
    let sync = block(&stubs, "class Limiter:", "@final");
    let asynchronous = block(&stubs, "class AsyncLimiter:", "@final");
    let dts = read("node/index.d.ts");
    let class = block(&dts, "export declare class Limiter {", "}");
    let js_has = |name: &str| class.contains(&format!("  {name}(")) || class.contains(&format!("readonly {name}:"));
    let missing = check_rows(
        OPERATIONS,
        &core,
        &[("Limiter", sync), ("AsyncLimiter", asynchronous)],
        js_has,
    );
    assert!(missing.is_empty(), "missing:\n{}", missing.join("\n"));
}

#[test]
fn blocking_mirrors_async() {
    let core = limiter_methods();
    let blocking = public_methods(&read("core/src/blocking.rs"), "Limiter");
    // The callback forms are how the async API serves callers that cannot
    // await; a blocking caller waits instead.
    let missing: Vec<&String> = core
        .iter()
        .filter(|n| !n.ends_with("_callback") && !blocking.contains(n))
        .collect();
    assert!(missing.is_empty(), "blocking::Limiter lacks {missing:?}");
}

#[test]
fn every_binding_renders_decisions_the_core_way() {
    let core = public_methods(&read("core/src/limiter/decision.rs"), "Decision");
    let stubs = read("python/python/ratewarden/_native.pyi");
    let decision = block(&stubs, "class Decision:", "@final");
    let dts = read("node/index.d.ts");
    let fields = block(&dts, "export interface Decision {", "}");
    let js_has = |name: &str| {
        fields.contains(&format!("  {name}: number")) || dts.contains(&format!("export declare function {name}("))
    };
    let missing = check_rows(RENDERING, &core, &[("Decision", decision)], js_has);
    assert!(missing.is_empty(), "missing:\n{}", missing.join("\n"));
}

#[test]
fn every_binding_takes_every_option() {
    let header = read("include/ratewarden.h");
    let hpp = read("include/ratewarden.hpp");
    let stubs = read("python/python/ratewarden/_native.pyi");
    let dts = read("node/index.d.ts");
    let js_options = block(&dts, "export interface LimiterOptions {", "}");
    let readme = read("README.md");
    let mut missing = Vec::new();
    for o in ratewarden::OPTIONS {
        if !header.contains(&format!(" ratewarden_options_set_{}(", o.name)) {
            missing.push(format!("C: ratewarden_options_set_{}", o.name));
        }
        // The C++ wrapper's Options calls every setter.
        if !hpp.contains(&format!("ratewarden_options_set_{}(raw_,", o.name)) {
            missing.push(format!(
                "C++: ratewarden::Options calling ratewarden_options_set_{}",
                o.name
            ));
        }
        // Once in Limiter's signature, once in AsyncLimiter's.
        if stubs.matches(&format!("        {}: ", o.python)).count() < 2 {
            missing.push(format!("Python: keyword {} in Limiter and AsyncLimiter", o.python));
        }
        if !js_options.contains(&format!("  {}?: ", o.js)) {
            missing.push(format!("Node: LimiterOptions.{}", o.js));
        }
        // The README's option table: one row naming it in every language.
        let row = format!("| `{}` | `{}`", o.name, o.python);
        if !readme
            .lines()
            .any(|l| l.starts_with(&row) && l.contains(&format!("`{}`", o.js)))
        {
            missing.push(format!("README: a row of the Options table for {}", o.name));
        }
    }
    assert!(missing.is_empty(), "missing:\n{}", missing.join("\n"));
}

#[test]
fn every_binding_names_every_error_kind() {
    let header = read("include/ratewarden.h");
    let errors = read("python/python/ratewarden/errors.py");
    let dts = read("node/index.d.ts");
    let mut missing = Vec::new();
    for k in ratewarden::ErrorKind::ALL {
        let c = format!("RATEWARDEN_{} = {}", k.as_str().to_uppercase(), k.number());
        if !header.contains(&c) {
            missing.push(format!("C: {c}"));
        }
        if !errors.contains(&format!("class {}(RateLimitError", k.class_name())) {
            missing.push(format!("Python: class {}", k.class_name()));
        }
        if !dts.contains(&format!("'{}'", k.code())) {
            missing.push(format!("Node: ErrorCode {}", k.code()));
        }
    }
    assert!(missing.is_empty(), "missing:\n{}", missing.join("\n"));
}

/// One version everywhere: the workspace's (Cargo.toml), which the Python
/// package takes from Cargo (`dynamic = ["version"]`), the header's
/// (generated from it), and Node's package.json, which npm reads itself.
#[test]
fn every_package_has_the_workspace_version() {
    let version = env!("CARGO_PKG_VERSION");
    let header = read("include/ratewarden.h");
    assert!(
        header.contains(&format!("#define RATEWARDEN_VERSION \"{version}\"")),
        "include/ratewarden.h"
    );
    let package = read("node/package.json");
    assert!(
        package.contains(&format!("\n  \"version\": \"{version}\",")),
        "node/package.json must say \"version\": \"{version}\""
    );
    assert!(
        read("python/pyproject.toml").contains("dynamic = [\"version\"]"),
        "python/pyproject.toml"
    );
}
