//! The multi-host URL grammar shared by Redis Cluster (`redis+cluster://`)
//! and Sentinel (`redis+sentinel://`), and `host:port` joining.

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
}
