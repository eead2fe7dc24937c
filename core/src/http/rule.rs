//! A route's rule (its quotas and which headers to send) and the
//! [`Verdict`] a request gets under it: status, headers and body, rendered
//! here once for every language.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::limiter::decision::{ceil_secs, Decision, HeaderSet};
use crate::quota::{IntoQuotas, Quotas};
use crate::resilience::FailureMode;

/// Which header sets a [`Rule`] sends. `draft-11` (the IETF
/// `RateLimit-Policy` / `RateLimit` pair) is the default; `draft-06`
/// (`RateLimit-Limit/-Remaining/-Reset`) and `x-ratelimit`
/// (`X-RateLimit-*`) are opt-in; `none` sends only `Retry-After` on refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Sets {
    ietf: bool,
    legacy: [Option<HeaderSet>; 2],
}

impl Sets {
    fn parse(spec: &str) -> Result<Self> {
        let mut sets = Sets {
            ietf: false,
            legacy: [None, None],
        };
        let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
        if parts == ["none"] {
            return Ok(sets);
        }
        for p in parts {
            match p {
                "draft-11" | "ietf" => sets.ietf = true,
                "draft-06" => sets.legacy[0] = Some(HeaderSet::RateLimit),
                "x-ratelimit" => sets.legacy[1] = Some(HeaderSet::XRateLimit),
                other => {
                    return Err(Error::invalid_argument(format!(
                    "unknown header set {other:?}; expected draft-11, draft-06, x-ratelimit (comma-separated) or none"
                )))
                }
            }
        }
        Ok(sets)
    }

    fn canonical(&self) -> String {
        let mut names = Vec::new();
        if self.ietf {
            names.push("draft-11");
        }
        names.extend(self.legacy.iter().flatten().map(|s| s.as_str()));
        if names.is_empty() {
            return "none".to_owned();
        }
        names.join(",")
    }
}

#[derive(Debug)]
struct Inner {
    quotas: Quotas,
    sets: Sets,
    /// `"5/minute"` per quota, quoted as a structured-field string.
    names: Vec<String>,
    /// The `RateLimit-Policy` value (it depends on the rule only).
    policy: String,
}

/// The rule of a route: its quotas (all must have room; several are
/// all-or-nothing) and the header sets its responses carry. Built once at
/// startup, so a bad quota fails there; cheap to clone.
///
/// Each quota is a policy named by its notation: `"5/minute"` renders
/// `RateLimit-Policy: "5/minute";q=5;w=60`.
///
/// ```
/// use ratewarden::http::Rule;
/// let rule = Rule::new("10/second;1000/hour", "draft-11").unwrap();
/// assert_eq!(rule.policy_header(), Some(r#""10/second";q=10;w=1, "1000/hour";q=1000;w=3600"#));
/// assert!(Rule::new("5/fortnight", "draft-11").is_err());
/// assert!(Rule::new("5/minute", "draft-12").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Rule(Arc<Inner>);

impl Rule {
    /// `quota` in any form [`IntoQuotas`] takes; `headers` a comma-separated
    /// list of `draft-11`, `draft-06`, `x-ratelimit`, or `none`.
    pub fn new(quota: impl IntoQuotas, headers: &str) -> Result<Self> {
        let quotas = quota.into_quotas()?;
        quotas.validate()?;
        let sets = Sets::parse(headers)?;
        let names: Vec<String> = quotas.as_slice().iter().map(|q| sf_string(&q.to_string())).collect();
        let policy = quotas
            .as_slice()
            .iter()
            .zip(&names)
            .map(|(q, n)| format!("{n};q={};w={}", q.capacity(), ceil_secs(q.period()).max(1)))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Rule(Arc::new(Inner {
            quotas,
            sets,
            names,
            policy,
        })))
    }

    /// The quotas, in the order given.
    pub fn quotas(&self) -> Quotas {
        self.0.quotas
    }

    /// The header sets, canonical (`"draft-11,draft-06"`, `"none"`).
    pub fn header_sets(&self) -> String {
        self.0.sets.canonical()
    }

    /// The `RateLimit-Policy` value, if `draft-11` headers are sent.
    pub fn policy_header(&self) -> Option<&str> {
        self.0.sets.ietf.then_some(self.0.policy.as_str())
    }

    /// The verdict on a request: `decisions[i]` answers quota `i`;
    /// `fallback` is the failure mode that decided instead of Redis.
    ///
    /// * Admitted: 200, `RateLimit-Policy`, `RateLimit` (every quota's
    ///   remaining units and seconds until it is full again), legacy sets.
    /// * Refused by a quota: 429, the same headers, `Retry-After` (whole
    ///   seconds, rounded up) and the body
    ///   `{"error":"rate_limited","retry_after":N}`.
    /// * Decided by the failure mode (Redis unreachable): only what is known
    ///   is said: `RateLimit-Policy` and, when refused, `Retry-After`; no
    ///   remaining counts. `deny` refuses with 503
    ///   `{"error":"rate_limiter_unavailable","retry_after":N}` (the
    ///   client did nothing wrong); `local` refuses with 429.
    ///
    /// ```
    /// use ratewarden::{http::Rule, Decision};
    /// use std::time::Duration;
    /// let rule = Rule::new("5/minute", "draft-11").unwrap();
    /// let d = Decision { allowed: false, limit: 5, remaining: 0,
    ///     retry_after: Duration::from_millis(41_200), reset_after: Duration::from_secs(60) };
    /// let v = rule.verdict(false, &[d], None);
    /// assert_eq!(v.status, 429);
    /// assert_eq!(v.headers, [
    ///     ("RateLimit-Policy", r#""5/minute";q=5;w=60"#.to_string()),
    ///     ("RateLimit", r#""5/minute";r=0;t=60"#.to_string()),
    ///     ("Retry-After", "42".to_string()),
    /// ]);
    /// assert_eq!(v.body.as_deref(), Some(r#"{"error":"rate_limited","retry_after":42}"#));
    /// ```
    pub fn verdict(&self, allowed: bool, decisions: &[Decision], fallback: Option<FailureMode>) -> Verdict {
        let inner = &*self.0;
        let limiting = decisions.get(crate::limiter::limits::limiting(allowed, decisions));
        let retry_after = if allowed {
            Duration::ZERO
        } else {
            limiting.map_or(Duration::from_secs(1), |d| d.retry_after)
        };
        let mut headers = Vec::with_capacity(4);
        if inner.sets.ietf {
            headers.push(("RateLimit-Policy", inner.policy.clone()));
        }
        if fallback.is_none() {
            if inner.sets.ietf {
                let state = inner
                    .names
                    .iter()
                    .zip(decisions)
                    .map(|(n, d)| format!("{n};r={};t={}", d.remaining, d.reset_after_secs()))
                    .collect::<Vec<_>>()
                    .join(", ");
                headers.push(("RateLimit", state));
            }
            if let Some(d) = limiting {
                for set in inner.sets.legacy.iter().flatten() {
                    headers.extend(d.headers(*set).into_iter().filter(|(n, _)| *n != "Retry-After"));
                }
            }
        }
        let (status, body) = match (allowed, fallback) {
            (true, _) => (200, None),
            (false, Some(FailureMode::Deny)) => (503, Some("rate_limiter_unavailable")),
            (false, _) => (429, Some("rate_limited")),
        };
        let secs = ceil_secs(retry_after);
        if !allowed {
            headers.push(("Retry-After", secs.to_string()));
        }
        Verdict {
            allowed,
            status,
            retry_after,
            fallback,
            decisions: decisions.to_vec(),
            headers,
            body: body.map(|e| format!("{{\"error\":\"{e}\",\"retry_after\":{secs}}}")),
        }
    }
}

/// A structured-field string: quoted, `"` and `\` escaped (notation is
/// printable ASCII by construction).
fn sf_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What an HTTP request gets under a [`Rule`]: admitted or not, the status
/// to answer with when not (429, or 503 when the `deny` failure mode
/// refused because Redis is away), the headers (in order) and the JSON
/// body of a refusal. The same bytes in every language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request passes (every quota had room, or the failure
    /// mode let it through).
    pub allowed: bool,
    /// 200 when allowed; 429 or 503 when refused.
    pub status: u16,
    /// How long until the request would be admitted (zero when allowed).
    pub retry_after: Duration,
    /// `Some(mode)` when the failure mode decided because Redis could not.
    pub fallback: Option<FailureMode>,
    /// One decision per quota of the rule, in its order.
    pub decisions: Vec<Decision>,
    /// The response headers, in order.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body of a refusal.
    pub body: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(allowed: bool, limit: u64, remaining: u64, retry_ms: u64, reset_ms: u64) -> Decision {
        Decision {
            allowed,
            limit,
            remaining,
            retry_after: Duration::from_millis(retry_ms),
            reset_after: Duration::from_millis(reset_ms),
        }
    }

    #[test]
    fn several_quotas_report_each_and_the_legacy_sets_the_limiting_one() {
        let rule = Rule::new("10/second;100/hour", "draft-11, draft-06,x-ratelimit").unwrap();
        assert_eq!(rule.header_sets(), "draft-11,draft-06,x-ratelimit");
        let v = rule.verdict(true, &[d(true, 10, 9, 0, 100), d(true, 100, 3, 0, 3_599_001)], None);
        assert_eq!(v.status, 200);
        assert_eq!(
            v.headers,
            [
                (
                    "RateLimit-Policy",
                    r#""10/second";q=10;w=1, "100/hour";q=100;w=3600"#.to_string()
                ),
                ("RateLimit", r#""10/second";r=9;t=1, "100/hour";r=3;t=3600"#.to_string()),
                ("RateLimit-Limit", "100".to_string()),
                ("RateLimit-Remaining", "3".to_string()),
                ("RateLimit-Reset", "3600".to_string()),
                ("X-RateLimit-Limit", "100".to_string()),
                ("X-RateLimit-Remaining", "3".to_string()),
                ("X-RateLimit-Reset", "3600".to_string()),
            ]
        );
        assert_eq!(v.body, None);
        let v = rule.verdict(false, &[d(false, 10, 0, 300, 900), d(true, 100, 3, 0, 9000)], None);
        assert_eq!((v.status, v.retry_after), (429, Duration::from_millis(300)));
        assert_eq!(v.headers.last().unwrap(), &("Retry-After", "1".to_string()));
        assert_eq!(v.headers[3], ("RateLimit-Remaining", "0".to_string()));
    }

    #[test]
    fn a_fallback_says_only_what_is_known() {
        let rule = Rule::new("5/minute", "draft-11,draft-06").unwrap();
        let v = rule.verdict(true, &[d(true, 5, 4, 0, 0)], Some(FailureMode::Allow));
        assert_eq!(v.headers, [("RateLimit-Policy", r#""5/minute";q=5;w=60"#.to_string())]);
        let v = rule.verdict(false, &[d(false, 5, 0, 2500, 2500)], Some(FailureMode::Deny));
        assert_eq!(v.status, 503);
        assert_eq!(v.headers.len(), 2);
        assert_eq!(
            v.body.as_deref(),
            Some(r#"{"error":"rate_limiter_unavailable","retry_after":3}"#)
        );
        let v = rule.verdict(false, &[d(false, 5, 0, 2500, 2500)], Some(FailureMode::Local));
        assert_eq!(v.status, 429);
    }

    #[test]
    fn none_sends_only_retry_after_and_bad_sets_are_refused() {
        let rule = Rule::new("1/second", "none").unwrap();
        assert_eq!(rule.policy_header(), None);
        let v = rule.verdict(false, &[d(false, 1, 0, 10, 10)], None);
        assert_eq!(v.headers, [("Retry-After", "1".to_string())]);
        assert!(rule.verdict(true, &[d(true, 1, 0, 0, 10)], None).headers.is_empty());
        for bad in ["", "draft-6", "none,draft-11", "DRAFT-11"] {
            assert!(Rule::new("1/second", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Rule::new("1/500ms", "draft-11").unwrap().policy_header(),
            Some(r#""1/500ms";q=1;w=1"#)
        );
    }
}
