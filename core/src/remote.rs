//! The Redis side of a limiter: one server (by URL, or the master Sentinel
//! names) or a Redis Cluster, behind one set of calls.

use std::time::Duration;

use crate::algorithm::Spec;
use crate::cluster::ClusterConnection;
use crate::connection::{Done, RedisConnection};
use crate::error::{Error, Result};
use crate::sentinel::SentinelTarget;

#[derive(Debug, Clone)]
pub(crate) enum Remote {
    /// `redis://`, `rediss://` or `redis+sentinel://`.
    Single(RedisConnection),
    /// `redis+cluster://`.
    Cluster(ClusterConnection),
}

impl Remote {
    /// Build from a Redis URL of any supported scheme; `None` if the scheme
    /// is not a Redis one. Does not wait for Redis: a first connection
    /// attempt starts in the background.
    pub(crate) fn open(
        url: &str,
        deadline: Duration,
        max_in_flight: usize,
        tls_root_cert: Option<Vec<u8>>,
    ) -> Option<Result<Self>> {
        let tls_only = |r: Result<Self>| match tls_root_cert {
            Some(_) => Err(Error::config("a TLS root certificate needs a rediss:// URL")),
            None => r,
        };
        let remote = if url.starts_with("redis://") || url.starts_with("rediss://") {
            RedisConnection::new(url, deadline, max_in_flight, tls_root_cert).map(Remote::Single)
        } else if url.starts_with("redis+sentinel://") {
            tls_only(
                SentinelTarget::parse(url)
                    .map(|t| Remote::Single(RedisConnection::sentinel(t, deadline, max_in_flight))),
            )
        } else if url.starts_with("redis+cluster://") {
            tls_only(ClusterConnection::new(url, deadline, max_in_flight).map(Remote::Cluster))
        } else {
            return None;
        };
        Some(remote.inspect(Remote::warm_up))
    }

    fn warm_up(&self) {
        match self {
            Remote::Single(c) => c.warm_up(),
            Remote::Cluster(c) => c.warm_up(),
        }
    }

    pub(crate) fn deadline(&self) -> Duration {
        match self {
            Remote::Single(c) => c.deadline(),
            Remote::Cluster(c) => c.deadline(),
        }
    }

    /// Queue one decision (all keys in one slot); `done` is called exactly
    /// once, within the deadline.
    pub(crate) fn submit(&self, keys: Vec<Vec<u8>>, specs: Vec<Spec>, now: Option<u64>, done: Done) {
        match self {
            Remote::Single(c) => c.submit(keys, specs, now, done),
            Remote::Cluster(c) => c.submit(keys, specs, now, done),
        }
    }

    /// Which server a decision on `keys` goes to now (always 0 for one
    /// server; on a cluster, a small number per master), so that circuit
    /// breakers can be kept per server.
    pub(crate) fn route(&self, keys: &[Vec<u8>]) -> usize {
        match (self, keys.first()) {
            (Remote::Cluster(c), Some(k)) => c.route(crate::cluster::slot(k)),
            _ => 0,
        }
    }

    /// `PING` (every master of a cluster) within the deadline.
    pub(crate) async fn ping(&self) -> Result<()> {
        match self {
            Remote::Single(c) => c.ping().await,
            Remote::Cluster(c) => c.ping().await,
        }
    }

    /// One command about `key` (which routes it on a cluster).
    pub(crate) async fn query<T: redis::FromRedisValue + Send>(&self, key: &str, cmd: redis::Cmd) -> Result<T> {
        match self {
            Remote::Single(c) => c.query(cmd).await,
            Remote::Cluster(c) => c.query(key.as_bytes(), cmd).await,
        }
    }

    /// One pipeline or `MULTI` block whose keys share `key`'s slot.
    pub(crate) async fn query_pipe<T: redis::FromRedisValue + Send>(
        &self,
        key: &str,
        pipe: redis::Pipeline,
    ) -> Result<T> {
        match self {
            Remote::Single(c) => c.query_pipe(pipe).await,
            Remote::Cluster(c) => c.query_pipe(key.as_bytes(), pipe).await,
        }
    }

    /// A pub/sub connection subscribed to `channel` (on a cluster, on the
    /// master of `key`'s slot).
    pub(crate) async fn subscribe(&self, key: &str, channel: &str) -> Result<redis::aio::PubSubStream> {
        match self {
            Remote::Single(c) => c.subscribe(channel).await,
            Remote::Cluster(c) => c.subscribe(key.as_bytes(), channel).await,
        }
    }
}
