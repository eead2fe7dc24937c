//! Named policies: limits stored with the state (in Redis, or in the
//! `memory://` store) and changed on every running instance without a
//! restart.
//!
//! A policy maps a name — usually an endpoint, `"*"` being the fallback for
//! endpoints without one — to a capacity, a rate and optionally an
//! algorithm. [`Limiter::check_policy`](crate::Limiter::check_policy)
//! decides by policy.
//!
//! On Redis, policies live in one hash, `<prefix>{policies}`, with a version
//! counter `<prefix>{policies}:version`; every change bumps the version and
//! publishes the name on the channel `<prefix>policies`, atomically (one
//! `MULTI`). Each limiter that decides by policy keeps a copy and a watcher
//! task that reloads it when a notification arrives, and also compares the
//! version every [`REFRESH_EVERY`], so an instance that missed a
//! notification (it was reconnecting, or the change was written by hand)
//! still converges within that period.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use crate::algorithm::Algorithm;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::limiter::quota::{validate_id, Quota};
use crate::runtime;

/// How often a watching limiter compares the policy version, as a safety net
/// behind the pub/sub notification.
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// The policy applied to endpoints that have none of their own.
pub const DEFAULT_POLICY: &str = "*";

const NOT_LOADED: u64 = u64::MAX;

/// A named limit: capacity, rate and (optionally) the algorithm.
///
/// ```
/// use ratewarden::{Algorithm, Policy};
/// let p = Policy::new(100, 50).algorithm(Algorithm::Gcra);
/// assert_eq!(p.to_string(), "capacity=100 rate=50 algorithm=gcra");
/// assert_eq!("capacity=100 rate=50 algorithm=gcra".parse::<Policy>().unwrap(), p);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Burst size.
    pub capacity: u64,
    /// Sustained rate per second.
    pub rate_per_second: u64,
    /// `None`: the deciding limiter's algorithm.
    pub algorithm: Option<Algorithm>,
}

impl Policy {
    /// A policy of `capacity` and `rate_per_second` with the limiter's algorithm.
    pub const fn new(capacity: u64, rate_per_second: u64) -> Self {
        Policy {
            capacity,
            rate_per_second,
            algorithm: None,
        }
    }

    /// Use `algorithm` for this policy.
    #[must_use]
    pub const fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    /// The quota of this policy.
    pub const fn quota(&self) -> Quota {
        Quota::new(self.capacity, self.rate_per_second)
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "capacity={} rate={}", self.capacity, self.rate_per_second)?;
        if let Some(a) = self.algorithm {
            write!(f, " algorithm={a}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Policy {
    type Err = Error;

    /// `capacity=N rate=R [algorithm=NAME]`, as stored in Redis.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid_argument(format!(
                "malformed policy {s:?}; expected \"capacity=N rate=R [algorithm=NAME]\""
            ))
        };
        let (mut capacity, mut rate, mut algorithm) = (None, None, None);
        for part in s.split_whitespace() {
            match part.split_once('=').ok_or_else(bad)? {
                ("capacity", v) => capacity = Some(v.parse().map_err(|_| bad())?),
                ("rate", v) => rate = Some(v.parse().map_err(|_| bad())?),
                ("algorithm", v) => algorithm = Some(v.parse()?),
                _ => return Err(bad()),
            }
        }
        let p = Policy {
            capacity: capacity.ok_or_else(bad)?,
            rate_per_second: rate.ok_or_else(bad)?,
            algorithm,
        };
        p.quota().validate()?;
        Ok(p)
    }
}

/// Where a name's policy comes from: its own, or the default.
pub(crate) fn resolve<'a>(table: &'a HashMap<String, Policy>, endpoint: &str) -> Result<&'a Policy> {
    table
        .get(endpoint)
        .or_else(|| table.get(DEFAULT_POLICY))
        .ok_or_else(|| {
            Error::invalid_argument(format!(
            "no policy for {endpoint:?} and no default policy {DEFAULT_POLICY:?}; set one with `ratewarden policy set`"
        ))
        })
}

pub(crate) fn validate_name(name: &str) -> Result<()> {
    validate_id("policy name", name)
}

/// Redis names of the policy table, its version counter and channel.
#[derive(Debug, Clone)]
pub(crate) struct RedisNames {
    pub(crate) hash: String,
    pub(crate) version: String,
    pub(crate) channel: String,
}

impl RedisNames {
    pub(crate) fn new(prefix: &str) -> Self {
        RedisNames {
            hash: format!("{prefix}{{policies}}"),
            version: format!("{prefix}{{policies}}:version"),
            channel: format!("{prefix}policies"),
        }
    }
}

/// A limiter's copy of the policies (Redis), or the table itself (memory).
#[derive(Debug)]
pub(crate) struct PolicyTable {
    table: RwLock<Arc<HashMap<String, Policy>>>,
    version: AtomicU64,
    /// The fork generation + 1 whose runtime runs this table's watcher (0:
    /// none). Read on every `check_policy`, hence an atomic.
    watching: AtomicU64,
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

    fn install(&self, version: u64, table: HashMap<String, Policy>) {
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

    /// Redis: make sure a copy is loaded and a watcher keeps it current.
    pub(crate) async fn ensure_watched(self: &Arc<Self>, conn: &Backend, names: &RedisNames) -> Result<()> {
        let generation = runtime::fork_generation() + 1;
        let start = self.watching.swap(generation, Ordering::AcqRel) != generation;
        if start {
            let weak = Arc::downgrade(self);
            let (conn, names) = (conn.clone(), names.clone());
            runtime::handle().spawn(watch(weak, conn, names));
        }
        if self.version.load(Ordering::Acquire) == NOT_LOADED {
            self.reload(conn, names).await?;
        }
        Ok(())
    }

    async fn reload(&self, conn: &Backend, names: &RedisNames) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("GET")
            .arg(&names.version)
            .cmd("HGETALL")
            .arg(&names.hash);
        let (version, raw): (Option<u64>, HashMap<String, String>) = conn.query_pipe(&names.hash, pipe).await?;
        let mut table = HashMap::with_capacity(raw.len());
        for (name, text) in raw {
            match text.parse::<Policy>() {
                Ok(p) => {
                    table.insert(name, p);
                }
                Err(e) => {
                    tracing::warn!(target: "ratewarden", policy = %name, "ignoring a malformed policy: {e}")
                }
            }
        }
        let version = version.unwrap_or(0);
        let old = self.version.load(Ordering::Acquire);
        if old != version {
            tracing::info!(target: "ratewarden", version, policies = table.len(), "policies loaded");
        }
        self.install(version, table);
        Ok(())
    }
}

/// Keep `table` current until it is dropped: reload on every notification,
/// and compare the version every [`REFRESH_EVERY`].
async fn watch(table: Weak<PolicyTable>, conn: Backend, names: RedisNames) {
    use futures_util::StreamExt;
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pubsub: Option<redis::aio::PubSubStream> = None;
    loop {
        let notified = async {
            match pubsub.as_mut() {
                Some(s) => s.next().await.is_some(),
                None => std::future::pending().await,
            }
        };
        let by_notification = tokio::select! {
            alive = notified => {
                if !alive {
                    tracing::debug!(target: "ratewarden", "policy notifications stopped; resubscribing");
                    pubsub = None;
                    continue;
                }
                true
            }
            _ = tick.tick() => false,
        };
        let Some(t) = table.upgrade() else {
            return; // the limiter is gone
        };
        if pubsub.is_none() {
            pubsub = conn.subscribe(&names.hash, &names.channel).await.ok();
        }
        let stale = if by_notification {
            true
        } else {
            let v: Result<Option<u64>> = conn
                .query(&names.hash, redis::cmd("GET").arg(&names.version).to_owned())
                .await;
            match v {
                Ok(v) => v.unwrap_or(0) != t.version.load(Ordering::Acquire),
                Err(_) => false,
            }
        };
        if stale {
            if let Err(e) = t.reload(&conn, &names).await {
                tracing::debug!(target: "ratewarden", "policy reload failed: {e}");
            }
        }
    }
}

/// Write (or, with `None`, delete) a policy in Redis, bump the version and
/// notify, in one `MULTI`.
pub(crate) async fn store(conn: &Backend, names: &RedisNames, name: &str, policy: Option<Policy>) -> Result<()> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    match policy {
        Some(p) => pipe.cmd("HSET").arg(&names.hash).arg(name).arg(p.to_string()).ignore(),
        None => pipe.cmd("HDEL").arg(&names.hash).arg(name).ignore(),
    };
    pipe.cmd("INCR").arg(&names.version).ignore();
    pipe.cmd("PUBLISH").arg(&names.channel).arg(name).ignore();
    conn.query_pipe::<()>(&names.hash, pipe).await
}

/// Every policy in Redis, by name.
pub(crate) async fn fetch_all(conn: &Backend, names: &RedisNames) -> Result<HashMap<String, Policy>> {
    let raw: HashMap<String, String> = conn
        .query(&names.hash, redis::cmd("HGETALL").arg(&names.hash).to_owned())
        .await?;
    raw.into_iter().map(|(n, t)| t.parse().map(|p| (n, p))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_round_trip_and_reject_garbage() {
        for p in [
            Policy::new(1, 1),
            Policy::new(100, 50).algorithm(Algorithm::FixedWindow),
        ] {
            assert_eq!(p.to_string().parse::<Policy>().unwrap(), p);
        }
        for bad in [
            "",
            "capacity=1",
            "rate=1",
            "capacity=0 rate=1",
            "capacity=1 rate=1 algorithm=x",
            "capacity=1 rate=1 x=2",
        ] {
            assert!(bad.parse::<Policy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_policy_is_the_fallback() {
        let mut t = HashMap::new();
        assert!(resolve(&t, "/a").is_err());
        t.insert("*".to_owned(), Policy::new(1, 1));
        assert_eq!(resolve(&t, "/a").unwrap().capacity, 1);
        t.insert("/a".to_owned(), Policy::new(2, 1));
        assert_eq!(resolve(&t, "/a").unwrap().capacity, 2);
    }
}
