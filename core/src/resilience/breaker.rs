//! The circuit breaker in front of each server: after repeated outages,
//! calls fail (or fall back) at once instead of each waiting for its deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A circuit breaker: after `threshold` consecutive outages it opens and
/// calls fail at once for `open_for`; then one call at a time probes (half
/// open) until one succeeds.
///
/// An outage is one failed Redis call, not each decision it carried: the
/// decisions of a failed batch are answered inside [`one_outage`], and only
/// the first of them counts.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u64,
    open_for: Duration,
    epoch: Instant,
    failures: AtomicU64,
    /// Microseconds since `epoch` until which the circuit is open (0: closed).
    open_until: AtomicU64,
}

impl Breaker {
    pub(crate) fn new(threshold: u64, open_for: Duration) -> Self {
        Breaker {
            threshold,
            open_for,
            epoch: Instant::now(),
            failures: AtomicU64::new(0),
            open_until: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64 + 1
    }

    /// May a call go to the backend now? `Err(wait)` while open. Once the
    /// open period has passed, one caller at a time is let through as a
    /// probe (the others keep failing fast for another period).
    pub(crate) fn admit(&self) -> Result<(), Duration> {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return Ok(());
        }
        let now = self.now();
        if now < until {
            return Err(Duration::from_micros(until - now));
        }
        // Half open: the caller that moves the deadline probes.
        let next = now + self.open_for.as_micros() as u64;
        match self
            .open_until
            .compare_exchange(until, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(()),
            Err(_) => Err(self.open_for),
        }
    }

    /// Reads only, on the hot path, unless something is to be reset.
    pub(crate) fn success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.open_until.load(Ordering::Acquire) != 0 && self.open_until.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!(target: "ratewarden", "Redis answers again: circuit closed");
        }
    }

    pub(crate) fn failure(&self) {
        let counted = IN_FAILED_BATCH.with(|b| match b.get() {
            Batch::Counted => true,
            Batch::Failing => {
                b.set(Batch::Counted);
                false
            }
            Batch::None => false,
        });
        if counted {
            return; // this batch's outage was counted for an earlier decision of it
        }
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= self.threshold && self.open_until.load(Ordering::Acquire) == 0 {
            let until = self.now() + self.open_for.as_micros() as u64;
            if self
                .open_until
                .compare_exchange(0, until, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                tracing::info!(target: "ratewarden", failures = n, open_for = ?self.open_for,
                    "Redis unreachable: circuit open, calls fail fast until a probe succeeds");
            }
        }
    }

    #[cfg(test)]
    fn is_open(&self) -> bool {
        self.open_until.load(Ordering::Acquire) != 0
    }

    /// Open, and opened or probed within the last period: a breaker of a
    /// server that no call goes to any more (a cluster master replaced by a
    /// failover) stops counting once its probe is overdue by a period.
    pub(crate) fn is_open_recently(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        until != 0 && self.now() < until + self.open_for.as_micros() as u64
    }

    /// How long until the next probe (zero when closed or due).
    pub(crate) fn wait(&self) -> Duration {
        let until = self.open_until.load(Ordering::Acquire);
        Duration::from_micros(until.saturating_sub(self.now()))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Batch {
    None,
    Failing,
    Counted,
}

thread_local! {
    /// Set while the decisions of one failed batch are answered (their
    /// callbacks run synchronously on this thread).
    static IN_FAILED_BATCH: std::cell::Cell<Batch> = const { std::cell::Cell::new(Batch::None) };
}

/// Answer the decisions of one failed script call (or pipeline) inside `f`:
/// the breaker counts them as one outage.
pub(crate) fn one_outage<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(Batch);
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_FAILED_BATCH.with(|b| b.set(self.0));
        }
    }
    let _reset = Reset(IN_FAILED_BATCH.with(|b| b.replace(Batch::Failing)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failed_batch_is_one_outage() {
        let b = Breaker::new(3, Duration::from_millis(30));
        one_outage(|| (0..256).for_each(|_| b.failure()));
        assert!(!b.is_open() && b.admit().is_ok());
        one_outage(|| (0..2).for_each(|_| b.failure()));
        assert!(!b.is_open());
        b.failure();
        assert!(b.is_open(), "three outages open it");
    }

    #[test]
    fn breaker_opens_after_threshold_and_probes_one_at_a_time() {
        let b = Breaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            b.failure();
        }
        assert!(b.admit().is_ok() && !b.is_open());
        b.failure();
        assert!(b.is_open() && b.admit().is_err());
        std::thread::sleep(Duration::from_millis(35));
        assert!(b.admit().is_ok(), "the first caller after the period probes");
        assert!(b.admit().is_err(), "others keep failing fast");
        b.success();
        assert!(!b.is_open() && b.admit().is_ok());
    }
}
