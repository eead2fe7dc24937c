//! The algorithms a limiter can use: their names ([`Algorithm`]), what one
//! limit hands to the script ([`spec`]), the Lua sources (`lua/`, joined by
//! `build.rs` into one script with one SHA) and their in-process twin
//! ([`local`], used by `memory://` and the `local` failure mode).

pub(crate) mod local;
pub(crate) mod spec;

pub(crate) use spec::{Outcome, Spec};

use std::str::FromStr;

use crate::error::{Error, Result};

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
}
