//! What a limiter does when Redis does not answer: the failure mode and
//! the fallback decision ([`Resilience`]), the circuit breaker per server
//! ([`breaker`]), the local deny cache ([`deny_cache`]) and the counters
//! behind [`Limiter::stats`](crate::Limiter::stats) ([`stats`]).

pub(crate) mod breaker;
pub(crate) mod deny_cache;
pub(crate) mod stats;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ErrorKind};
pub(crate) use breaker::{one_outage, Breaker};
pub(crate) use stats::{Counters, WarnLimit};
pub use stats::{Stats, LATENCY_BUCKETS_US};

/// What a decision returns when the backend cannot be reached (a
/// [`Connection`](ErrorKind::Connection) or [`Timeout`](ErrorKind::Timeout)
/// error, or an open circuit). Other errors are always returned.
///
/// Names, the same in every language: `error`, `allow`, `deny`, `local`.
///
/// ```
/// use ratewarden::FailureMode;
/// assert_eq!("local".parse::<FailureMode>().unwrap(), FailureMode::Local);
/// assert_eq!(FailureMode::default(), FailureMode::Error);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FailureMode {
    /// Return the error (the default): the caller decides.
    #[default]
    Error,
    /// Fail open: admit the request (`remaining` is reported as the capacity
    /// minus the cost).
    Allow,
    /// Fail closed: refuse it, with `retry_after` = when the circuit will try
    /// Redis again.
    Deny,
    /// An in-process limiter with the same algorithm takes over, with
    /// [`local_share`](crate::LimiterBuilder::local_share) of each quota,
    /// until Redis answers again.
    Local,
}

impl FailureMode {
    /// Every mode, in documentation order.
    pub const ALL: [FailureMode; 4] = [
        FailureMode::Error,
        FailureMode::Allow,
        FailureMode::Deny,
        FailureMode::Local,
    ];

    /// The canonical name.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureMode::Error => "error",
            FailureMode::Allow => "allow",
            FailureMode::Deny => "deny",
            FailureMode::Local => "local",
        }
    }
}

impl std::str::FromStr for FailureMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "error" => FailureMode::Error,
            "allow" => FailureMode::Allow,
            "deny" => FailureMode::Deny,
            "local" => FailureMode::Local,
            other => {
                return Err(Error::invalid_argument(format!(
                    "unknown failure mode {other:?}; expected error, allow, deny or local"
                )))
            }
        })
    }
}

impl std::fmt::Display for FailureMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an error means "the backend is unreachable" (trips the breaker,
/// triggers the failure mode).
pub(crate) fn is_outage(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout)
}

/// Shared by a limiter's clones.
#[derive(Debug)]
pub(crate) struct Resilience {
    pub(crate) mode: FailureMode,
    pub(crate) local_share: f64,
    /// One circuit breaker per server (the backend's route
    /// modulo their number): on a cluster, one master down does not open
    /// the circuit for the others.
    pub(crate) breakers: Box<[Breaker]>,
    pub(crate) counters: Counters,
    pub(crate) warn: WarnLimit,
    /// The in-process limiter of `FailureMode::Local`.
    pub(crate) local: Arc<crate::backend::memory::MemoryStore>,
}

/// Circuit breakers per limiter (cluster masters share them modulo this).
pub(crate) const BREAKERS: usize = 16;

impl Resilience {
    /// The breaker of the server numbered `route`.
    pub(crate) fn breaker(&self, route: usize) -> &Breaker {
        &self.breakers[route % self.breakers.len()]
    }

    /// True when any server's circuit is open (see `is_open_recently`).
    pub(crate) fn any_open(&self) -> bool {
        self.breakers.iter().any(Breaker::is_open_recently)
    }

    /// The answer of the failure mode to an outage `e` for `specs` (keys
    /// `keys`): `Err(e)` in mode `error`, else outcomes (`specs` returned
    /// are those the outcomes are measured against). `route` names the
    /// server that failed.
    pub(crate) fn fallback(
        &self,
        route: usize,
        e: Error,
        keys: &[Vec<u8>],
        specs: &[crate::algorithm::Spec],
    ) -> Result<(Vec<crate::algorithm::Outcome>, Vec<crate::algorithm::Spec>), Error> {
        use crate::algorithm::{Outcome, Spec};
        if self.mode == FailureMode::Error {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        let (outcomes, specs): (Vec<Outcome>, Vec<Spec>) = match self.mode {
            FailureMode::Allow => (
                specs
                    .iter()
                    .map(|s| Outcome {
                        ok: true,
                        remaining: s.capacity - s.cost,
                        retry_us: 0,
                        reset_us: 0,
                    })
                    .collect(),
                specs.to_vec(),
            ),
            FailureMode::Deny => {
                let wait = self.breaker(route).wait().max(Duration::from_millis(1)).as_micros() as u64;
                let outcomes = specs
                    .iter()
                    .map(|_| Outcome {
                        ok: false,
                        remaining: 0,
                        retry_us: wait,
                        reset_us: wait,
                    })
                    .collect();
                (outcomes, specs.to_vec())
            }
            _ => {
                let scaled: Vec<Spec> = specs.iter().map(|s| s.scaled(self.local_share)).collect();
                let names: Vec<String> = keys.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
                let limits: Vec<(&str, Spec)> = names.iter().map(String::as_str).zip(scaled.iter().copied()).collect();
                (self.local.decide("", &limits, None), scaled)
            }
        };
        self.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
        let admitted = outcomes.iter().all(|o| o.ok);
        self.counters.decided(admitted);
        if self.warn.should_warn() {
            tracing::warn!(target: "ratewarden", mode = %self.mode, "Redis unreachable ({e}); deciding by the failure mode");
        } else {
            tracing::debug!(target: "ratewarden", mode = %self.mode, "fallback decision: {e}");
        }
        Ok((outcomes, specs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_mode_names_parse() {
        for m in [
            FailureMode::Error,
            FailureMode::Allow,
            FailureMode::Deny,
            FailureMode::Local,
        ] {
            assert_eq!(m.as_str().parse::<FailureMode>().unwrap(), m);
        }
        assert!("open".parse::<FailureMode>().is_err());
    }
}
