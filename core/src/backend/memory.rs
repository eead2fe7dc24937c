//! The embedded `memory://` backend: the same algorithms as the Redis script
//! (see [`crate::mirror`]), in process.
//!
//! Why it exists: a default that works with no server, and a reference the
//! Redis backend is tested against. Limiters created with the same
//! `memory://NAME` URL in one process share one store, just as limiters
//! pointed at one Redis share its state.
//!
//! The store is split into shards, each a mutex around a hash map, so threads
//! rarely contend. Time is a monotonic clock (microseconds since the store's
//! creation), never the wall clock. Expired state is swept incrementally: a
//! shard is swept once it has done enough work since its last sweep, so memory
//! stays proportional to the keys that are live.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::algorithm::local::{self as mirror, State, TTL_SLACK_US};
use crate::algorithm::spec::Op;
use crate::algorithm::{Outcome, Spec};
use crate::policy::PolicyTable;

const SHARDS: usize = 64;
/// Every this many operations on the store, the next shard (round robin) is
/// swept; a shard is also swept when it doubled in size since its last sweep.
const SWEEP_EVERY: u64 = 4096;
/// The store's clock at its creation, in microseconds: the longest period + 1.
const CLOCK_START_US: u64 = crate::quota::MAX_PERIOD.as_micros() as u64 + 1;

#[derive(Debug)]
pub(crate) struct MemoryStore {
    /// The named policies of this store (shared like the state).
    pub(crate) policies: Arc<PolicyTable>,
    shards: Box<[Mutex<Shard>]>,
    hasher: DefaultHashBuilder,
    epoch: Instant,
    ops: AtomicU64,
}

#[derive(Default, Debug)]
struct Shard {
    table: HashTable<Entry>,
    len_after_sweep: usize,
}

/// One key: algorithm, client and endpoint (one allocation, one cache miss
/// to compare) and its state.
#[derive(Debug)]
struct Entry {
    code: u8,
    ids: Box<[u8]>,
    client_len: usize,
    state: Option<State>,
    expires_at: u64,
}

impl Entry {
    fn is(&self, code: u8, client: &str, endpoint: &str) -> bool {
        self.code == code
            && self.client_len == client.len()
            && self.ids.len() == client.len() + endpoint.len()
            && self.ids[..client.len()] == *client.as_bytes()
            && self.ids[client.len()..] == *endpoint.as_bytes()
    }

    fn key(&self) -> KeyRef<'_> {
        let (c, e) = self.ids.split_at(self.client_len);
        // Built from two &str, split at their boundary: always valid UTF-8.
        KeyRef {
            code: self.code,
            client: std::str::from_utf8(c).unwrap_or_default(),
            endpoint: std::str::from_utf8(e).unwrap_or_default(),
        }
    }
}

#[derive(Hash)]
struct KeyRef<'a> {
    code: u8,
    client: &'a str,
    endpoint: &'a str,
}

impl MemoryStore {
    pub(crate) fn new() -> Self {
        MemoryStore {
            policies: Arc::new(PolicyTable::default()),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: DefaultHashBuilder::default(),
            epoch: Instant::now(),
            ops: AtomicU64::new(0),
        }
    }

    /// The process-wide store for `name` (the part after `memory://`).
    pub(crate) fn named(name: &str) -> Arc<MemoryStore> {
        static REGISTRY: OnceLock<Mutex<std::collections::HashMap<String, Weak<MemoryStore>>>> = OnceLock::new();
        let registry = REGISTRY.get_or_init(Default::default);
        let mut map = registry.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = map.get(name).and_then(Weak::upgrade) {
            return store;
        }
        map.retain(|_, w| w.strong_count() > 0);
        let store = Arc::new(MemoryStore::new());
        map.insert(name.to_owned(), Arc::downgrade(&store));
        store
    }

    fn now_us(&self) -> u64 {
        // Start one longest period past 0, so that no timestamp is 0 and
        // `now - period` never goes below it (a block's log entries sit at
        // `now + duration - period`).
        self.epoch.elapsed().as_micros() as u64 + CLOCK_START_US
    }

    /// One decision over one limit: the common case, without allocating
    /// once the key exists.
    pub(crate) fn decide_one(&self, client_id: &str, endpoint: &str, spec: Spec, now: Option<u64>) -> Outcome {
        self.maybe_sweep_other();
        let hash = self.hasher.hash_one(KeyRef {
            code: spec.slot_code(),
            client: client_id,
            endpoint,
        });
        let mut shard = self.shards[(hash >> 40) as usize % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = now.unwrap_or_else(|| self.now_us());
        let entry = self.entry(&mut shard, hash, spec.slot_code(), client_id, endpoint, now);
        let p = mirror::peek(&mut entry.state, now, &spec);
        if p.ok() {
            let live_for = mirror::commit(&mut entry.state, now, &spec);
            entry.expires_at = now + live_for + TTL_SLACK_US;
        }
        p.outcome(p.ok())
    }

    fn maybe_sweep_other(&self) {
        let ops = self.ops.fetch_add(1, Ordering::Relaxed) + 1;
        if ops.is_multiple_of(SWEEP_EVERY) {
            let idx = (ops / SWEEP_EVERY) as usize % SHARDS;
            let mut other = self.shards[idx].lock().unwrap_or_else(|e| e.into_inner());
            other.sweep(self.now_us());
        }
    }

    /// One decision over `limits` (endpoint and spec each; distinct keys),
    /// all or nothing, at `now` (the store's clock unless a test replays a
    /// schedule); or, by the specs' operation, a peek, refund, block or
    /// reset of each. The caller has validated the arguments.
    pub(crate) fn decide(&self, client_id: &str, limits: &[(&str, Spec)], now: Option<u64>) -> Vec<Outcome> {
        self.maybe_sweep_other();
        let hashes: Vec<(u64, usize)> = limits
            .iter()
            .map(|(endpoint, spec)| {
                let hash = self.hasher.hash_one(KeyRef {
                    code: spec.slot_code(),
                    client: client_id,
                    endpoint,
                });
                // Middle bits: hashbrown uses the top 7 for tags and the low ones for slots.
                (hash, (hash >> 40) as usize % SHARDS)
            })
            .collect();
        // Lock every shard involved, in ascending order (no deadlock).
        let mut order: Vec<usize> = hashes.iter().map(|&(_, s)| s).collect();
        order.sort_unstable();
        order.dedup();
        let mut guards: Vec<_> = order
            .iter()
            .map(|&i| self.shards[i].lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let now = now.unwrap_or_else(|| self.now_us());
        let op = limits.first().map_or(Op::Check, |(_, s)| s.op);
        let mut each = |f: &mut dyn FnMut(&mut Shard, u64, &str, &Spec)| {
            for (&(endpoint, ref spec), &(hash, shard)) in limits.iter().zip(&hashes) {
                let g = order.binary_search(&shard).unwrap_or_default();
                f(&mut guards[g], hash, endpoint, spec);
            }
        };
        match op {
            Op::Reset => {
                let mut out = Vec::with_capacity(limits.len());
                each(&mut |shard, hash, endpoint, spec| {
                    let code = spec.slot_code();
                    let gone = match shard.table.find_entry(hash, |e| e.is(code, client_id, endpoint)) {
                        Ok(e) => {
                            let (entry, _) = e.remove();
                            entry.state.is_some() && entry.expires_at > now
                        }
                        Err(_) => false,
                    };
                    out.push(Outcome {
                        ok: gone,
                        remaining: 0,
                        retry_us: 0,
                        reset_us: 0,
                    });
                });
                return out;
            }
            Op::Block => {
                each(&mut |shard, hash, endpoint, spec| {
                    let entry = self.entry(shard, hash, spec.slot_code(), client_id, endpoint, now);
                    let live_for = mirror::block(&mut entry.state, now, spec);
                    entry.expires_at = now + live_for + TTL_SLACK_US;
                });
                return limits
                    .iter()
                    .map(|(_, s)| Outcome {
                        ok: false,
                        remaining: 0,
                        retry_us: s.cost,
                        reset_us: s.cost,
                    })
                    .collect();
            }
            Op::Refund => each(&mut |shard, hash, endpoint, spec| {
                let entry = self.entry(shard, hash, spec.slot_code(), client_id, endpoint, now);
                match mirror::refund(&mut entry.state, now, spec) {
                    Some(live_for) => entry.expires_at = now + live_for + TTL_SLACK_US,
                    None => entry.expires_at = 0,
                }
            }),
            Op::Check | Op::Peek => {}
        }
        let mut peeks = Vec::with_capacity(limits.len());
        each(&mut |shard, hash, endpoint, spec| {
            let entry = self.entry(shard, hash, spec.slot_code(), client_id, endpoint, now);
            let spec = if op == Op::Check {
                *spec
            } else {
                Spec { cost: 1, ..*spec }
            };
            peeks.push(mirror::peek(&mut entry.state, now, &spec));
        });
        let admitted = peeks.iter().all(|p| p.ok());
        if admitted && op == Op::Check {
            each(&mut |shard, hash, endpoint, spec| {
                let entry = self.entry(shard, hash, spec.slot_code(), client_id, endpoint, now);
                let live_for = mirror::commit(&mut entry.state, now, spec);
                entry.expires_at = now + live_for + TTL_SLACK_US;
            });
        }
        peeks.iter().map(|p| p.outcome(admitted)).collect()
    }

    /// The entry for a key, made if missing; expired state reads as none.
    fn entry<'s>(
        &self,
        shard: &'s mut Shard,
        hash: u64,
        code: u8,
        client_id: &str,
        endpoint: &str,
        now: u64,
    ) -> &'s mut Entry {
        if shard.table.len() > 2 * shard.len_after_sweep.max(1024) {
            shard.sweep(now);
        }
        let hasher = &self.hasher;
        let entry = match shard.table.find_entry(hash, |e| e.is(code, client_id, endpoint)) {
            Ok(e) => e.into_mut(),
            Err(absent) => {
                let table = absent.into_table();
                let mut ids = Vec::with_capacity(client_id.len() + endpoint.len());
                ids.extend_from_slice(client_id.as_bytes());
                ids.extend_from_slice(endpoint.as_bytes());
                let entry = Entry {
                    code,
                    ids: ids.into_boxed_slice(),
                    client_len: client_id.len(),
                    state: None,
                    expires_at: 0,
                };
                table
                    .insert_unique(hash, entry, |e: &Entry| hasher.hash_one(e.key()))
                    .into_mut()
            }
        };
        if entry.expires_at <= now {
            entry.state = None;
        }
        entry
    }

    /// Number of keys currently held (live or not yet swept).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap().table.len()).sum()
    }
}

impl Shard {
    fn sweep(&mut self, now: u64) {
        self.table.retain(|e| e.expires_at > now);
        self.len_after_sweep = self.table.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Algorithm;
    use crate::quota::Quota;
    use std::time::Duration;

    #[test]
    fn multi_limit_is_all_or_nothing() {
        let store = MemoryStore::new();
        let log = |cap| Spec::new(Algorithm::SlidingWindowLog, Quota::new(cap, cap), 1);
        let limits = [("/a", log(5)), ("*", log(2))];
        assert!(store.decide("c", &limits, Some(10)).iter().all(|o| o.ok));
        assert!(store.decide("c", &limits, Some(11)).iter().all(|o| o.ok));
        let third = store.decide("c", &limits, Some(12));
        assert!(third[0].ok && !third[1].ok);
        // Nothing was spent on "/a" by the refused decision.
        assert_eq!(store.decide_one("c", "/a", log(5), Some(13)).remaining, 2);
    }

    #[test]
    fn named_stores_are_shared_and_swept() {
        let a = MemoryStore::named("unit-shared");
        let b = MemoryStore::named("unit-shared");
        assert!(Arc::ptr_eq(&a, &b));
        let spec = Spec::new(Algorithm::SlidingWindowLog, Quota::new(1, 1000), 1); // 1 ms window
        for i in 0..20_000 {
            a.decide_one(&format!("c{i}"), "e", spec, None);
        }
        std::thread::sleep(Duration::from_millis(1100 + 5));
        for i in 0..(SWEEP_EVERY as usize * SHARDS) {
            a.decide_one("hot", if i % 2 == 0 { "x" } else { "y" }, spec, None);
        }
        assert!(a.len() < 1000, "{} keys left", a.len());
    }
}
