//! The pieces of a multi-limit check: a [`Limit`] per scope, and the
//! [`MultiDecision`] that answers them all.

use crate::algorithm::Algorithm;
use crate::limiter::decision::Decision;
use crate::quota::Quota;

/// One limit of a multi-limit check ([`Limiter::check_all`](crate::Limiter::check_all)): a scope name
/// (an endpoint, or any label such as `"*"` for "all endpoints"), a quota,
/// the cost, and optionally an algorithm other than the limiter's.
///
/// ```
/// use ratewarden::{Algorithm, Limit, Quota};
/// let per_endpoint = Limit::new("/search", Quota::new(10, 10));
/// let overall = Limit::new("*", Quota::new(1000, 1000)).algorithm(Algorithm::Gcra).cost(2);
/// # let _ = (per_endpoint, overall);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<'a> {
    /// The scope: keys are per (client, scope, algorithm).
    pub api_endpoint: &'a str,
    /// The quota of this scope.
    pub quota: Quota,
    /// Units this request counts as here (default 1).
    pub cost: u64,
    /// `None`: the limiter's algorithm.
    pub algorithm: Option<Algorithm>,
}

impl<'a> Limit<'a> {
    /// A limit of cost 1 with the limiter's algorithm.
    pub const fn new(api_endpoint: &'a str, quota: Quota) -> Self {
        Limit {
            api_endpoint,
            quota,
            cost: 1,
            algorithm: None,
        }
    }

    /// Count the request as `cost` units in this scope.
    #[must_use]
    pub const fn cost(mut self, cost: u64) -> Self {
        self.cost = cost;
        self
    }

    /// Use `algorithm` for this scope.
    #[must_use]
    pub const fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }
}

/// The answer to a multi-limit check: admitted iff every limit had room, and
/// then counted in every limit; otherwise counted in none.
///
/// `decisions[i]` answers `limits[i]`: its `allowed` says whether that limit
/// alone had room; `remaining` and `reset_after` are after this request if
/// it was admitted, else as they stand.
///
/// ```
/// use ratewarden::{blocking::Limiter, Limit, Quota};
/// let l = Limiter::connect("memory://doc-multi").unwrap();
/// let limits = [Limit::new("/search", Quota::new(5, 5)), Limit::new("*", Quota::new(1, 1))];
/// assert!(l.check_all("alice", &limits).unwrap().allowed);
/// let second = l.check_all("alice", &limits).unwrap();
/// assert!(!second.allowed);
/// assert_eq!(second.limiting(), 1); // the "*" limit refused
/// assert_eq!(second.decisions[0].remaining, 4); // nothing was spent on /search
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiDecision {
    /// Whether the request was admitted (by every limit).
    pub allowed: bool,
    /// One decision per limit, in the order given.
    pub decisions: Vec<Decision>,
}

impl MultiDecision {
    /// The index of the limit that decided: when refused, the refusing limit
    /// with the longest `retry_after`; when admitted, the one with the fewest
    /// `remaining`. Report its numbers in headers.
    pub fn limiting(&self) -> usize {
        limiting(self.allowed, &self.decisions)
    }

    /// The decision of [`limiting`](Self::limiting), with `allowed` of the
    /// whole check.
    pub fn decision(&self) -> Decision {
        let mut d = self.decisions[self.limiting()];
        d.allowed = self.allowed;
        d
    }
}

/// The index of the decision that decided a check of several limits (see
/// [`MultiDecision::limiting`]); 0 for none.
pub(crate) fn limiting(allowed: bool, decisions: &[Decision]) -> usize {
    let by =
        |pick: fn(&Decision) -> (bool, i128)| (0..decisions.len()).max_by_key(|&i| pick(&decisions[i])).unwrap_or(0);
    if allowed {
        by(|d| (true, -i128::from(d.remaining)))
    } else {
        by(|d| (!d.allowed, d.retry_after.as_micros() as i128))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn multi_decisions_report_the_limiting_limit() {
        let d = |allowed, remaining, retry_ms| Decision {
            allowed,
            limit: 10,
            remaining,
            retry_after: Duration::from_millis(retry_ms),
            reset_after: Duration::ZERO,
        };
        let m = MultiDecision {
            allowed: false,
            decisions: vec![d(true, 5, 0), d(false, 0, 300), d(false, 0, 900)],
        };
        assert_eq!(m.limiting(), 2);
        assert!(!m.decision().allowed);
        let m = MultiDecision {
            allowed: true,
            decisions: vec![d(true, 5, 0), d(true, 1, 0)],
        };
        assert_eq!((m.limiting(), m.decision().remaining), (1, 1));
    }
}
