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

//!
//! * this file: [`Policy`] and how a name resolves to one;
//! * `table.rs`: the in-process table (memory://'s store, or a limiter's copy);
//! * `store.rs`: the Redis side — storing, loading and watching.

mod store;
mod table;

use std::collections::HashMap;
use std::time::Duration;

use crate::algorithm::Algorithm;
use crate::error::{Error, Result};
use crate::quota::{validate_id, Quota};

pub(crate) use store::{fetch_all, store, RedisNames};
pub(crate) use table::PolicyTable;

/// How often a watching limiter compares the policy version, as a safety net
/// behind the pub/sub notification.
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// The policy applied to endpoints that have none of their own.
pub const DEFAULT_POLICY: &str = "*";

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
