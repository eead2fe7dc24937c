//! Named policies: limits stored with the state (in Redis, or in the
//! `memory://` store) and changed on every running instance without a
//! restart.
//!
//! A policy maps a name — usually an endpoint, `"*"` being the fallback for
//! endpoints without one — to a capacity, a rate and optionally an
//! algorithm (a policy may be any quota or several: `quota=5/minute;100/hour`).
//! [`Limiter::check_policy`](crate::Limiter::check_policy)
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
use crate::quota::{validate_id, IntoQuotas, Quota, Quotas};

pub(crate) use store::{fetch_all, store, RedisNames};
pub(crate) use table::PolicyTable;

/// How often a watching limiter compares the policy version, as a safety net
/// behind the pub/sub notification.
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// The policy applied to endpoints that have none of their own.
pub const DEFAULT_POLICY: &str = "*";

/// A named limit: one quota or several (all must have room), and
/// optionally the algorithm.
///
/// ```
/// use ratewarden::{Algorithm, Policy, Quota};
/// let p = Policy::new(100, 50).algorithm(Algorithm::Gcra);
/// assert_eq!(p.to_string(), "capacity=100 rate=50 algorithm=gcra");
/// assert_eq!("capacity=100 rate=50 algorithm=gcra".parse::<Policy>().unwrap(), p);
/// let login = Policy::quota("5/minute;20/hour").unwrap();
/// assert_eq!(login.to_string(), "quota=5/minute;20/hour");
/// assert_eq!(login.first(), Quota::per_minute(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The quotas (checked together, all or nothing).
    pub quotas: Quotas,
    /// `None`: the deciding limiter's algorithm.
    pub algorithm: Option<Algorithm>,
}

impl Policy {
    /// A policy of `capacity` and `rate_per_second` with the limiter's algorithm.
    ///
    /// ```
    /// assert_eq!(ratewarden::Policy::new(10, 10).first().capacity(), 10);
    /// ```
    pub fn new(capacity: u64, rate_per_second: u64) -> Self {
        Policy {
            quotas: Quotas::from(Quota::new(capacity, rate_per_second)),
            algorithm: None,
        }
    }

    /// A policy of any quota or quotas: notation, a [`Quota`] or [`Quotas`].
    ///
    /// ```
    /// let p = ratewarden::Policy::quota("1000/day").unwrap();
    /// assert_eq!(p.first().capacity(), 1000);
    /// assert!(ratewarden::Policy::quota("10/fortnight").is_err());
    /// ```
    pub fn quota(quota: impl IntoQuotas) -> Result<Self> {
        Ok(Policy {
            quotas: quota.into_quotas()?,
            algorithm: None,
        })
    }

    /// Use `algorithm` for this policy.
    #[must_use]
    pub const fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    /// The first (for a single-quota policy: the) quota.
    pub fn first(&self) -> Quota {
        self.quotas.as_slice().first().copied().unwrap_or(Quota::new(0, 0))
    }

    /// The seed's numbers, if this is one quota whose rate is a whole
    /// number per second that gives back exactly its period.
    pub fn capacity_and_rate(&self) -> Option<(u64, u64)> {
        let [q] = self.quotas.as_slice() else { return None };
        let (c, us) = (q.capacity(), q.window_us());
        let r = (u128::from(c) * 1_000_000).checked_div(u128::from(us))?;
        let r = u64::try_from(r).ok()?;
        (r >= 1 && Quota::new(c, r) == *q).then_some((c, r))
    }
}

impl std::fmt::Display for Policy {
    /// `capacity=N rate=R` where the policy is a seed pair (older readers
    /// understand it), else `quota=NOTATION`; then `algorithm=NAME`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.capacity_and_rate() {
            Some((c, r)) => write!(f, "capacity={c} rate={r}")?,
            None => write!(f, "quota={}", self.quotas)?,
        }
        if let Some(a) = self.algorithm {
            write!(f, " algorithm={a}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Policy {
    type Err = Error;

    /// `capacity=N rate=R [algorithm=NAME]` or `quota=NOTATION
    /// [algorithm=NAME]`, as stored in Redis.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid_argument(format!(
                "malformed policy {s:?}; expected \"capacity=N rate=R [algorithm=NAME]\" or \"quota=5/minute [algorithm=NAME]\""
            ))
        };
        let (mut capacity, mut rate, mut quotas, mut algorithm) = (None, None, None, None);
        for part in s.split_whitespace() {
            match part.split_once('=').ok_or_else(bad)? {
                ("capacity", v) => capacity = Some(v.parse().map_err(|_| bad())?),
                ("rate", v) => rate = Some(v.parse().map_err(|_| bad())?),
                ("quota", v) => quotas = Some(Quotas::parse(v)?),
                ("algorithm", v) => algorithm = Some(v.parse()?),
                _ => return Err(bad()),
            }
        }
        let quotas = match (quotas, capacity, rate) {
            (Some(q), None, None) => q,
            (None, Some(c), Some(r)) => Quota::new(c, r).into_quotas()?,
            _ => return Err(bad()),
        };
        Ok(Policy { quotas, algorithm })
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
            Policy::quota("5/minute;100/hour").unwrap().algorithm(Algorithm::Gcra),
            Policy::quota("1/333334us").unwrap(),
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
            "quota=5/fortnight",
            "quota=5/minute capacity=1 rate=1",
        ] {
            assert!(bad.parse::<Policy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_policy_is_the_fallback() {
        let mut t = HashMap::new();
        assert!(resolve(&t, "/a").is_err());
        t.insert("*".to_owned(), Policy::new(1, 1));
        assert_eq!(resolve(&t, "/a").unwrap().first().capacity(), 1);
        t.insert("/a".to_owned(), Policy::new(2, 1));
        assert_eq!(resolve(&t, "/a").unwrap().first().capacity(), 2);
    }
}
