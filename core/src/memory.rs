//! The embedded `memory://` backend: the same sliding-window log as the Redis
//! script, in process.
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

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::quota::{Decision, Quota};

const SHARDS: usize = 64;
/// Every this many operations on the store, the next shard (round robin) is
/// swept; a shard is also swept when it doubled in size since its last sweep.
const SWEEP_EVERY: u64 = 4096;
/// Keys live this long past their window, as on Redis.
const TTL_SLACK_US: u64 = 1_000_000;

#[derive(Debug)]
pub(crate) struct MemoryStore {
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

/// One key: client and endpoint in one allocation (one cache miss to compare).
#[derive(Debug)]
struct Entry {
    ids: Box<[u8]>,
    client_len: usize,
    state: State,
}

impl Entry {
    fn is(&self, client: &str, endpoint: &str) -> bool {
        self.client_len == client.len()
            && self.ids.len() == client.len() + endpoint.len()
            && self.ids[..client.len()] == *client.as_bytes()
            && self.ids[client.len()..] == *endpoint.as_bytes()
    }

    fn key(&self) -> KeyRef<'_> {
        let (c, e) = self.ids.split_at(self.client_len);
        // Built from two &str, split at their boundary: always valid UTF-8.
        KeyRef {
            client: std::str::from_utf8(c).unwrap_or_default(),
            endpoint: std::str::from_utf8(e).unwrap_or_default(),
        }
    }
}

#[derive(Hash)]
struct KeyRef<'a> {
    client: &'a str,
    endpoint: &'a str,
}

/// One log: entries `(end_us, count)`, oldest first, and their sum.
#[derive(Debug, Default)]
struct State {
    entries: VecDeque<(u64, u64)>,
    total: u64,
    expires_at: u64,
}

impl MemoryStore {
    pub(crate) fn new() -> Self {
        MemoryStore {
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
        // Start at 1 so that no timestamp is 0.
        self.epoch.elapsed().as_micros() as u64 + 1
    }

    /// One decision; the caller has validated the arguments.
    pub(crate) fn check(&self, client_id: &str, api_endpoint: &str, quota: Quota, cost: u64) -> Decision {
        let kref = KeyRef {
            client: client_id,
            endpoint: api_endpoint,
        };
        let ops = self.ops.fetch_add(1, Ordering::Relaxed) + 1;
        if ops.is_multiple_of(SWEEP_EVERY) {
            let idx = (ops / SWEEP_EVERY) as usize % SHARDS;
            let mut other = self.shards[idx].lock().unwrap_or_else(|e| e.into_inner());
            other.sweep(self.now_us());
        }
        let hash = self.hasher.hash_one(&kref);
        // Middle bits: hashbrown uses the top 7 for tags and the low ones for slots.
        let shard = &self.shards[(hash >> 40) as usize % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.now_us();
        let shard = &mut *shard;
        if shard.table.len() > 2 * shard.len_after_sweep.max(1024) {
            shard.sweep(now);
        }
        let state = match shard.table.find_mut(hash, |e| e.is(client_id, api_endpoint)) {
            Some(e) => &mut e.state,
            None => {
                let mut ids = Vec::with_capacity(client_id.len() + api_endpoint.len());
                ids.extend_from_slice(client_id.as_bytes());
                ids.extend_from_slice(api_endpoint.as_bytes());
                let entry = Entry {
                    ids: ids.into_boxed_slice(),
                    client_len: client_id.len(),
                    state: State::default(),
                };
                let hasher = &self.hasher;
                let rehash = |e: &Entry| hasher.hash_one(e.key());
                &mut shard.table.insert_unique(hash, entry, rehash).into_mut().state
            }
        };
        decide(
            state,
            now,
            quota.window_us(),
            quota.log_bucket_us(),
            quota.capacity,
            cost,
        )
    }

    /// Number of keys currently held (live or not yet swept).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap().table.len()).sum()
    }
}

impl Shard {
    fn sweep(&mut self, now: u64) {
        self.table.retain(|e| e.state.expires_at > now);
        self.len_after_sweep = self.table.len();
    }
}

/// The sliding-window log; mirrors `scripts/sliding_window_log.lua`.
/// `bucket` is the entry width in microseconds, 0 meaning exact.
fn decide(s: &mut State, now: u64, window: u64, bucket: u64, capacity: u64, cost: u64) -> Decision {
    // Trim entries whose end left the window (now - window, now].
    let cutoff = now.saturating_sub(window);
    while let Some(&(end, count)) = s.entries.front() {
        if end > cutoff {
            break;
        }
        s.total -= count;
        s.entries.pop_front();
    }

    if s.total + cost <= capacity {
        let end = match s.entries.back_mut() {
            // Same bucket (or, exact, same microsecond): count it there.
            Some((end, count)) if now <= *end => {
                *count += cost;
                *end
            }
            _ => {
                let end = now + bucket.max(1) - 1;
                s.entries.push_back((end, cost));
                end
            }
        };
        s.total += cost;
        s.expires_at = now + window + TTL_SLACK_US;
        return Decision {
            allowed: true,
            limit: capacity,
            remaining: capacity - s.total,
            retry_after: Duration::ZERO,
            reset_after: Duration::from_micros(end + window - now),
        };
    }
    let need = s.total + cost - capacity;
    let mut freed = 0;
    let mut retry_after = 0;
    for &(end, count) in &s.entries {
        freed += count;
        if freed >= need {
            retry_after = end + window - now;
            break;
        }
    }
    let reset_after = s.entries.back().map_or(0, |&(end, _)| end + window - now);
    Decision {
        allowed: false,
        limit: capacity,
        remaining: capacity.saturating_sub(s.total),
        retry_after: Duration::from_micros(retry_after),
        reset_after: Duration::from_micros(reset_after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &mut State, now: u64, q: Quota, cost: u64) -> Decision {
        decide(s, now, q.window_us(), q.log_bucket_us(), q.capacity, cost)
    }

    #[test]
    fn exact_log_admits_capacity_then_frees_one_by_one() {
        let q = Quota::new(3, 3); // W = 1 s
        let mut s = State::default();
        for (i, t) in [10, 20, 30].into_iter().enumerate() {
            let d = run(&mut s, t, q, 1);
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - i as u64);
        }
        let d = run(&mut s, 40, q, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_micros(10 + 1_000_000 - 40));
        assert_eq!(d.reset_after, Duration::from_micros(30 + 1_000_000 - 40));
        // At exactly first + W the first entry has left: (now - W, now].
        assert!(!run(&mut s, 1_000_009, q, 1).allowed);
        assert!(run(&mut s, 1_000_010, q, 1).allowed);
        assert!(!run(&mut s, 1_000_011, q, 1).allowed);
    }

    #[test]
    fn cost_is_all_or_nothing() {
        let q = Quota::new(5, 5);
        let mut s = State::default();
        assert!(run(&mut s, 1, q, 3).allowed);
        let d = run(&mut s, 2, q, 3);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 2);
        assert_eq!(d.retry_after, Duration::from_micros(1 + 1_000_000 - 2));
        assert!(run(&mut s, 3, q, 2).allowed);
        assert_eq!(s.total, 5);
    }

    #[test]
    fn same_microsecond_requests_are_counted_not_collapsed() {
        let q = Quota::new(2, 2);
        let mut s = State::default();
        assert!(run(&mut s, 7, q, 1).allowed);
        assert!(run(&mut s, 7, q, 1).allowed);
        assert!(!run(&mut s, 7, q, 1).allowed);
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.total, 2);
    }

    #[test]
    fn bucketed_log_stays_small_and_never_over_admits() {
        let q = Quota::new(1_000_000, 1_000_000);
        let mut s = State::default();
        let mut admitted = 0u64;
        // 3 s of one request every 2 µs: 1.5M attempts.
        let mut t = 1;
        while t < 3_000_000 {
            if run(&mut s, t, q, 1).allowed {
                admitted += 1;
            }
            assert!(s.entries.len() <= 123, "{} entries", s.entries.len());
            t += 2;
        }
        // capacity + rate * T = 1M + 3M; the log admits at most 1M per second here.
        assert!(admitted <= 3_000_000, "{admitted}");
        assert!(admitted >= 1_400_000, "{admitted}");
    }

    #[test]
    fn named_stores_are_shared_and_swept() {
        let a = MemoryStore::named("unit-shared");
        let b = MemoryStore::named("unit-shared");
        assert!(Arc::ptr_eq(&a, &b));
        let q = Quota::new(1, 1000); // 1 ms window
        for i in 0..20_000 {
            a.check(&format!("c{i}"), "e", q, 1);
        }
        std::thread::sleep(Duration::from_millis(1100 + 5));
        for i in 0..(SWEEP_EVERY as usize * SHARDS) {
            a.check("hot", if i % 2 == 0 { "x" } else { "y" }, q, 1);
        }
        assert!(a.len() < 1000, "{} keys left", a.len());
    }
}
