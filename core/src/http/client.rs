//! Who is asking: the client address of an HTTP request, from the peer and
//! (only behind proxies the user trusts) the forwarding header, grouped into
//! the key the default web key function uses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};

/// Which forwarding header trusted proxies set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the default).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for="[2001:db8::1]:4711"` (RFC 7239).
    Forwarded,
}

impl ProxyHeader {
    /// The header's name, lowercase (as ASGI, WSGI's `HTTP_…` and Node spell it
    /// after folding).
    pub const fn name(self) -> &'static str {
        match self {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
        }
    }
}

impl std::str::FromStr for ProxyHeader {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ProxyHeader::XForwardedFor),
            "forwarded" => Ok(ProxyHeader::Forwarded),
            _ => Err(Error::invalid_argument(format!(
                "unknown proxy header {s:?}; expected x-forwarded-for or forwarded"
            ))),
        }
    }
}

/// One trusted network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, unmap(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask4(a, self.prefix) == mask4(n, self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => mask6(a, self.prefix) == mask6(n, self.prefix),
            _ => false,
        }
    }
}

fn mask4(a: Ipv4Addr, prefix: u8) -> u32 {
    let bits = u32::from(a);
    match prefix {
        0 => 0,
        p => bits & (u32::MAX << (32 - u32::from(p.min(32)))),
    }
}

fn mask6(a: Ipv6Addr, prefix: u8) -> u128 {
    let bits = u128::from(a);
    match prefix {
        0 => 0,
        p => bits & (u128::MAX << (128 - u32::from(p.min(128)))),
    }
}

/// `::ffff:a.b.c.d` is the IPv4 address it carries (Node reports IPv4
/// peers of a dual-stack socket that way).
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client key of an HTTP request: the client's IP address, IPv6
/// grouped by a prefix (default /64, one home or host), with the forwarding
/// header believed only when the peer is a proxy the user listed.
///
/// The chain is read from the right (the hop nearest to us): the first
/// address that is not a trusted proxy is the client. Without trusted
/// proxies the peer itself is the client, so a client cannot pick its own
/// key by sending `X-Forwarded-For`.
///
/// ```
/// use ratewarden::http::ClientIp;
/// let direct = ClientIp::new(&[], Default::default(), 64).unwrap();
/// assert_eq!(direct.key("203.0.113.7", Some("1.2.3.4")), "203.0.113.7");
/// assert_eq!(direct.key("2001:db8:1:2:aaaa::1", None), "2001:db8:1:2::/64");
///
/// let behind = ClientIp::new(&["10.0.0.0/8"], Default::default(), 64).unwrap();
/// assert_eq!(behind.key("10.0.0.2", Some("198.51.100.9, 10.0.0.1")), "198.51.100.9");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp {
    trusted: Vec<Net>,
    header: ProxyHeader,
    ipv6_prefix: u8,
}

impl Default for ClientIp {
    /// No trusted proxy, `X-Forwarded-For`, IPv6 by /64.
    fn default() -> Self {
        ClientIp {
            trusted: Vec::new(),
            header: ProxyHeader::XForwardedFor,
            ipv6_prefix: 64,
        }
    }
}

impl ClientIp {
    /// `trusted`: addresses (`"10.0.0.1"`), networks (`"10.0.0.0/8"`,
    /// `"fd00::/8"`) or the names `"loopback"` (127.0.0.0/8, ::1) and
    /// `"private"` (10/8, 172.16/12, 192.168/16, fc00::/7). `ipv6_prefix`
    /// is 1 to 128 (a prefix shorter than /32 would lump providers together
    /// and is refused).
    ///
    /// ```
    /// use ratewarden::http::{ClientIp, ProxyHeader};
    /// assert!(ClientIp::new(&["loopback", "192.168.0.0/16"], ProxyHeader::Forwarded, 56).is_ok());
    /// assert!(ClientIp::new(&["10.0.0.0/33"], ProxyHeader::XForwardedFor, 64).is_err());
    /// ```
    pub fn new(trusted: &[&str], header: ProxyHeader, ipv6_prefix: u8) -> Result<Self> {
        if !(32..=128).contains(&ipv6_prefix) {
            return Err(Error::invalid_argument(format!(
                "ipv6_subnet is a prefix length from 32 to 128, got {ipv6_prefix}"
            )));
        }
        let mut nets = Vec::new();
        for t in trusted {
            nets.extend(parse_trusted(t)?);
        }
        Ok(ClientIp {
            trusted: nets,
            header,
            ipv6_prefix,
        })
    }

    /// The forwarding header this reads (lowercase name).
    pub fn header(&self) -> ProxyHeader {
        self.header
    }

    /// Whether any proxy is trusted (without one the header is never read).
    pub fn trusts_proxies(&self) -> bool {
        !self.trusted.is_empty()
    }

    /// The client's address: `peer` (the socket's remote address, as the
    /// server reports it) and the value of [`header`](Self::header) (all of
    /// its lines joined with `,`), or `None` when `peer` is not an IP
    /// address (a Unix socket, a test client).
    ///
    /// ```
    /// use ratewarden::http::ClientIp;
    /// let c = ClientIp::new(&["loopback"], Default::default(), 64).unwrap();
    /// assert_eq!(c.client("127.0.0.1", Some("not-an-ip, 192.0.2.1")).unwrap().to_string(), "192.0.2.1");
    /// ```
    pub fn client(&self, peer: &str, forwarded: Option<&str>) -> Option<IpAddr> {
        let mut ip = parse_addr(peer)?;
        if self.trusted.is_empty() || !self.is_trusted(ip) {
            return Some(ip);
        }
        let Some(chain) = forwarded else {
            return Some(ip);
        };
        let hops: Vec<&str> = match self.header {
            ProxyHeader::XForwardedFor => chain.split(',').collect(),
            ProxyHeader::Forwarded => chain.split(',').filter_map(forwarded_for).collect(),
        };
        // From the nearest hop outwards: the first untrusted address is the
        // client. An entry that is not an address ("unknown", an obfuscated
        // name) ends the walk at the proxy that wrote it.
        for hop in hops.iter().rev() {
            match parse_addr(hop) {
                Some(a) => {
                    ip = a;
                    if !self.is_trusted(a) {
                        break;
                    }
                }
                None => break,
            }
        }
        Some(ip)
    }

    /// The key of the request's client: the address ([`client`](Self::client)),
    /// IPv4 as is, IPv6 as its network (`2001:db8:1:2::/64`); a peer that is
    /// not an address is used as it is (trimmed; `"unknown"` when empty).
    pub fn key(&self, peer: &str, forwarded: Option<&str>) -> String {
        match self.client(peer, forwarded) {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) if self.ipv6_prefix == 128 => v6.to_string(),
            Some(IpAddr::V6(v6)) => {
                format!("{}/{}", Ipv6Addr::from(mask6(v6, self.ipv6_prefix)), self.ipv6_prefix)
            }
            None => match peer.trim() {
                "" => "unknown".to_owned(),
                p => p.to_owned(),
            },
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }
}

/// An address as servers and proxies write it: `1.2.3.4`, `1.2.3.4:5678`,
/// `::1`, `[::1]:5678`, `fe80::1%eth0`, `::ffff:1.2.3.4`; quotes trimmed.
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    let s = match s.strip_prefix('[') {
        Some(rest) => rest.split(']').next()?,
        None if s.matches(':').count() == 1 => s.split(':').next()?,
        None => s,
    };
    let s = s.split('%').next()?;
    s.parse::<IpAddr>().ok().map(unmap)
}

/// The `for=` parameter of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then_some(v.trim())
    })
}

fn parse_trusted(t: &str) -> Result<Vec<Net>> {
    let net = |addr: IpAddr, prefix| Net { addr, prefix };
    match t.trim() {
        "loopback" => {
            return Ok(vec![
                net(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
                net(IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
            ])
        }
        "private" => {
            return Ok(vec![
                net(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8),
                net(IpAddr::V4(Ipv4Addr::new(172, 16, 0, 0)), 12),
                net(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0)), 16),
                net(IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)), 7),
            ])
        }
        _ => {}
    }
    let bad = || {
        Error::invalid_argument(format!(
            "a trusted proxy is an address, a network such as 10.0.0.0/8, \"loopback\" or \"private\", got {t:?}"
        ))
    };
    let (addr, prefix) = match t.trim().split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (t.trim(), None),
    };
    let addr: IpAddr = addr.parse().map(unmap).map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
    };
    Ok(vec![net(addr, prefix)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(trusted: &[&str], header: ProxyHeader) -> ClientIp {
        ClientIp::new(trusted, header, 64).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let c = ClientIp::default();
        assert_eq!(c.key("192.0.2.1", Some("198.51.100.1")), "192.0.2.1");
        assert_eq!(c.key("::ffff:192.0.2.1", None), "192.0.2.1");
        assert_eq!(c.key("2001:db8::1", None), "2001:db8::/64");
        assert_eq!(c.key("2001:db8:0:0:ffff::2", None), "2001:db8::/64");
        assert_eq!(c.key("2001:db8:0:1::2", None), "2001:db8:0:1::/64");
        assert_eq!(c.key("testclient", None), "testclient");
        assert_eq!(c.key(" ", None), "unknown");
    }

    #[test]
    fn a_trusted_chain_is_read_from_the_right() {
        let c = with(&["10.0.0.0/8", "loopback"], ProxyHeader::XForwardedFor);
        // spoofed left part: the client wrote "6.6.6.6", the proxy appended its peer
        assert_eq!(
            c.key("127.0.0.1", Some("6.6.6.6, 203.0.113.5, 10.1.1.1")),
            "203.0.113.5"
        );
        assert_eq!(c.key("127.0.0.1", Some("10.2.2.2,10.1.1.1")), "10.2.2.2");
        assert_eq!(c.key("127.0.0.1", None), "127.0.0.1");
        assert_eq!(c.key("127.0.0.1", Some("unknown")), "127.0.0.1");
        assert_eq!(c.key("127.0.0.1", Some("[2001:db8::7]:443")), "2001:db8::/64");
        // an untrusted peer's header is ignored
        assert_eq!(c.key("192.0.2.9", Some("203.0.113.5")), "192.0.2.9");
    }

    #[test]
    fn forwarded_for_parameters() {
        let c = with(&["::1"], ProxyHeader::Forwarded);
        let h = r#"for=192.0.2.43;proto=https, For="[2001:db8:cafe::17]:4711";by=x"#;
        assert_eq!(c.key("::1", Some(h)), "2001:db8:cafe::/64");
        assert_eq!(c.key("::1", Some("for=192.0.2.60:8080")), "192.0.2.60");
        assert_eq!(c.key("::1", Some("proto=http")), "::/64"); // no for=: the proxy itself
    }

    #[test]
    fn bad_configuration_is_refused() {
        for t in ["10.0.0.0/33", "::/129", "example.com", "", "1.2.3.4/x"] {
            assert!(ClientIp::new(&[t], ProxyHeader::XForwardedFor, 64).is_err(), "{t:?}");
        }
        assert!(ClientIp::new(&[], ProxyHeader::XForwardedFor, 16).is_err());
        assert!("via".parse::<ProxyHeader>().is_err());
        assert_eq!("Forwarded".parse::<ProxyHeader>().unwrap(), ProxyHeader::Forwarded);
        let c = with(&["::ffff:10.0.0.1"], ProxyHeader::XForwardedFor);
        assert_eq!(c.key("10.0.0.1", Some("192.0.2.1")), "192.0.2.1");
    }
}
