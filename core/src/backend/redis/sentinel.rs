//! Redis Sentinel (`redis+sentinel://`).
//!
//! The master is looked up by name every time the connection is (re)made:
//! the Sentinels are asked in turn with `SENTINEL get-master-addr-by-name`,
//! and the server they name must say `ROLE` = master before it is used. A
//! failover is followed as soon as the old connection breaks (the master
//! died) or answers `READONLY` (it was demoted): the connection manager drops
//! the connection and the next call asks again. redis-rs's own Sentinel
//! client resolves the master once, which is why this exists.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::backend::redis::url::{join_host_port, MultiHost, TlsFiles};
use crate::error::{Error, Result};

/// The Sentinels of one master, and how to connect to whichever server
/// they name.
#[derive(Debug)]
pub(crate) struct SentinelTarget {
    sentinels: Vec<(String, redis::Client)>,
    master_name: String,
    url: MultiHost,
    db: i64,
    /// The Sentinel to ask first: the last one that answered.
    first: AtomicUsize,
}

impl SentinelTarget {
    /// Parse `redis+sentinel://[user:password@]host:port[,host:port...]/master-name[/db]`.
    /// The credentials are the master's; the Sentinels are asked without.
    /// `rediss+sentinel://…[#insecure]`: the Sentinels and the master are
    /// reached over TLS, with the TLS files when given.
    pub(crate) fn parse(url: &str, tls: &TlsFiles) -> Result<Self> {
        let mut parsed = MultiHost::parse(url, "redis+sentinel", 26379)?;
        tls.check(parsed.tls, "redis+sentinel://")?;
        parsed.tls_files = tls.clone();
        let (name, db) = parsed.path.split_once('/').unwrap_or((&parsed.path, ""));
        if name.is_empty() {
            return Err(Error::config(
                "a redis+sentinel:// URL needs the master name: redis+sentinel://host:port/master-name",
            ));
        }
        let db = match db {
            "" => 0,
            d => d
                .parse::<i64>()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or_else(|| Error::config(format!("invalid database number {d:?} in the Sentinel URL")))?,
        };
        let sentinels = parsed
            .hosts
            .iter()
            .map(|h| {
                parsed
                    .client(&parsed.sentinel_url(h))
                    .map(|c| (h.clone(), c))
                    .map_err(|e| Error::config(format!("invalid Sentinel address {h:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SentinelTarget {
            sentinels,
            master_name: name.to_owned(),
            db,
            url: parsed,
            first: AtomicUsize::new(0),
        })
    }

    pub(crate) fn master_name(&self) -> &str {
        &self.master_name
    }

    /// The master the Sentinels name now (asked in turn, each within
    /// `deadline`, starting with the one that answered last).
    pub(crate) async fn master(&self, deadline: Duration) -> Result<redis::Client> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(deadline))
            .set_response_timeout(Some(deadline));
        let mut failures = Vec::new();
        let n = self.sentinels.len();
        let start = self.first.load(Ordering::Relaxed);
        for i in 0..n {
            let at = (start + i) % n;
            let (addr, client) = &self.sentinels[at];
            let asked = async {
                let mut conn = client.get_multiplexed_async_connection_with_config(&config).await?;
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&self.master_name)
                    .query_async::<Option<(String, u16)>>(&mut conn)
                    .await
            };
            match tokio::time::timeout(deadline, asked).await {
                Ok(Ok(Some((host, port)))) => {
                    self.first.store(at, Ordering::Relaxed);
                    let url = self.url.node_url_db(&join_host_port(&host, port), Some(self.db));
                    return self.url.client(&url).map_err(|e| {
                        Error::config(format!(
                            "the Sentinel at {addr} named an unusable master {host}:{port}: {e}"
                        ))
                    });
                }
                Ok(Ok(None)) => failures.push(format!("{addr}: no master named {:?}", self.master_name)),
                Ok(Err(e)) => failures.push(format!("{addr}: {e}")),
                Err(_) => failures.push(format!("{addr}: no answer within {deadline:?}")),
            }
        }
        Err(Error::Connection {
            message: format!(
                "no Sentinel named a master for {:?} ({})",
                self.master_name,
                failures.join("; ")
            ),
            source: None,
            outcome_unknown: false,
        })
    }

    /// Make sure the server behind `conn` is a master (a Sentinel may still
    /// name a demoted one for a moment during a failover).
    pub(crate) async fn check_master(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        client: &redis::Client,
    ) -> Result<()> {
        let role: redis::Value = redis::cmd("ROLE")
            .query_async(conn)
            .await
            .map_err(|e| Error::from_redis(e, Duration::ZERO, false))?;
        let is_master = match &role {
            redis::Value::Array(items) => {
                matches!(items.first(), Some(redis::Value::BulkString(b)) if b == b"master")
            }
            _ => false,
        };
        if is_master {
            Ok(())
        } else {
            Err(Error::Connection {
                message: format!(
                    "the Sentinels name {} as the master of {:?}, but it is not a master (a failover in progress?)",
                    client.get_connection_info().addr(),
                    self.master_name
                ),
                source: None,
                outcome_unknown: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_need_a_master_name() {
        assert!(SentinelTarget::parse("redis+sentinel://h:1", &TlsFiles::default()).is_err());
        assert!(SentinelTarget::parse("redis+sentinel://h:1/", &TlsFiles::default()).is_err());
        assert!(SentinelTarget::parse("redis+sentinel://h:1/m/x", &TlsFiles::default()).is_err());
        let t = SentinelTarget::parse("redis+sentinel://h:1,h:2/mymaster/3", &TlsFiles::default()).unwrap();
        assert_eq!(t.master_name(), "mymaster");
        assert_eq!((t.sentinels.len(), t.db), (2, 3));
    }
}
