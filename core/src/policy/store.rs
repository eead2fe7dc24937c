//! Policies in Redis: one hash, a version counter and a channel; storing
//! (one `MULTI`), loading, and the watcher task that keeps a limiter's copy
//! current.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use crate::backend::Backend;
use crate::error::Result;
use crate::policy::table::{PolicyTable, NOT_LOADED};
use crate::policy::{Policy, REFRESH_EVERY};
use crate::runtime;

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

impl PolicyTable {
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
