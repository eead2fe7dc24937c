//! What a cluster error asks the client to do (`MOVED`, `ASK`, or wait and
//! retry), read from the server's text, and how long to wait.

use std::time::Duration;

use crate::backend::redis::keys::SLOTS;
use crate::error::Error;

/// Redirections followed per decision, at most.
pub(crate) const MAX_TRIES: u32 = 16;

/// What a cluster error asks the client to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Redirect {
    Moved {
        slot: u16,
        addr: String,
    },
    Ask {
        slot: u16,
        addr: String,
    },
    /// Refresh the map and try again shortly.
    Retry,
    /// A call of several slots (keys not declared) reached a key whose slot
    /// this node does not serve now, or the cluster is down: the decision
    /// ran nothing; send it again with its keys declared, which the server
    /// answers with the redirection (`MOVED`, `ASK`, `CLUSTERDOWN`).
    NotHere,
}

/// What Redis says when a script touches an undeclared key of a slot the
/// node does not serve ("…access a non local key in a cluster node…"), or
/// touches any key while the cluster is down ("…while the cluster is
/// down…"). Checked on Redis 7.0.15 (Redis 6 said "Lua script attempted
/// to access a non local key…", which matches too).
const NOT_HERE: [&str; 2] = ["non local key", "cluster is down"];

impl Redirect {
    pub(crate) fn of(err: &Error) -> Option<Self> {
        let Error::Server { message, .. } = err else {
            return None;
        };
        let mut words = message.split_ascii_whitespace();
        let code = words.next()?;
        let target = |words: &mut std::str::SplitAsciiWhitespace<'_>| {
            let slot = words.next()?.parse::<u16>().ok().filter(|s| usize::from(*s) < SLOTS)?;
            let addr = words.next()?.to_owned();
            Some((slot, addr))
        };
        match code {
            "MOVED" => Some(target(&mut words).map_or(Redirect::Retry, |(slot, addr)| Redirect::Moved { slot, addr })),
            "ASK" => Some(target(&mut words).map_or(Redirect::Retry, |(slot, addr)| Redirect::Ask { slot, addr })),
            "TRYAGAIN" | "CLUSTERDOWN" | "MASTERDOWN" | "LOADING" | "READONLY" => Some(Redirect::Retry),
            "ERR" if NOT_HERE.iter().any(|t| message.contains(t)) => Some(Redirect::NotHere),
            _ => None,
        }
    }
}

/// Pause before retry `tries`: 10, 20, 40, 80, then 160 ms.
pub(crate) fn backoff(tries: u32) -> Duration {
    Duration::from_millis(10u64 << (tries.clamp(1, 5) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirections_are_read_from_the_server_text() {
        let server = |m: &str| Error::Server {
            message: m.into(),
            source: None,
        };
        assert_eq!(
            Redirect::of(&server("MOVED 3999 127.0.0.1:7002")),
            Some(Redirect::Moved {
                slot: 3999,
                addr: "127.0.0.1:7002".into()
            })
        );
        assert_eq!(
            Redirect::of(&server("ASK 1 [::1]:7")),
            Some(Redirect::Ask {
                slot: 1,
                addr: "[::1]:7".into()
            })
        );
        assert_eq!(Redirect::of(&server("MOVED (Pipeline failure)")), Some(Redirect::Retry));
        assert_eq!(
            Redirect::of(&server("CLUSTERDOWN The cluster is down")),
            Some(Redirect::Retry)
        );
        assert_eq!(Redirect::of(&server("READONLY You can't write")), Some(Redirect::Retry));
        assert_eq!(Redirect::of(&server("ERR unknown")), None);
        assert_eq!(
            Redirect::of(&server(
                "ERR Script attempted to access a non local key in a cluster node script: 5e1f, on @user_script:9."
            )),
            Some(Redirect::NotHere)
        );
        assert_eq!(
            Redirect::of(&server(
                "ERR Script attempted to execute a command while the cluster is down"
            )),
            Some(Redirect::NotHere)
        );
        assert_eq!(Redirect::of(&server("WRONGTYPE non local key")), None);
        assert_eq!(Redirect::of(&Error::invalid_argument("MOVED 1 a:1")), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let ms: Vec<u128> = (1..8).map(|t| backoff(t).as_millis()).collect();
        assert_eq!(ms, [10, 20, 40, 80, 160, 160, 160]);
    }
}
