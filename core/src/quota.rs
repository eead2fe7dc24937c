//! The question: a [`Quota`] (capacity per period) — or several, [`Quotas`] —
//! and a cost for one client and endpoint, with the validation and the
//! notation parser every front door shares. Plain data, at the bottom of the
//! layers: the limiter, the algorithms and the policies all use it.
//!
//! ## Notation
//!
//! The `limits` convention: `"10/second"`, `"10 per second"`, `"5/15
//! minutes"`, `"1000/day"`; units `second`, `minute`, `hour`, `day`
//! (singular, plural, or `s`, `sec`, `m`, `min`, `h`, `hr`, `d`), and for
//! periods below a second `ms` / `millisecond` and `us` / `microsecond`.
//! Several quotas separated by `;` or `,` (`"10/second;1000/hour"`) are one
//! all-or-nothing check.
//!
//! ## Period range
//!
//! A period is whole microseconds, from [`MIN_PERIOD`] (1 µs, the shortest
//! window of the seed's `(capacity, rate_per_second)` pairs) to
//! [`MAX_PERIOD`] (10^9 s ≈ 31.7 years, the longest of them: capacity
//! 10^9 at 1/s). Every number the algorithms handle then stays an integer
//! below 2^53 (see the README, "Quotas and notation").

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// Longest client id or endpoint, in bytes.
pub const MAX_ID_LEN: usize = 512;
/// Largest accepted `capacity` and `rate_per_second`.
pub const MAX_LIMIT: u64 = 1_000_000_000;
/// Shortest period of a quota.
pub const MIN_PERIOD: Duration = Duration::from_micros(1);
/// Longest period of a quota (10^9 s).
pub const MAX_PERIOD: Duration = Duration::from_secs(MAX_LIMIT);
/// Most quotas in one [`Quotas`] (one notation string or one policy).
pub const MAX_QUOTAS: usize = 8;

const MAX_PERIOD_US: u64 = MAX_LIMIT * 1_000_000;

/// Why a quota built from numbers is invalid (reported when it is used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Problem {
    Rate(u64),
    Period(u128),
}

/// A limit: at most `capacity` requests per `period`.
///
/// Every algorithm honours it with `W = period`: the sliding-window log
/// admits at most `capacity` in any trailing `period`, buckets and GCRA refill
/// `capacity` evenly over `period`, windows are `period` long. The seed's
/// pair `(capacity, rate_per_second)` ([`Quota::new`]) is the quota
/// `(capacity, capacity / rate_per_second s)`.
///
/// ```
/// use ratewarden::Quota;
/// use std::time::Duration;
/// let q: Quota = "5/minute".parse().unwrap();
/// assert_eq!(q, Quota::per_minute(5));
/// assert_eq!(q, Quota::per(5, Duration::from_secs(60)));
/// assert_eq!(q.to_string(), "5/minute");
/// assert_eq!(Quota::new(100, 10).period(), Duration::from_secs(10)); // burst 100, 10/s
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    capacity: u64,
    period_us: u64,
    problem: Option<Problem>,
}

impl Quota {
    /// The seed's pair: burst `capacity`, refilled at `rate_per_second`, i.e.
    /// `capacity` per `capacity / rate_per_second` seconds (rounded up to
    /// whole microseconds, so never more than the rule). Validated when used.
    ///
    /// ```
    /// let per_second = ratewarden::Quota::new(5, 5); // at most 5 in any second
    /// assert_eq!(per_second, ratewarden::Quota::per_second(5));
    /// ```
    pub const fn new(capacity: u64, rate_per_second: u64) -> Self {
        if rate_per_second == 0 || rate_per_second > MAX_LIMIT || capacity > MAX_LIMIT {
            return Quota {
                capacity,
                period_us: 0,
                problem: Some(Problem::Rate(rate_per_second)),
            };
        }
        // Both are <= 1e9, so the product fits in u64.
        Quota {
            capacity,
            period_us: (capacity * 1_000_000).div_ceil(rate_per_second),
            problem: None,
        }
    }

    /// `capacity` per `period` (rounded up to whole microseconds). Validated
    /// when used: `period` must be within [`MIN_PERIOD`]..=[`MAX_PERIOD`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = ratewarden::Quota::per(5, Duration::from_secs(15 * 60));
    /// assert_eq!(q.to_string(), "5/15 minutes");
    /// ```
    pub const fn per(capacity: u64, period: Duration) -> Self {
        let nanos = period.as_nanos();
        let us = nanos.div_ceil(1000);
        if us == 0 || us > MAX_PERIOD_US as u128 {
            return Quota {
                capacity,
                period_us: 0,
                problem: Some(Problem::Period(us)),
            };
        }
        Quota {
            capacity,
            period_us: us as u64,
            problem: None,
        }
    }

    /// `capacity` per second.
    ///
    /// ```
    /// assert_eq!(ratewarden::Quota::per_second(10).to_string(), "10/second");
    /// ```
    pub const fn per_second(capacity: u64) -> Self {
        Quota::per(capacity, Duration::from_secs(1))
    }

    /// `capacity` per minute.
    ///
    /// ```
    /// assert_eq!(ratewarden::Quota::per_minute(5).period().as_secs(), 60);
    /// ```
    pub const fn per_minute(capacity: u64) -> Self {
        Quota::per(capacity, Duration::from_secs(60))
    }

    /// `capacity` per hour.
    ///
    /// ```
    /// assert_eq!(ratewarden::Quota::per_hour(100).to_string(), "100/hour");
    /// ```
    pub const fn per_hour(capacity: u64) -> Self {
        Quota::per(capacity, Duration::from_secs(3600))
    }

    /// `capacity` per day.
    ///
    /// ```
    /// assert_eq!(ratewarden::Quota::per_day(1000).to_string(), "1000/day");
    /// ```
    pub const fn per_day(capacity: u64) -> Self {
        Quota::per(capacity, Duration::from_secs(86_400))
    }

    /// Parse one quota in the notation (`"5/minute"`, `"10 per second"`,
    /// `"5/15 minutes"`); errors name the bad part.
    ///
    /// ```
    /// use ratewarden::Quota;
    /// assert_eq!(Quota::parse("100 per hour").unwrap(), Quota::per_hour(100));
    /// let e = Quota::parse("10/fortnight").unwrap_err();
    /// assert!(e.is_invalid_argument() && e.to_string().contains("fortnight"));
    /// ```
    pub fn parse(text: &str) -> Result<Quota> {
        let all = Quotas::parse(text)?;
        match all.as_slice() {
            [one] => Ok(*one),
            _ => Err(Error::invalid_argument(format!(
                "{text:?} holds {} quotas where one was expected",
                all.len()
            ))),
        }
    }

    /// Parse one or several quotas (`"10/second;1000/hour"`); see [`Quotas::parse`].
    ///
    /// ```
    /// let q = ratewarden::Quota::parse_many("10/second, 1000/hour").unwrap();
    /// assert_eq!(q.len(), 2);
    /// ```
    pub fn parse_many(text: &str) -> Result<Quotas> {
        Quotas::parse(text)
    }

    /// Burst size: at most this many at once (and per period).
    ///
    /// ```
    /// assert_eq!(ratewarden::Quota::per_minute(5).capacity(), 5);
    /// ```
    pub const fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The period (zero if the quota is invalid).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(ratewarden::Quota::new(3, 2).period(), Duration::from_millis(1500));
    /// ```
    pub const fn period(&self) -> Duration {
        Duration::from_micros(self.period_us)
    }

    /// The sliding window, the same as [`period`](Self::period) (the seed's name).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(ratewarden::Quota::new(3, 2).window(), Duration::from_millis(1500));
    /// ```
    pub fn window(&self) -> Duration {
        match self.validate() {
            Ok(()) => self.period(),
            Err(_) => Duration::ZERO,
        }
    }

    /// The sustained rate, `capacity / period`, per second.
    ///
    /// ```
    /// assert_eq!(ratewarden::Quota::per_minute(120).rate_per_second(), 2.0);
    /// ```
    pub fn rate_per_second(&self) -> f64 {
        if self.period_us == 0 {
            return 0.0;
        }
        self.capacity as f64 * 1e6 / self.period_us as f64
    }

    /// Check ranges; every entry point calls this before doing anything.
    ///
    /// ```
    /// assert!(ratewarden::Quota::per_minute(0).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_limit("capacity", self.capacity)?;
        match self.problem {
            None => Ok(()),
            Some(Problem::Rate(r)) => check_limit("rate_per_second", r),
            Some(Problem::Period(us)) => Err(Error::invalid_argument(format!(
                "period must be between 1 microsecond and {} seconds, got {us} microseconds",
                MAX_LIMIT
            ))),
        }
    }

    pub(crate) fn window_us(&self) -> u64 {
        self.period_us
    }
}

impl fmt::Display for Quota {
    /// The notation, with the largest unit that divides the period:
    /// `5/minute`, `5/15 minutes`, `3/1500ms`, `1/333334us`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str, &str); 6] = [
            (86_400_000_000, "day", "days"),
            (3_600_000_000, "hour", "hours"),
            (60_000_000, "minute", "minutes"),
            (1_000_000, "second", "seconds"),
            (1_000, "ms", "ms"),
            (1, "us", "us"),
        ];
        let p = self.period_us.max(1);
        let (size, one, many) = UNITS
            .iter()
            .copied()
            .find(|(size, ..)| p.is_multiple_of(*size))
            .unwrap_or(UNITS[5]);
        let n = p / size;
        match (n, size >= 1_000_000) {
            (1, _) => write!(f, "{}/{one}", self.capacity),
            (_, true) => write!(f, "{}/{n} {many}", self.capacity),
            (_, false) => write!(f, "{}/{n}{many}", self.capacity),
        }
    }
}

impl FromStr for Quota {
    type Err = Error;

    /// [`Quota::parse`].
    fn from_str(s: &str) -> Result<Self> {
        Quota::parse(s)
    }
}

/// One to [`MAX_QUOTAS`] quotas checked together, all or nothing, each with
/// its own state: `"10/second;1000/hour"`. `Copy`, no allocation.
///
/// ```
/// use ratewarden::{Quota, Quotas};
/// let q: Quotas = "10/second;1000/hour".parse().unwrap();
/// assert_eq!(q.as_slice(), &[Quota::per_second(10), Quota::per_hour(1000)]);
/// assert_eq!(q.to_string(), "10/second;1000/hour");
/// assert_eq!(Quotas::from(Quota::per_minute(5)).len(), 1);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quotas {
    items: [Quota; MAX_QUOTAS],
    len: u8,
}

impl Quotas {
    /// Parse the notation: one or several quotas separated by `;` or `,`.
    /// Every error is [`InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// and names the bad part.
    ///
    /// ```
    /// use ratewarden::Quotas;
    /// for bad in ["", "0/minute", "10/fortnight", "-1/s", "1e99/day", "5/", "/minute"] {
    ///     assert!(Quotas::parse(bad).unwrap_err().is_invalid_argument(), "{bad}");
    /// }
    /// ```
    pub fn parse(text: &str) -> Result<Quotas> {
        if text.trim().is_empty() {
            return Err(Error::invalid_argument(
                "empty quota; expected a notation such as \"10/second\" or \"5/minute;100/hour\"",
            ));
        }
        let mut out = Quotas::empty();
        for part in text.split([';', ',']) {
            let q = parse_one(part.trim(), text)?;
            out.push(q, text)?;
        }
        Ok(out)
    }

    /// Quotas from a list (1..=[`MAX_QUOTAS`], each valid).
    ///
    /// ```
    /// use ratewarden::{Quota, Quotas};
    /// let q = Quotas::new(&[Quota::per_second(10), Quota::per_hour(1000)]).unwrap();
    /// assert_eq!(q.len(), 2);
    /// assert!(Quotas::new(&[]).is_err());
    /// ```
    pub fn new(quotas: &[Quota]) -> Result<Quotas> {
        if quotas.is_empty() {
            return Err(Error::invalid_argument("at least one quota is needed"));
        }
        let mut out = Quotas::empty();
        for q in quotas {
            q.validate()?;
            out.push(*q, "")?;
        }
        Ok(out)
    }

    fn empty() -> Quotas {
        Quotas {
            items: [Quota::new(1, 1); MAX_QUOTAS],
            len: 0,
        }
    }

    fn push(&mut self, q: Quota, text: &str) -> Result<()> {
        if usize::from(self.len) == MAX_QUOTAS {
            return Err(Error::invalid_argument(format!(
                "{text:?} holds more than {MAX_QUOTAS} quotas"
            )));
        }
        self.items[usize::from(self.len)] = q;
        self.len += 1;
        Ok(())
    }

    /// The quotas, in the order given.
    pub fn as_slice(&self) -> &[Quota] {
        &self.items[..usize::from(self.len)]
    }

    /// How many (at least one).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Validate every quota (and that there is at least one).
    pub fn validate(&self) -> Result<()> {
        if self.len == 0 {
            return Err(Error::invalid_argument("at least one quota is needed"));
        }
        self.as_slice().iter().try_for_each(Quota::validate)
    }

    /// The smallest capacity (a cost above it could never be admitted).
    pub fn min_capacity(&self) -> u64 {
        self.as_slice().iter().map(|q| q.capacity).min().unwrap_or(0)
    }
}

impl Quotas {
    /// The quota of a binding's call, from whichever form the caller used:
    /// a notation string, or `capacity` with either `rate_per_second` or
    /// `period`. Exactly one form: both, neither, or a rate and a period
    /// together are [`InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// errors that say so.
    ///
    /// ```
    /// use ratewarden::{Quota, Quotas};
    /// use std::time::Duration;
    /// let a = Quotas::from_parts(Some("20/minute"), None, None, None).unwrap();
    /// let b = Quotas::from_parts(None, Some(20), None, Some(Duration::from_secs(60))).unwrap();
    /// assert_eq!(a, b);
    /// assert!(Quotas::from_parts(Some("20/minute"), Some(20), None, None).is_err());
    /// ```
    pub fn from_parts(
        notation: Option<&str>,
        capacity: Option<u64>,
        rate_per_second: Option<u64>,
        period: Option<Duration>,
    ) -> Result<Quotas> {
        match (notation, capacity, rate_per_second, period) {
            (Some(text), None, None, None) => Quotas::parse(text),
            (Some(_), ..) => Err(Error::invalid_argument(
                "a quota is given either as notation (quota) or as numbers (capacity with rate or period), not both",
            )),
            (None, Some(_), Some(_), Some(_)) => {
                Err(Error::invalid_argument("give a rate per second or a period, not both"))
            }
            (None, Some(c), Some(r), None) => Quota::new(c, r).into_quotas(),
            (None, Some(c), None, Some(p)) => Quota::per(c, p).into_quotas(),
            (None, Some(_), None, None) => Err(Error::invalid_argument("capacity needs a rate per second or a period")),
            (None, None, ..) => Err(Error::invalid_argument(
                "no quota: give a notation such as \"5/minute\" or capacity with a rate or a period",
            )),
        }
    }
}

impl fmt::Debug for Quotas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl fmt::Display for Quotas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, q) in self.as_slice().iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{q}")?;
        }
        Ok(())
    }
}

impl FromStr for Quotas {
    type Err = Error;

    /// [`Quotas::parse`].
    fn from_str(s: &str) -> Result<Self> {
        Quotas::parse(s)
    }
}

impl From<Quota> for Quotas {
    fn from(q: Quota) -> Quotas {
        let mut out = Quotas::empty();
        out.items[0] = q;
        out.len = 1;
        out
    }
}

/// Anything a check can take as its limit: a [`Quota`], [`Quotas`], a
/// notation string, or a slice of quotas.
///
/// ```
/// use ratewarden::{IntoQuotas, Quota};
/// assert_eq!("5/minute".into_quotas().unwrap(), Quota::per_minute(5).into_quotas().unwrap());
/// assert!("5/".into_quotas().is_err());
/// ```
pub trait IntoQuotas {
    /// Convert (parsing and validating).
    fn into_quotas(self) -> Result<Quotas>;
}

impl IntoQuotas for Quota {
    fn into_quotas(self) -> Result<Quotas> {
        self.validate()?;
        Ok(Quotas::from(self))
    }
}

impl IntoQuotas for Quotas {
    fn into_quotas(self) -> Result<Quotas> {
        self.validate()?;
        Ok(self)
    }
}

impl IntoQuotas for &Quotas {
    fn into_quotas(self) -> Result<Quotas> {
        (*self).into_quotas()
    }
}

impl IntoQuotas for &str {
    fn into_quotas(self) -> Result<Quotas> {
        Quotas::parse(self)
    }
}

impl IntoQuotas for &String {
    fn into_quotas(self) -> Result<Quotas> {
        Quotas::parse(self)
    }
}

impl IntoQuotas for &[Quota] {
    fn into_quotas(self) -> Result<Quotas> {
        Quotas::new(self)
    }
}

impl<const N: usize> IntoQuotas for [Quota; N] {
    fn into_quotas(self) -> Result<Quotas> {
        Quotas::new(&self)
    }
}

const UNIT_NAMES: &str = "second, minute, hour or day (or s, m, min, h, d; ms, us below a second)";

fn unit_us(unit: &str) -> Option<u64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => 86_400_000_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000_000,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000_000,
        "ms" | "millisecond" | "milliseconds" => 1_000,
        "us" | "µs" | "microsecond" | "microseconds" => 1,
        _ => return None,
    })
}

/// A whole number in `1..=max`, or an error naming `what` and the text.
fn whole(what: &str, s: &str, max: u64, text: &str) -> Result<u64> {
    let bad = |why: &str| Error::invalid_argument(format!("{what} {s:?} in {text:?} {why}"));
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!("is not a whole number from 1 to {max}")));
    }
    match s.parse::<u64>() {
        Ok(0) => Err(bad("must be at least 1")),
        Ok(v) if v <= max => Ok(v),
        _ => Err(bad(&format!("is above the largest accepted, {max}"))),
    }
}

/// One quota: `COUNT ("/" | "per") [N] UNIT`.
fn parse_one(part: &str, text: &str) -> Result<Quota> {
    if part.is_empty() {
        return Err(Error::invalid_argument(format!(
            "empty quota in {text:?} (between separators); expected e.g. \"10/second\""
        )));
    }
    let (count, rest) = match part.split_once('/') {
        Some((c, r)) => (c.trim(), r.trim()),
        None => match part.split_once(" per ") {
            Some((c, r)) => (c.trim(), r.trim()),
            None => {
                return Err(Error::invalid_argument(format!(
                "quota {part:?} in {text:?} has no \"/\" or \"per\"; expected e.g. \"10/second\" or \"10 per second\""
            )))
            }
        },
    };
    if count.is_empty() {
        return Err(Error::invalid_argument(format!(
            "quota {part:?} in {text:?} has no count before the period"
        )));
    }
    let capacity = whole("count", count, MAX_LIMIT, text)?;
    if rest.is_empty() {
        return Err(Error::invalid_argument(format!(
            "quota {part:?} in {text:?} has no period unit; expected {UNIT_NAMES}"
        )));
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (n, unit) = rest.split_at(digits);
    let unit = unit.trim();
    let multiple = if n.is_empty() {
        1
    } else {
        whole("period multiple", n, MAX_PERIOD_US, text)?
    };
    if unit.is_empty() {
        return Err(Error::invalid_argument(format!(
            "quota {part:?} in {text:?} has no period unit; expected {UNIT_NAMES}"
        )));
    }
    let size = unit_us(unit).ok_or_else(|| {
        Error::invalid_argument(format!(
            "unknown period unit {unit:?} in {text:?}; expected {UNIT_NAMES}"
        ))
    })?;
    match multiple.checked_mul(size) {
        Some(us) if us <= MAX_PERIOD_US => Ok(Quota {
            capacity,
            period_us: us,
            problem: None,
        }),
        _ => Err(Error::invalid_argument(format!(
            "period \"{n} {unit}\" in {text:?} is longer than the longest accepted, {MAX_LIMIT} seconds"
        ))),
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
    validate_cost("cost", cost, quota.capacity)
}

/// `cost` (or a refund's units) in `1..=capacity`.
pub(crate) fn validate_cost(name: &str, cost: u64, capacity: u64) -> Result<()> {
    if cost == 0 {
        return Err(Error::invalid_argument(format!("{name} must be at least 1")));
    }
    if cost > capacity {
        return Err(Error::invalid_argument(format!(
            "{name} {cost} exceeds capacity {capacity}: such a request could never be admitted"
        )));
    }
    Ok(())
}

/// A block's duration in whole microseconds, `1 µs..=MAX_PERIOD`.
pub(crate) fn block_us(duration: Duration) -> Result<u64> {
    let us = duration.as_nanos().div_ceil(1000);
    if us == 0 || us > u128::from(MAX_PERIOD_US) {
        return Err(Error::invalid_argument(format!(
            "block duration must be between 1 microsecond and {MAX_LIMIT} seconds, got {duration:?}"
        )));
    }
    Ok(us as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rounds_up() {
        assert_eq!(Quota::new(100, 100).window_us(), 1_000_000);
        assert_eq!(Quota::new(1, 3).window_us(), 333_334);
        assert_eq!(Quota::new(MAX_LIMIT, 1).window(), Duration::from_secs(MAX_LIMIT));
        assert_eq!(Quota::new(1, MAX_LIMIT).window(), MIN_PERIOD);
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
        let e = validate_call("a", "b", &Quota::new(1, 0), 1).unwrap_err();
        assert!(e.to_string().contains("rate_per_second"), "{e}");
        assert!(validate_call("a", "b", &Quota::new(MAX_LIMIT + 1, 1), 1).is_err());
        assert!(Quota::per(1, Duration::ZERO).validate().is_err());
        assert!(Quota::per(1, Duration::from_nanos(1)).validate().is_ok());
        assert!(Quota::per(1, MAX_PERIOD).validate().is_ok());
        assert!(Quota::per(1, MAX_PERIOD + Duration::from_micros(1)).validate().is_err());
    }

    #[test]
    fn notation_parses_the_limits_grammar() {
        let cases = [
            ("10/second", Quota::per_second(10)),
            ("10 per second", Quota::per_second(10)),
            ("10/s", Quota::per_second(10)),
            ("10 / seconds", Quota::per_second(10)),
            ("5/15 minutes", Quota::per(5, Duration::from_secs(900))),
            ("5/15minutes", Quota::per(5, Duration::from_secs(900))),
            ("100/minute", Quota::per_minute(100)),
            ("100/min", Quota::per_minute(100)),
            ("100/m", Quota::per_minute(100)),
            ("7/h", Quota::per_hour(7)),
            ("7/Hour", Quota::per_hour(7)),
            ("1000/day", Quota::per_day(1000)),
            ("1000/365 days", Quota::per(1000, Duration::from_secs(365 * 86_400))),
            ("3/1500ms", Quota::new(3, 2)),
            ("1/333334us", Quota::new(1, 3)),
        ];
        for (text, q) in cases {
            assert_eq!(Quota::parse(text).unwrap(), q, "{text}");
            // Display round-trips.
            assert_eq!(Quota::parse(&q.to_string()).unwrap(), q, "{q}");
        }
        let many = Quotas::parse("10/second; 1000/hour,5/minute").unwrap();
        assert_eq!(
            many.as_slice(),
            &[Quota::per_second(10), Quota::per_hour(1000), Quota::per_minute(5)]
        );
    }

    #[test]
    fn notation_errors_name_the_bad_part() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("0/minute", "at least 1"),
            ("10/fortnight", "fortnight"),
            ("-1/s", "\"-1\""),
            ("1e99/day", "\"1e99\""),
            ("5/", "no period unit"),
            ("/minute", "no count"),
            ("5 minute", "no \"/\""),
            ("5/0 minutes", "at least 1"),
            ("5/40 years", "years"),
            ("5/40000 days", "longer"),
            ("1000000001/s", "largest"),
            ("5/minute;", "between separators"),
            ("1/s;2/s;3/s;4/s;5/s;6/s;7/s;8/s;9/s", "more than 8"),
        ];
        for (text, needle) in cases {
            let e = Quotas::parse(text).unwrap_err();
            assert!(e.is_invalid_argument(), "{text}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
        assert!(Quota::parse("1/s;2/s").is_err());
    }

    #[test]
    fn block_durations_are_bounded() {
        assert!(block_us(Duration::ZERO).is_err());
        assert_eq!(block_us(Duration::from_nanos(1)).unwrap(), 1);
        assert!(block_us(MAX_PERIOD).is_ok());
        assert!(block_us(Duration::from_secs(u64::MAX)).is_err());
    }
}
