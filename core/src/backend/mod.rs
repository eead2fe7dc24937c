//! Where the state lives: the one list of backends, chosen by URL.
//!
//! * [`memory`]: `memory://`, in process, the same arithmetic as the script.
//! * [`redis`]: one server (`redis://`, `rediss://`), the master that
//!   Sentinels name (`redis+sentinel://`, `rediss+sentinel://`), or a Redis
//!   Cluster (`redis+cluster://`, `rediss+cluster://`): connections,
//!   batching, the script, the key scheme.
//!
//! Decisions on `memory://` are taken inline by the limiter; everything
//! else goes through [`Backend`]'s calls, which answer within the deadline.

pub(crate) mod memory;
pub(crate) mod redis;

use std::sync::Arc;
use std::time::Duration;

use self::redis::cluster::ClusterConnection;
use self::redis::connection::RedisConnection;
use self::redis::keys;
use self::redis::queue::Done;
use self::redis::sentinel::SentinelTarget;
use self::redis::url::TlsFiles;
use crate::algorithm::Spec;
use crate::error::{Error, Result};
use memory::MemoryStore;

/// A limiter's backend. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// `memory://[name]`.
    Memory(Arc<MemoryStore>),
    /// `redis://`, `rediss://`, `redis+sentinel://` or `rediss+sentinel://`.
    Redis(RedisConnection),
    /// `redis+cluster://` or `rediss+cluster://`.
    Cluster(ClusterConnection),
}

fn not_redis() -> Error {
    Error::Internal("a Redis call on the memory:// backend".into())
}

impl Backend {
    /// The backend a URL names (the one table of URL schemes). Does not
    /// wait for Redis: a first connection attempt starts in the background.
    pub(crate) fn open(url: &str, deadline: Duration, max_in_flight: usize, tls: &TlsFiles) -> Result<Self> {
        let backend = if let Some(name) = url.strip_prefix("memory://") {
            // As before options were one type: memory:// ignores TLS settings.
            return Ok(Backend::Memory(MemoryStore::named(name)));
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            RedisConnection::new(url, deadline, max_in_flight, tls).map(Backend::Redis)
        } else if url.starts_with("redis+sentinel://") || url.starts_with("rediss+sentinel://") {
            SentinelTarget::parse(url, tls)
                .map(|t| Backend::Redis(RedisConnection::sentinel(t, deadline, max_in_flight)))
        } else if url.starts_with("redis+cluster://") || url.starts_with("rediss+cluster://") {
            ClusterConnection::new(url, deadline, max_in_flight, tls).map(Backend::Cluster)
        } else {
            return Err(Error::config(format!(
                "unknown URL scheme in {:?}; expected memory://, redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://",
                url.split_once("://").map_or(url, |(s, _)| s)
            )));
        };
        backend.inspect(Backend::warm_up)
    }

    /// The Redis part, or `None` for `memory://`.
    pub(crate) fn remote(&self) -> Option<&Self> {
        (!matches!(self, Backend::Memory(_))).then_some(self)
    }

    fn warm_up(&self) {
        match self {
            Backend::Memory(_) => {}
            Backend::Redis(c) => c.warm_up(),
            Backend::Cluster(c) => c.warm_up(),
        }
    }

    pub(crate) fn deadline(&self) -> Duration {
        match self {
            // memory:// decides inline; nothing waits on it.
            Backend::Memory(_) => Duration::ZERO,
            Backend::Redis(c) => c.deadline(),
            Backend::Cluster(c) => c.deadline(),
        }
    }

    /// Queue one decision (all keys in one slot); `done` is called exactly
    /// once, within the deadline.
    pub(crate) fn submit(&self, keys: Vec<Vec<u8>>, specs: Vec<Spec>, now: Option<u64>, done: Done) {
        match self {
            Backend::Memory(_) => done(Err(not_redis())),
            Backend::Redis(c) => c.submit(keys, specs, now, done),
            Backend::Cluster(c) => c.submit(keys, specs, now, done),
        }
    }

    /// Which server a decision on `keys` goes to now (always 0 for one
    /// server; on a cluster, a small number per master), so that circuit
    /// breakers can be kept per server.
    pub(crate) fn route(&self, keys: &[Vec<u8>]) -> usize {
        match (self, keys.first()) {
            (Backend::Cluster(c), Some(k)) => c.route(keys::slot(k)),
            _ => 0,
        }
    }

    /// `PING` (every master of a cluster) within the deadline.
    pub(crate) async fn ping(&self) -> Result<()> {
        match self {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(c) => c.ping().await,
            Backend::Cluster(c) => c.ping().await,
        }
    }

    /// One command about `key` (which routes it on a cluster).
    pub(crate) async fn query<T: ::redis::FromRedisValue + Send>(&self, key: &str, cmd: ::redis::Cmd) -> Result<T> {
        match self {
            Backend::Memory(_) => Err(not_redis()),
            Backend::Redis(c) => c.query(cmd).await,
            Backend::Cluster(c) => c.query(key.as_bytes(), cmd).await,
        }
    }

    /// One pipeline or `MULTI` block whose keys share `key`'s slot.
    pub(crate) async fn query_pipe<T: ::redis::FromRedisValue + Send>(
        &self,
        key: &str,
        pipe: ::redis::Pipeline,
    ) -> Result<T> {
        match self {
            Backend::Memory(_) => Err(not_redis()),
            Backend::Redis(c) => c.query_pipe(pipe).await,
            Backend::Cluster(c) => c.query_pipe(key.as_bytes(), pipe).await,
        }
    }

    /// A pub/sub connection subscribed to `channel` (on a cluster, on the
    /// master of `key`'s slot).
    pub(crate) async fn subscribe(&self, key: &str, channel: &str) -> Result<::redis::aio::PubSubStream> {
        match self {
            Backend::Memory(_) => Err(not_redis()),
            Backend::Redis(c) => c.subscribe(channel).await,
            Backend::Cluster(c) => c.subscribe(key.as_bytes(), channel).await,
        }
    }
}
