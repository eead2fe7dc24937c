//! The in-process policy table: memory://'s own (shared by the limiters of
//! one store), or a Redis limiter's copy (kept current by `store.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::policy::Policy;
use crate::runtime;

/// `version` before the first load.
pub(super) const NOT_LOADED: u64 = u64::MAX;

/// A limiter's copy of the policies (Redis), or the table itself (memory).
#[derive(Debug)]
pub(crate) struct PolicyTable {
    table: RwLock<Arc<HashMap<String, Policy>>>,
    pub(super) version: AtomicU64,
    /// The fork generation + 1 whose runtime runs this table's watcher (0:
    /// none). Read on every `check_policy`, hence an atomic.
    pub(super) watching: AtomicU64,
}

impl Default for PolicyTable {
    fn default() -> Self {
        PolicyTable {
            table: RwLock::new(Arc::new(HashMap::new())),
            version: AtomicU64::new(NOT_LOADED),
            watching: AtomicU64::new(0),
        }
    }
}

impl PolicyTable {
    pub(crate) fn snapshot(&self) -> Arc<HashMap<String, Policy>> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn install(&self, version: u64, table: HashMap<String, Policy>) {
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        *t = Arc::new(table);
        self.version.store(version, Ordering::Release);
    }

    /// memory://: change the table in place.
    pub(crate) fn set_local(&self, name: &str, policy: Option<Policy>) {
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        let mut next = (**t).clone();
        match policy {
            Some(p) => next.insert(name.to_owned(), p),
            None => next.remove(name),
        };
        *t = Arc::new(next);
        self.version.store(0, Ordering::Release);
    }

    /// Loaded, and watched by a task of this process's runtime.
    pub(crate) fn is_watched(&self) -> bool {
        self.version.load(Ordering::Acquire) != NOT_LOADED
            && self.watching.load(Ordering::Acquire) == runtime::fork_generation() + 1
    }
}
