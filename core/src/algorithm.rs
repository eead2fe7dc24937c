//! The algorithms a limiter can use, by name, and the numbers one limit
//! hands to the script (or to the in-process mirror).

use std::str::FromStr;

use crate::error::{Error, Result};
use crate::quota::{Quota, EXACT_LOG_MAX_CAPACITY, LOG_BUCKETS};

/// A rate-limiting algorithm. Every one admits at most `capacity` requests at
/// once; they differ in how the sustained rate is enforced (see the README's
/// table for memory per key and exactness).
///
/// Names are the same in every language: `sliding_window_log`,
/// `sliding_window_counter`, `fixed_window`, `token_bucket`, `gcra`
/// (`leaky_bucket` is accepted as an alias of `gcra`).
///
/// ```
/// use ratewarden::Algorithm;
/// let a: Algorithm = "leaky_bucket".parse().unwrap();
/// assert_eq!(a, Algorithm::Gcra);
/// assert_eq!(a.as_str(), "gcra");
/// assert!("leaky".parse::<Algorithm>().unwrap_err().is_invalid_argument());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// Admit iff fewer than `capacity` units were admitted in the trailing
    /// window `W = capacity / rate`. Exact up to capacity 127, bucketed above
    /// (may refuse early by at most one bucket of `W/120`, never over-admits).
    #[default]
    SlidingWindowLog,
    /// Cloudflare's approximation: this fixed window's count plus the previous
    /// window's, weighted by how much of it still overlaps the sliding window.
    SlidingWindowCounter,
    /// At most `capacity` per aligned window of `W`. Up to `2 × capacity` can
    /// pass around a window edge.
    FixedWindow,
    /// A bucket of `capacity` tokens refilled at `rate` per second.
    TokenBucket,
    /// The generic cell rate algorithm (leaky bucket as a meter): one
    /// emission interval `1/rate`, burst `capacity`. Same decisions as the
    /// token bucket, one number of state.
    Gcra,
}

impl Algorithm {
    /// Every algorithm, in documentation order.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::SlidingWindowLog,
        Algorithm::SlidingWindowCounter,
        Algorithm::FixedWindow,
        Algorithm::TokenBucket,
        Algorithm::Gcra,
    ];

    /// The canonical name.
    ///
    /// ```
    /// assert_eq!(ratewarden::Algorithm::TokenBucket.as_str(), "token_bucket");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::SlidingWindowLog => "sliding_window_log",
            Algorithm::SlidingWindowCounter => "sliding_window_counter",
            Algorithm::FixedWindow => "fixed_window",
            Algorithm::TokenBucket => "token_bucket",
            Algorithm::Gcra => "gcra",
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    /// Parse a name (`leaky_bucket` = `gcra`); anything else is
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument).
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "sliding_window_log" => Algorithm::SlidingWindowLog,
            "sliding_window_counter" => Algorithm::SlidingWindowCounter,
            "fixed_window" => Algorithm::FixedWindow,
            "token_bucket" => Algorithm::TokenBucket,
            "gcra" | "leaky_bucket" => Algorithm::Gcra,
            other => {
                return Err(Error::invalid_argument(format!(
                    "unknown algorithm {other:?}; expected one of sliding_window_log, sliding_window_counter, \
                     fixed_window, token_bucket, gcra (or leaky_bucket)"
                )))
            }
        })
    }
}

/// Script codes (see `scripts/ratewarden.lua`).
pub(crate) const SWL: u8 = 1;
pub(crate) const SWLB: u8 = 2;
pub(crate) const SWC: u8 = 3;
pub(crate) const FW: u8 = 4;
pub(crate) const TB: u8 = 5;
pub(crate) const GCRA: u8 = 6;

/// One limit as the script (and the memory mirror) sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) code: u8,
    pub(crate) capacity: u64,
    pub(crate) window_us: u64,
    pub(crate) cost: u64,
    /// Bucket width (bucketed log) or rate per second (token bucket, GCRA).
    pub(crate) aux: u64,
    /// What it was made from (for the local failure mode).
    pub(crate) algorithm: Algorithm,
    pub(crate) rate: u64,
}

impl Spec {
    /// The caller has validated `quota` and `cost`.
    pub(crate) fn new(algorithm: Algorithm, quota: Quota, cost: u64) -> Spec {
        let window_us = quota.window_us();
        let (code, aux) = match algorithm {
            Algorithm::SlidingWindowLog if quota.capacity <= EXACT_LOG_MAX_CAPACITY => (SWL, 0),
            Algorithm::SlidingWindowLog => (SWLB, (window_us / LOG_BUCKETS).max(1)),
            Algorithm::SlidingWindowCounter => (SWC, 0),
            Algorithm::FixedWindow => (FW, 0),
            Algorithm::TokenBucket => (TB, quota.rate_per_second),
            Algorithm::Gcra => (GCRA, quota.rate_per_second),
        };
        Spec {
            code,
            capacity: quota.capacity,
            window_us,
            cost,
            aux,
            algorithm,
            rate: quota.rate_per_second,
        }
    }

    /// The same limit with `share` (0 < share <= 1) of the capacity and the
    /// rate (each at least 1; the cost capped at the new capacity).
    pub(crate) fn scaled(&self, share: f64) -> Spec {
        let part = |v: u64| ((v as f64 * share).floor() as u64).max(1);
        let quota = Quota::new(part(self.capacity), part(self.rate));
        Spec::new(self.algorithm, quota, self.cost.min(quota.capacity))
    }

    /// The algorithm part of the key: the layouts differ, so do the keys.
    pub(crate) fn tag(&self) -> &'static str {
        match self.code {
            SWL => "swl",
            SWLB => "swlb",
            SWC => "swc",
            FW => "fw",
            TB => "tb",
            _ => "gcra",
        }
    }

    pub(crate) fn args(&self) -> [u64; 5] {
        [u64::from(self.code), self.capacity, self.window_us, self.cost, self.aux]
    }
}

/// What one limit said (before aggregation into a decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) ok: bool,
    pub(crate) remaining: u64,
    pub(crate) retry_us: u64,
    pub(crate) reset_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_alias() {
        for a in Algorithm::ALL {
            assert_eq!(a.as_str().parse::<Algorithm>().unwrap(), a);
        }
        assert_eq!("leaky_bucket".parse::<Algorithm>().unwrap(), Algorithm::Gcra);
        assert!("".parse::<Algorithm>().is_err());
        assert!("GCRA".parse::<Algorithm>().is_err());
    }

    #[test]
    fn specs_pick_the_log_layout_by_capacity() {
        let s = Spec::new(Algorithm::SlidingWindowLog, Quota::new(127, 1), 1);
        assert_eq!((s.code, s.aux, s.tag()), (SWL, 0, "swl"));
        let s = Spec::new(Algorithm::SlidingWindowLog, Quota::new(1_000_000, 1_000_000), 1);
        assert_eq!((s.code, s.aux, s.tag()), (SWLB, 8_333, "swlb"));
        let s = Spec::new(Algorithm::Gcra, Quota::new(10, 3), 2);
        assert_eq!(s.args(), [u64::from(GCRA), 10, 3_333_334, 2, 3]);
    }
}
