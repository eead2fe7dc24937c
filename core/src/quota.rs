//! The question: a [`Quota`] and a cost for one client and endpoint, with
//! the validation every front door shares. Plain data, at the bottom of the
//! layers: the limiter, the algorithms and the policies all use it.

use std::time::Duration;

use crate::error::{Error, Result};

/// Longest client id or endpoint, in bytes.
pub const MAX_ID_LEN: usize = 512;
/// Largest accepted `capacity` and `rate_per_second`.
pub const MAX_LIMIT: u64 = 1_000_000_000;

/// A limit: at most `capacity` requests at once, refilled at
/// `rate_per_second` (the sliding-window log admits at most `capacity`
/// requests in any trailing window of `capacity / rate_per_second` seconds).
///
/// ```
/// use ratewarden::Quota;
/// let q = Quota::new(100, 10); // burst of 100, 10/s sustained: a 10 s window
/// assert_eq!(q.window(), std::time::Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Burst size, `1..=MAX_LIMIT`.
    pub capacity: u64,
    /// Sustained rate per second, `1..=MAX_LIMIT`.
    pub rate_per_second: u64,
}

impl Quota {
    /// A quota of `capacity` with `rate_per_second`; validated when used.
    ///
    /// ```
    /// let per_second = ratewarden::Quota::new(5, 5); // at most 5 in any second
    /// # let _ = per_second;
    /// ```
    pub const fn new(capacity: u64, rate_per_second: u64) -> Self {
        Quota {
            capacity,
            rate_per_second,
        }
    }

    /// The sliding window `capacity / rate_per_second`, rounded up to whole
    /// microseconds (zero if the quota is invalid).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(ratewarden::Quota::new(3, 2).window(), Duration::from_millis(1500));
    /// ```
    pub fn window(&self) -> Duration {
        match self.validate() {
            Ok(()) => Duration::from_micros(self.window_us()),
            Err(_) => Duration::ZERO,
        }
    }

    /// Check ranges; every entry point calls this before doing anything.
    pub fn validate(&self) -> Result<()> {
        check_limit("capacity", self.capacity)?;
        check_limit("rate_per_second", self.rate_per_second)
    }

    pub(crate) fn window_us(&self) -> u64 {
        // Both are <= 1e9, so the product fits easily in u64; round up so the
        // window is never shorter than the rule says.
        (self.capacity * 1_000_000).div_ceil(self.rate_per_second)
    }
}

fn check_limit(name: &str, value: u64) -> Result<()> {
    if value == 0 {
        return Err(Error::invalid_argument(format!("{name} must be at least 1")));
    }
    if value > MAX_LIMIT {
        return Err(Error::invalid_argument(format!(
            "{name} must be at most {MAX_LIMIT}, got {value}"
        )));
    }
    Ok(())
}

pub(crate) fn validate_id(name: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid_argument(format!("{name} must not be empty")));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::invalid_argument(format!(
            "{name} is {} bytes; at most {MAX_ID_LEN} are allowed",
            id.len()
        )));
    }
    Ok(())
}

pub(crate) fn validate_call(client_id: &str, api_endpoint: &str, quota: &Quota, cost: u64) -> Result<()> {
    validate_id("client_id", client_id)?;
    validate_id("api_endpoint", api_endpoint)?;
    quota.validate()?;
    if cost == 0 {
        return Err(Error::invalid_argument("cost must be at least 1"));
    }
    if cost > quota.capacity {
        return Err(Error::invalid_argument(format!(
            "cost {cost} exceeds capacity {}: such a request could never be admitted",
            quota.capacity
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rounds_up_and_buckets_switch_on() {
        assert_eq!(Quota::new(100, 100).window_us(), 1_000_000);
        assert_eq!(Quota::new(1, 3).window_us(), 333_334);
        assert_eq!(Quota::new(MAX_LIMIT, 1).window(), Duration::from_secs(MAX_LIMIT));
    }

    #[test]
    fn validation_rejects_out_of_range() {
        let q = Quota::new(10, 10);
        assert!(validate_call("a", "b", &q, 1).is_ok());
        assert!(validate_call("", "b", &q, 1).is_err());
        assert!(validate_call("a", "", &q, 1).is_err());
        assert!(validate_call(&"x".repeat(513), "b", &q, 1).is_err());
        assert!(validate_call(&"x".repeat(512), "b", &q, 1).is_ok());
        assert!(validate_call("a", "b", &q, 0).is_err());
        assert!(validate_call("a", "b", &q, 11).is_err());
        assert!(validate_call("a", "b", &Quota::new(0, 1), 1).is_err());
        assert!(validate_call("a", "b", &Quota::new(1, 0), 1).is_err());
        assert!(validate_call("a", "b", &Quota::new(MAX_LIMIT + 1, 1), 1).is_err());
    }
}
