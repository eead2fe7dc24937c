//! The batch queue's data: queued decisions ([`Job`]), the callback each
//! one is answered through exactly once ([`Reply`]), and the queue itself.
//! Held by the connection's per-process state (`connection.rs`), worked by
//! the driver tasks (`batch.rs`).

use std::collections::VecDeque;

use tokio::sync::OwnedSemaphorePermit;

use crate::algorithm::{Outcome, Spec};
use crate::error::{Error, Result};

#[derive(Default)]
pub(crate) struct Queue {
    pub(crate) jobs: VecDeque<Job>,
    /// Limits (keys) among the queued jobs.
    pub(crate) limits: usize,
    pub(crate) drivers: usize,
    /// A driver was spawned and has not taken its first batch yet: it will
    /// take whatever is queued by then, so no other driver is needed (and no
    /// other thread needs waking) until it does.
    pub(crate) starting: bool,
    /// A reaper task answers queued jobs whose deadline passes while every
    /// driver is busy (see `RedisConnection::reap`).
    pub(crate) reaping: bool,
    /// Jobs waiting for an in-flight slot (every slot taken), oldest first;
    /// at most `WAITING_PER_SLOT` × `max_in_flight` of them (see
    /// `RedisConnection::wait_for_slot`).
    pub(crate) waiting: VecDeque<Job>,
    /// The admitter task is running: it hands freed slots to `waiting`.
    pub(crate) admitting: bool,
}

/// Called once with a decision's outcomes (one per limit).
pub(crate) type Done = Box<dyn FnOnce(Result<Vec<Outcome>>) + Send>;

/// One queued decision.
pub(crate) struct Job {
    pub(crate) keys: Vec<Vec<u8>>,
    pub(crate) specs: Vec<Spec>,
    /// The script's time override (0 = server time; tests only).
    pub(crate) now: u64,
    pub(crate) deadline: tokio::time::Instant,
    /// Redis Cluster: send in a call of its own slot with its keys declared
    /// (after a call of several slots found a key not served by the node).
    pub(crate) declared: bool,
    pub(crate) done: Reply,
    /// The in-flight slot, held while the job is queued or sent.
    pub(crate) _permit: Option<OwnedSemaphorePermit>,
}

/// A callback that is called exactly once: if a job is dropped unanswered
/// (a bug, a panic), it answers with an internal error.
pub(crate) struct Reply(pub(crate) Option<Done>);

impl Reply {
    pub(crate) fn send(mut self, result: Result<Vec<Outcome>>) {
        if let Some(done) = self.0.take() {
            done(result);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            done(Err(Error::Internal("a queued decision was dropped unanswered".into())));
        }
    }
}
