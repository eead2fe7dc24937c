//! The local deny cache: a (key, cost) that Redis refused is refused locally
//! until its `retry_after` has passed, without a round trip.
//!
//! Why it never admits what Redis would refuse: it only ever refuses. And it
//! refuses only what Redis would refuse too: after a refusal with
//! `retry_after` R, nothing but time frees room in any algorithm here, so no
//! request of the same or a larger cost can pass before R has elapsed on the
//! server's clock; the cache counts R from when the reply *arrived*, which is
//! after the server decided, so it lets go slightly late (by the one-way
//! reply latency), never early. Entries are keyed by the Redis key, which
//! includes the algorithm, and carry the quota, so a changed quota (a policy
//! update, a different capacity in code) is a miss. What it cannot know: the
//! key being deleted or Redis losing its data (a restart without
//! persistence); then it keeps refusing until the cached `retry_after`.
//!
//! Bounded: at most `capacity` entries; expired entries are dropped as the
//! cache is used, and when it is full new refusals are simply not cached.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::algorithm::Spec;

const SHARDS: usize = 16;

#[derive(Debug)]
struct Entry {
    key: Box<[u8]>,
    capacity: u64,
    window_us: u64,
    cost: u64,
    remaining: u64,
    until: Instant,
    reset_until: Instant,
}

/// A cached refusal, as a decision's numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    /// `remaining` as Redis reported it with the refusal.
    pub(crate) remaining: u64,
    pub(crate) retry_after: Duration,
    pub(crate) reset_after: Duration,
}

#[derive(Debug)]
pub(crate) struct DenyCache {
    shards: Box<[Mutex<HashMap<u64, Entry>>]>,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
    /// Entries in all shards (lets admissions skip the lock when empty).
    entries: std::sync::atomic::AtomicUsize,
}

impl DenyCache {
    pub(crate) fn new(capacity: usize) -> Self {
        DenyCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: Default::default(),
            entries: Default::default(),
        }
    }

    fn slot(&self, key: &[u8]) -> (u64, usize) {
        let h = self.hasher.hash_one(key);
        (h, (h >> 32) as usize % SHARDS)
    }

    /// A refusal for `key` and `spec`, if one is cached and still running.
    pub(crate) fn get(&self, key: &[u8], spec: &Spec) -> Option<Hit> {
        let (h, s) = self.slot(key);
        let mut shard = self.shards[s].lock().unwrap_or_else(|e| e.into_inner());
        let e = shard.get(&h)?;
        let now = Instant::now();
        if now >= e.until {
            shard.remove(&h);
            self.entries.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
        let same =
            *e.key == *key && e.capacity == spec.capacity && e.window_us == spec.window_us && spec.cost >= e.cost;
        same.then(|| Hit {
            remaining: e.remaining,
            retry_after: e.until - now,
            reset_after: e.reset_until.saturating_duration_since(now),
        })
    }

    /// Remember a refusal that arrived now.
    pub(crate) fn insert(&self, key: &[u8], spec: &Spec, remaining: u64, retry_after: Duration, reset_after: Duration) {
        if retry_after.is_zero() {
            return;
        }
        let (h, s) = self.slot(key);
        let now = Instant::now();
        let mut shard = self.shards[s].lock().unwrap_or_else(|e| e.into_inner());
        if shard.len() >= self.per_shard {
            let before = shard.len();
            shard.retain(|_, e| e.until > now);
            self.entries
                .fetch_sub(before - shard.len(), std::sync::atomic::Ordering::Relaxed);
            if shard.len() >= self.per_shard {
                return;
            }
        }
        let fresh = shard.insert(
            h,
            Entry {
                key: key.into(),
                capacity: spec.capacity,
                window_us: spec.window_us,
                cost: spec.cost,
                remaining,
                until: now + retry_after,
                reset_until: now + reset_after.max(retry_after),
            },
        );
        if fresh.is_none() {
            self.entries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// This limiter admitted on `key`: a cached refusal's numbers are stale.
    pub(crate) fn remove(&self, key: &[u8]) {
        if self.entries.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return;
        }
        let (h, s) = self.slot(key);
        let mut shard = self.shards[s].lock().unwrap_or_else(|e| e.into_inner());
        if shard.remove(&h).is_some() {
            self.entries.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, Quota};

    #[test]
    fn hits_only_same_quota_and_no_smaller_cost_until_expiry() {
        let c = DenyCache::new(100);
        let spec = |cap, cost| Spec::new(Algorithm::SlidingWindowLog, Quota::new(cap, 1), cost);
        c.insert(
            b"k",
            &spec(5, 2),
            1,
            Duration::from_millis(40),
            Duration::from_millis(60),
        );
        assert_eq!(c.get(b"k", &spec(5, 2)).unwrap().remaining, 1);
        assert!(c.get(b"k", &spec(5, 2)).is_some());
        assert!(
            c.get(b"k", &spec(5, 3)).is_some(),
            "a larger cost waits at least as long"
        );
        assert!(c.get(b"k", &spec(5, 1)).is_none(), "a smaller cost may pass earlier");
        assert!(c.get(b"k", &spec(6, 2)).is_none(), "another quota");
        assert!(c.get(b"other", &spec(5, 2)).is_none());
        std::thread::sleep(Duration::from_millis(45));
        assert!(c.get(b"k", &spec(5, 2)).is_none(), "expired");
    }

    #[test]
    fn stays_bounded() {
        let c = DenyCache::new(32);
        let spec = Spec::new(Algorithm::FixedWindow, Quota::new(1, 1), 1);
        for i in 0..10_000u32 {
            c.insert(
                &i.to_le_bytes(),
                &spec,
                0,
                Duration::from_secs(60),
                Duration::from_secs(60),
            );
        }
        assert!(c.len() <= 32, "{}", c.len());
    }
}
