//! `core/src` has no import circles: the files form a directed acyclic
//! graph of "uses", so each layer can be read without the ones above it.
//!
//! An edge A → B is any `crate::…`, `self::…` or child-module path in A's
//! code (test modules excluded) that names an item of file B. A `mod.rs`
//! (or `lib.rs`) re-exporting its own descendants (`pub use child::Item;`)
//! declares the module's surface and is not a use; nor is a path through the
//! crate root's re-exports (`crate::Error`). The test prints the first cycle
//! it finds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Module path of a file: `backend/redis/batch.rs` → ["backend", "redis", "batch"].
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The file that defines module `path` (the deepest prefix that is a file).
fn file_of(modules: &BTreeMap<Vec<String>, PathBuf>, path: &[String]) -> Option<PathBuf> {
    (0..=path.len()).rev().find_map(|n| modules.get(&path[..n]).cloned())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap_or_else(|e| panic!("{e}")).path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Paths like `crate::a::b` or `self::a` in `line`, as segments (with `self`
/// resolved against `here`).
fn paths_in(line: &str, here: &[String], children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let bytes: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if ident(bytes[i]) && (i == 0 || !(ident(bytes[i - 1]) || bytes[i - 1] == ':')) {
            let mut segs: Vec<String> = Vec::new();
            loop {
                let s = i;
                while i < bytes.len() && ident(bytes[i]) {
                    i += 1;
                }
                segs.push(bytes[s..i].iter().collect());
                if i + 2 < bytes.len() && bytes[i] == ':' && bytes[i + 1] == ':' && ident(bytes[i + 2]) {
                    i += 2;
                } else {
                    break;
                }
            }
            match segs.first().map(String::as_str) {
                Some("crate") if segs.len() > 1 => out.push(segs[1..].to_vec()),
                Some("self") if segs.len() > 1 => {
                    out.push(here.iter().cloned().chain(segs[1..].iter().cloned()).collect())
                }
                Some(first) if segs.len() > 1 && children.contains(first) => {
                    out.push(here.iter().cloned().chain(segs.iter().cloned()).collect())
                }
                _ => {}
            }
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn core_sources_have_no_import_cycles() {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(f.strip_prefix(&root).unwrap_or(f)), f.clone()))
        .collect();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let children: BTreeSet<String> = modules
            .keys()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            .map(|m| m[module.len()].clone())
            .collect();
        let is_parent = file.ends_with("mod.rs") || file.ends_with("lib.rs");
        let mut uses = BTreeSet::new();
        for line in text.lines() {
            let t = line.trim_start();
            if t.starts_with("#[cfg(test)]") {
                break; // test modules sit at the end of every file
            }
            if t.starts_with("//") {
                continue;
            }
            let reexport = is_parent && (t.starts_with("pub use ") || t.starts_with("pub(crate) use "));
            for path in paths_in(t, module, &children) {
                let Some(target) = file_of(&modules, &path) else {
                    continue;
                };
                if target.ends_with("lib.rs") {
                    continue; // the crate root is the facade: `crate::Error` names a re-export
                }
                let below = path.len() > module.len() && path.starts_with(module);
                if target != *file && !(reexport && below) {
                    uses.insert(target);
                }
            }
        }
        edges.insert(file.clone(), uses);
    }
    // Depth-first search for a back edge.
    fn visit(
        f: &PathBuf,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        state: &mut BTreeMap<PathBuf, u8>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        state.insert(f.clone(), 1);
        stack.push(f.clone());
        for g in edges.get(f).into_iter().flatten() {
            match state.get(g).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == g).unwrap_or(0);
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(g.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(g, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(f.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    let total: usize = edges.values().map(BTreeSet::len).sum();
    assert!(
        edges.len() > 30 && total > 60,
        "{} files, {total} edges: the scan found too little",
        edges.len()
    );
    for f in edges.keys() {
        if state.get(f).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(cycle) = visit(f, &edges, &mut state, &mut stack) {
                let names: Vec<String> = cycle
                    .iter()
                    .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
                    .collect();
                panic!("import cycle: {}", names.join(" → "));
            }
        }
    }
}
