//! The multi-host URL grammar shared by Redis Cluster (`redis+cluster://`,
//! `rediss+cluster://`) and Sentinel (`redis+sentinel://`,
//! `rediss+sentinel://`), and `host:port` joining.

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
    /// `rediss+…://`: every node (and Sentinel) is reached over TLS.
    pub(crate) tls: bool,
    /// `#insecure` (TLS only): certificates are not verified.
    pub(crate) insecure: bool,
    /// The CA to trust and the client certificate, if given.
    pub(crate) tls_files: TlsFiles,
}

/// TLS material given as options: a CA certificate to trust instead of the
/// system's roots, and a client certificate with its key for servers that
/// require one (`tls-auth-clients yes`). All PEM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    pub(crate) root_cert: Option<Vec<u8>>,
    pub(crate) client_cert: Option<Vec<u8>>,
    pub(crate) client_key: Option<Vec<u8>>,
}

impl TlsFiles {
    /// Nothing given.
    pub(crate) fn is_empty(&self) -> bool {
        self.root_cert.is_none() && self.client_cert.is_none() && self.client_key.is_none()
    }

    /// A Config error unless these files suit a URL of `scheme` (TLS or
    /// not): TLS material needs a TLS scheme, a client certificate its key.
    pub(crate) fn check(&self, tls: bool, scheme: &str) -> crate::error::Result<()> {
        if !self.is_empty() && !tls {
            return Err(Error::config(format!(
                "TLS certificates (root or client) need a TLS URL: rediss{}",
                scheme.strip_prefix("redis").unwrap_or(scheme)
            )));
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err(Error::config(
                "a TLS client certificate needs its key, and a key its certificate (tls_client_cert_pem and tls_client_key_pem)",
            ));
        }
        Ok(())
    }
}

impl MultiHost {
    /// Parse `url`, which starts with `scheme://` (`redis+cluster`, say) or
    /// its TLS twin (`rediss+cluster://`, which may end in `#insecure`); a
    /// host without a port gets `default_port`.
    pub(crate) fn parse(url: &str, scheme: &str, default_port: u16) -> Result<Self> {
        let bad = |why: &str| Error::config(format!("invalid {scheme}:// URL: {why}"));
        let tls_scheme = scheme.replacen("redis", "rediss", 1);
        let (tls, rest) = match url.strip_prefix(&tls_scheme).and_then(|r| r.strip_prefix("://")) {
            Some(rest) => (true, rest),
            None => (
                false,
                url.strip_prefix(scheme)
                    .and_then(|r| r.strip_prefix("://"))
                    .ok_or_else(|| bad("wrong scheme"))?,
            ),
        };
        let (rest, insecure) = match rest.strip_suffix("#insecure") {
            Some(r) if tls => (r, true),
            Some(_) => return Err(bad("#insecure needs TLS (rediss+…://)")),
            None => (rest, false),
        };
        if rest.contains('?') || rest.contains('#') {
            return Err(bad(
                "query strings and fragments (but #insecure with TLS) are not supported",
            ));
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
            tls,
            insecure,
            tls_files: TlsFiles::default(),
        })
    }

    /// A `redis://` (or `rediss://`) URL for one node (`host:port`), with
    /// the credentials.
    pub(crate) fn node_url(&self, addr: &str) -> String {
        self.node_url_db(addr, None)
    }

    /// [`node_url`](Self::node_url) with a database number.
    pub(crate) fn node_url_db(&self, addr: &str, db: Option<i64>) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let db = db.map(|d| format!("/{d}")).unwrap_or_default();
        let fragment = if self.insecure { "#insecure" } else { "" };
        format!("{scheme}://{}{addr}{db}{fragment}", self.auth)
    }

    /// A URL for a Sentinel (`host:port`): same TLS settings, no credentials.
    pub(crate) fn sentinel_url(&self, addr: &str) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let fragment = if self.insecure { "#insecure" } else { "" };
        format!("{scheme}://{addr}{fragment}")
    }

    /// A client for `url` (one of the above) with this URL's TLS files.
    pub(crate) fn client(&self, url: &str) -> redis::RedisResult<redis::Client> {
        open_client(url, &self.tls_files)
    }
}

/// A redis-rs client for a `redis://` or `rediss://` URL, trusting
/// `files.root_cert` (PEM) instead of the system's roots when given, and
/// presenting the client certificate when given.
pub(crate) fn open_client(url: &str, files: &TlsFiles) -> redis::RedisResult<redis::Client> {
    if url.starts_with("rediss://") {
        // redis-rs's rustls feature selects no crypto provider; install
        // ring once per process (a no-op if the host installed one).
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    if files.is_empty() {
        return redis::Client::open(url);
    }
    let client_tls = match (&files.client_cert, &files.client_key) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: cert.clone(),
            client_key: key.clone(),
        }),
        _ => None,
    };
    redis::Client::build_with_tls(
        url,
        redis::TlsCertificates {
            client_tls,
            root_cert: files.root_cert.clone(),
        },
    )
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
        let u = MultiHost::parse("rediss+cluster://u:p@a:1,b:2#insecure", "redis+cluster", 6379).unwrap();
        assert!(u.tls && u.insecure);
        assert_eq!(u.node_url("a:1"), "rediss://u:p@a:1#insecure");
        assert_eq!(u.node_url_db("a:1", Some(2)), "rediss://u:p@a:1/2#insecure");
        assert_eq!(u.sentinel_url("s:3"), "rediss://s:3#insecure");
        assert!(MultiHost::parse("redis+cluster://a:1#insecure", "redis+cluster", 6379).is_err());
        assert!(MultiHost::parse("rediss+cluster://a:1#x", "redis+cluster", 6379).is_err());
        assert_eq!(join_host_port("::1", 7), "[::1]:7");
        assert_eq!(join_host_port("10.0.0.1", 7), "10.0.0.1:7");
    }
}
