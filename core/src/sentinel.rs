//! Redis Sentinel (`redis+sentinel://`) and the URL grammar shared with
//! Redis Cluster (`redis+cluster://`).
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

use crate::error::{Error, Result};

/// The parts of a multi-host URL
/// `scheme://[user[:password]@]host:port[,host:port...][/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MultiHost {
    /// `user:password@`, `:password@` or empty: used for the data nodes.
    pub(crate) auth: String,
    /// `host:port` each (IPv6 hosts in brackets).
    pub(crate) hosts: Vec<String>,
    /// What follows the first `/` after the hosts (may be empty).
    pub(crate) path: String,
}

impl MultiHost {
    /// Parse `url`, which starts with `scheme://`; a host without a port
    /// gets `default_port`.
    pub(crate) fn parse(url: &str, scheme: &str, default_port: u16) -> Result<Self> {
        let bad = |why: &str| Error::config(format!("invalid {scheme}:// URL: {why}"));
        let rest = url
            .strip_prefix(scheme)
            .and_then(|r| r.strip_prefix("://"))
            .ok_or_else(|| bad("wrong scheme"))?;
        if rest.contains('?') || rest.contains('#') {
            return Err(bad("query strings and fragments are not supported"));
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (auth, hosts) = match authority.rsplit_once('@') {
            Some((a, h)) => (format!("{a}@"), h),
            None => (String::new(), authority),
        };
        let mut list = Vec::new();
        for host in hosts.split(',') {
            if host.is_empty() {
                return Err(bad("empty host in the host list"));
            }
            // "host:port", "[::1]:port"; "host" and "[::1]" have no port.
            let bracketed_v6_without_port =
                |n: &str, p: &str| p.contains(']') || (n.starts_with('[') && !n.ends_with(']'));
            let (name, port) = match host.rsplit_once(':') {
                Some((n, p)) if !bracketed_v6_without_port(n, p) => (n, Some(p)),
                _ => (host, None),
            };
            if name.is_empty() {
                return Err(bad("empty host name"));
            }
            let port = match port {
                Some(p) => p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad(&format!("invalid port {p:?}")))?,
                None => default_port,
            };
            list.push(format!("{name}:{port}"));
        }
        Ok(MultiHost {
            auth,
            hosts: list,
            path: path.to_owned(),
        })
    }

    /// A `redis://` URL for one node (`host:port`), with the credentials.
    pub(crate) fn node_url(&self, addr: &str) -> String {
        format!("redis://{}{addr}", self.auth)
    }
}

/// `host:port` for an address given as a bare host and a port (IPv6 hosts
/// get brackets).
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

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
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let parsed = MultiHost::parse(url, "redis+sentinel", 26379)?;
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
                redis::Client::open(format!("redis://{h}"))
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
                    let url = format!("{}/{}", self.url.node_url(&join_host_port(&host, port)), self.db);
                    return redis::Client::open(url).map_err(|e| {
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
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_host_urls_parse() {
        let u = MultiHost::parse("redis+cluster://a:1,b:2,[::1]:3,c", "redis+cluster", 6379).unwrap();
        assert_eq!(u.hosts, ["a:1", "b:2", "[::1]:3", "c:6379"]);
        assert_eq!(u.auth, "");
        assert_eq!(u.node_url("a:1"), "redis://a:1");
        let u = MultiHost::parse("redis+sentinel://u:p%40ss@h:5/m/2", "redis+sentinel", 26379).unwrap();
        assert_eq!(u.auth, "u:p%40ss@");
        assert_eq!(u.path, "m/2");
        assert_eq!(u.node_url("x:1"), "redis://u:p%40ss@x:1");
        for bad in [
            "redis+cluster://",
            "redis+cluster://a:1,,b:2",
            "redis+cluster://a:x",
            "redis+cluster://a:0",
            "redis+cluster://a:1?x=1",
            "redis+cluster://:1",
        ] {
            assert!(MultiHost::parse(bad, "redis+cluster", 6379).is_err(), "{bad}");
        }
        assert_eq!(join_host_port("::1", 7), "[::1]:7");
        assert_eq!(join_host_port("10.0.0.1", 7), "10.0.0.1:7");
    }

    #[test]
    fn sentinel_urls_need_a_master_name() {
        assert!(SentinelTarget::parse("redis+sentinel://h:1").is_err());
        assert!(SentinelTarget::parse("redis+sentinel://h:1/").is_err());
        assert!(SentinelTarget::parse("redis+sentinel://h:1/m/x").is_err());
        let t = SentinelTarget::parse("redis+sentinel://h:1,h:2/mymaster/3").unwrap();
        assert_eq!(t.master_name(), "mymaster");
        assert_eq!((t.sentinels.len(), t.db), (2, 3));
    }
}
