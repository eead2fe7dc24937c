//! The decision path after validation: a [`Prepared`] call is either
//! answered already (memory, the deny cache) or queued on the backend, with
//! the circuit breaker, the failure mode and the deny cache around it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::algorithm::spec::Op;
use crate::algorithm::{Outcome, Spec};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::limiter::decision::Decision;
use crate::limiter::limits::MultiDecision;
use crate::resilience::deny_cache::DenyCache;
use crate::resilience::{is_outage, FailureMode, Resilience};

pub(crate) fn decision_of(o: &Outcome, spec: &Spec) -> Decision {
    Decision {
        allowed: o.ok,
        limit: spec.capacity,
        remaining: o.remaining,
        retry_after: Duration::from_micros(o.retry_us),
        reset_after: Duration::from_micros(o.reset_us),
    }
}

/// What a prepared call returns, built from the limits' outcomes.
pub(crate) trait Answer: Sized + Send + 'static {
    fn from_outcomes(outcomes: &[Outcome], specs: &[Spec]) -> Result<Self>;

    /// Mark an answer given by the failure mode rather than by Redis (an
    /// answer that can say so does; the others are unchanged).
    fn fell_back(self, _mode: FailureMode) -> Self {
        self
    }
}

impl Answer for Decision {
    fn from_outcomes(outcomes: &[Outcome], specs: &[Spec]) -> Result<Self> {
        match (outcomes, specs) {
            ([o], [s]) => Ok(decision_of(o, s)),
            // Several quotas of one endpoint: the limiting one answers.
            _ => MultiDecision::from_outcomes(outcomes, specs).map(|m| m.decision()),
        }
    }
}

impl Answer for MultiDecision {
    fn from_outcomes(outcomes: &[Outcome], specs: &[Spec]) -> Result<Self> {
        if outcomes.len() != specs.len() {
            return Err(Error::Internal(format!(
                "{} outcomes for {} limits",
                outcomes.len(),
                specs.len()
            )));
        }
        Ok(MultiDecision {
            allowed: outcomes.iter().all(|o| o.ok),
            decisions: outcomes.iter().zip(specs).map(|(o, s)| decision_of(o, s)).collect(),
        })
    }
}

/// A decision that is either known already (memory) or needs Redis.
pub(crate) enum Prepared<T> {
    Done(T),
    Redis {
        conn: Backend,
        keys: Vec<Vec<u8>>,
        specs: Vec<Spec>,
        now: Option<u64>,
        res: Arc<Resilience>,
        /// Single-limit decisions: where to remember a refusal.
        deny: Option<Arc<DenyCache>>,
    },
}

impl<T: Answer> Prepared<T> {
    /// Finish the decision; may be awaited on any runtime (the work is done
    /// by the connection's drivers on the core runtime).
    pub(crate) async fn run(self) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.run_then(move |r| {
            let _ = tx.send(r);
        });
        rx.await
            .unwrap_or_else(|_| Err(Error::Internal("a decision was dropped unanswered".into())))
    }

    /// Call `done` with the answer: at once if it is known (memory), else
    /// from the core runtime once Redis answered (or the deadline passed).
    pub(crate) fn run_then(self, done: impl FnOnce(Result<T>) + Send + 'static) {
        let (conn, keys, specs, now, res, deny) = match self {
            Prepared::Done(d) => return done(Ok(d)),
            Prepared::Redis {
                conn,
                keys,
                specs,
                now,
                res,
                deny,
            } => (conn, keys, specs, now, res, deny),
        };
        let remember = deny.map(|c| (c, keys[0].clone()));
        // Stats count decisions (checks); peeks, refunds, blocks and resets are not.
        let answer = |outcomes: &[Outcome], specs: &[Spec], res: &Resilience| {
            if specs.first().is_some_and(|s| s.op == Op::Check) {
                res.counters.decided(outcomes.iter().all(|o| o.ok));
            }
            T::from_outcomes(outcomes, specs)
        };
        let route = conn.route(&keys);
        // Only decisions may fall back; a refund, block or reset that did
        // not reach Redis is an error whatever the failure mode.
        let decides = matches!(specs.first().map(|s| s.op), Some(Op::Check | Op::Peek));
        if let Err(wait) = res.breaker(route).admit() {
            let e = Error::circuit_open(wait);
            if !decides {
                return done(Err(e));
            }
            return done(
                res.fallback(route, e, &keys, &specs)
                    .and_then(|(o, s)| T::from_outcomes(&o, &s))
                    .map(|a| a.fell_back(res.mode)),
            );
        }
        let traced = tracing::enabled!(target: "ratewarden", tracing::Level::TRACE).then(|| keys.clone());
        let kept = (res.mode == FailureMode::Local).then(|| keys.clone());
        let shape = specs.clone();
        let start = std::time::Instant::now();
        conn.submit(
            keys,
            specs,
            now,
            Box::new(move |r| match r {
                Ok(outcomes) => {
                    res.breaker(route).success();
                    res.counters.latency(start.elapsed());
                    for (k, o) in traced.iter().flatten().zip(&outcomes) {
                        tracing::trace!(target: "ratewarden", key = %String::from_utf8_lossy(k), ok = o.ok, remaining = o.remaining, "decision");
                    }
                    if let (Some((cache, key)), [o], [spec]) = (remember, &outcomes[..], &shape[..]) {
                        if o.ok {
                            cache.remove(&key);
                        } else {
                            let us = Duration::from_micros;
                            cache.insert(&key, spec, o.remaining, us(o.retry_us), us(o.reset_us));
                        }
                    }
                    done(answer(&outcomes, &shape, &res))
                }
                Err(e) if is_outage(&e) && decides => {
                    if !e.is_overload() {
                        res.breaker(route).failure();
                    }
                    let keys = kept.unwrap_or_default();
                    done(
                        res.fallback(route, e, &keys, &shape)
                            .and_then(|(o, s)| T::from_outcomes(&o, &s))
                            .map(|a| a.fell_back(res.mode)),
                    )
                }
                Err(e) => {
                    res.counters.errors.fetch_add(1, Ordering::Relaxed);
                    done(Err(e))
                }
            }),
        );
    }
}
