//! The answer: a [`Decision`], and how it is rendered for users in every
//! language (whole seconds rounded up, HTTP headers), so that each binding
//! prints the same bytes.

use std::time::Duration;

/// The full answer to one check: enough for `Retry-After` and the IETF
/// `RateLimit` / `RateLimit-Policy` headers.
///
/// ```
/// use ratewarden::{blocking::Limiter, Quota};
/// let limiter = Limiter::connect("memory://doc-decision").unwrap();
/// let d = limiter.check("alice", "/search", Quota::new(2, 2), 1).unwrap();
/// assert!(d.allowed);
/// assert_eq!((d.limit, d.remaining), (2, 1));
/// assert_eq!(d.retry_after, std::time::Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    /// Whether the request (all of its `cost`) was admitted.
    pub allowed: bool,
    /// The capacity that applied.
    pub limit: u64,
    /// How many more units could be admitted right now.
    pub remaining: u64,
    /// Zero when allowed; otherwise how long until a request of the same
    /// cost would be admitted if nobody else takes the room first.
    pub retry_after: Duration,
    /// How long until the window is empty again (full `limit` available)
    /// if no further request is admitted.
    pub reset_after: Duration,
}

impl Decision {
    /// `Retry-After` in whole seconds, rounded up (0 when allowed).
    ///
    /// ```
    /// # use ratewarden::Decision; use std::time::Duration;
    /// let d = Decision { allowed: false, limit: 1, remaining: 0,
    ///     retry_after: Duration::from_millis(1200), reset_after: Duration::from_millis(1200) };
    /// assert_eq!(d.retry_after_secs(), 2);
    /// ```
    pub fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.retry_after)
    }

    /// Seconds until the window resets, rounded up (for `RateLimit` `t=`).
    pub fn reset_after_secs(&self) -> u64 {
        ceil_secs(self.reset_after)
    }
}

pub(crate) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Which set of HTTP headers [`Decision::headers`] renders.
///
/// ```
/// use ratewarden::HeaderSet;
/// assert_eq!("draft-06".parse::<HeaderSet>().unwrap(), HeaderSet::RateLimit);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HeaderSet {
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds),
    /// as in draft-ietf-httpapi-ratelimit-headers-06 and express-rate-limit's
    /// `draft-6`.
    #[default]
    RateLimit,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`
    /// (seconds until reset), the pre-standard convention.
    XRateLimit,
}

impl HeaderSet {
    /// The canonical name: `draft-06` or `x-ratelimit`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HeaderSet::RateLimit => "draft-06",
            HeaderSet::XRateLimit => "x-ratelimit",
        }
    }
}

impl std::str::FromStr for HeaderSet {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "draft-06" | "ratelimit" => Ok(HeaderSet::RateLimit),
            "x-ratelimit" => Ok(HeaderSet::XRateLimit),
            other => Err(crate::Error::invalid_argument(format!(
                "unknown header set {other:?}; expected draft-06 or x-ratelimit"
            ))),
        }
    }
}

impl Decision {
    /// The HTTP headers of this decision in `set`, plus `Retry-After`
    /// (whole seconds, rounded up) when it was refused. The same bytes in
    /// every language.
    ///
    /// ```
    /// use ratewarden::{Decision, HeaderSet};
    /// use std::time::Duration;
    /// let d = Decision { allowed: false, limit: 10, remaining: 0,
    ///     retry_after: Duration::from_millis(1500), reset_after: Duration::from_millis(2500) };
    /// assert_eq!(d.headers(HeaderSet::RateLimit), [
    ///     ("RateLimit-Limit", "10".to_string()),
    ///     ("RateLimit-Remaining", "0".to_string()),
    ///     ("RateLimit-Reset", "3".to_string()),
    ///     ("Retry-After", "2".to_string()),
    /// ]);
    /// ```
    pub fn headers(&self, set: HeaderSet) -> Vec<(&'static str, String)> {
        let [limit, remaining, reset] = match set {
            HeaderSet::RateLimit => ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"],
            HeaderSet::XRateLimit => ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"],
        };
        let mut h = vec![
            (limit, self.limit.to_string()),
            (remaining, self.remaining.to_string()),
            (reset, self.reset_after_secs().to_string()),
        ];
        if !self.allowed {
            h.push(("Retry-After", self.retry_after_secs().to_string()));
        }
        h
    }
}

impl Decision {
    /// The headers of draft-ietf-httpapi-ratelimit-headers-11 for this
    /// decision under the quota policy `name` whose window is `window`:
    ///
    /// * `RateLimit-Policy: "name";q=<limit>;w=<window, whole seconds rounded up>`
    /// * `RateLimit: "name";r=<remaining>;t=<seconds until reset, rounded up>`
    /// * `Retry-After: <seconds, rounded up>` when refused.
    ///
    /// `name` is a structured-field string: 1 to 64 printable ASCII
    /// characters (`"` and `\` are escaped); anything else is
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument).
    ///
    /// ```
    /// use ratewarden::Decision;
    /// use std::time::Duration;
    /// let d = Decision { allowed: true, limit: 100, remaining: 42,
    ///     retry_after: Duration::ZERO, reset_after: Duration::from_millis(29_500) };
    /// assert_eq!(d.ietf_headers("default", Duration::from_secs(60)).unwrap(), [
    ///     ("RateLimit-Policy", "\"default\";q=100;w=60".to_string()),
    ///     ("RateLimit", "\"default\";r=42;t=30".to_string()),
    /// ]);
    /// ```
    pub fn ietf_headers(&self, name: &str, window: Duration) -> crate::Result<Vec<(&'static str, String)>> {
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(crate::Error::invalid_argument(format!(
                "a policy name in the RateLimit headers is 1 to 64 printable ASCII characters, got {name:?}"
            )));
        }
        let quoted = format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""));
        let mut h = vec![
            (
                "RateLimit-Policy",
                format!("{quoted};q={};w={}", self.limit, ceil_secs(window).max(1)),
            ),
            (
                "RateLimit",
                format!("{quoted};r={};t={}", self.remaining, self.reset_after_secs()),
            ),
        ];
        if !self.allowed {
            h.push(("Retry-After", self.retry_after_secs().to_string()));
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up_and_allowed_decisions_have_no_retry_after() {
        let d = Decision {
            allowed: true,
            limit: 5,
            remaining: 4,
            retry_after: Duration::ZERO,
            reset_after: Duration::from_micros(1),
        };
        assert_eq!((d.retry_after_secs(), d.reset_after_secs()), (0, 1));
        let h = d.headers(HeaderSet::XRateLimit);
        assert_eq!(h.len(), 3);
        assert_eq!(h[2], ("X-RateLimit-Reset", "1".to_string()));
        assert_eq!("x-ratelimit".parse::<HeaderSet>().unwrap(), HeaderSet::XRateLimit);
        assert!("draft-11".parse::<HeaderSet>().is_err());
    }

    #[test]
    fn ietf_headers_quote_the_name_and_refuse_what_cannot_be_quoted() {
        let d = Decision {
            allowed: false,
            limit: 5,
            remaining: 0,
            retry_after: Duration::from_millis(100),
            reset_after: Duration::from_secs(7),
        };
        let h = d.ietf_headers(r#"a"b\c"#, Duration::from_millis(1)).unwrap();
        assert_eq!(h[0].1, r#""a\"b\\c";q=5;w=1"#);
        assert_eq!(h[1].1, r#""a\"b\\c";r=0;t=7"#);
        assert_eq!(h[2], ("Retry-After", "1".to_string()));
        for bad in ["", "tab\there", "é", &"x".repeat(65)] {
            assert!(d.ietf_headers(bad, Duration::from_secs(1)).is_err(), "{bad:?}");
        }
    }
}
