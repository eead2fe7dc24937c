//! The batch queue: decisions are queued from any thread with a callback,
//! and up to [`MAX_DRIVERS`] driver tasks per connection send what is
//! queued as one script call (on a Redis Cluster node, with its keys of
//! several slots passed as arguments), then hand each decision its
//! outcomes.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::TryAcquireError;

use crate::algorithm::{Outcome, Spec};
use crate::backend::redis::connection::{
    Live, PerProcess, RedisConnection, Target, STAGE_CONNECT, STAGE_SENT, STAGE_SLOT,
};
use crate::backend::redis::keys::slot;
use crate::backend::redis::queue::{Done, Job, Reply};
use crate::backend::redis::script;
use crate::error::{Error, Result};
use crate::resilience::one_outage;
use crate::runtime;

/// Batches in flight at once per connection, at most. One driver is
/// started for the first queued decision; another only while a whole batch
/// ([`MAX_BATCH_LIMITS`]) is waiting: on a busy client, fewer and larger
/// batches cost both client and Redis less CPU per decision than many small
/// ones (measured: ~11 + 12 µs vs ~17 + 17 µs per decision with 64 calls in
/// flight, client + Redis).
pub(crate) const MAX_DRIVERS: usize = 4;
/// Calls that may wait for an in-flight slot, per slot: a burst of up to
/// 5 × `max_in_flight` calls at once is served (5,120 by default, each a
/// queued decision of a few hundred bytes); beyond that a call fails at once.
pub(crate) const WAITING_PER_SLOT: usize = 4;
/// Limits (keys) carried by one script call at most.
pub(crate) const MAX_BATCH_LIMITS: usize = 256;

impl RedisConnection {
    /// Queue one decision; `done` is called exactly once, within the
    /// deadline, on a thread of the core runtime (or on this thread if the
    /// decision fails before it is queued). Callable from any thread.
    pub(crate) fn submit(&self, keys: Vec<Vec<u8>>, specs: Vec<Spec>, now: Option<u64>, done: Done) {
        let deadline = tokio::time::Instant::now() + self.inner.deadline;
        self.submit_until(keys, specs, now.unwrap_or(0), deadline, false, done);
    }

    /// [`submit`](Self::submit) with a deadline of the caller's (a retry
    /// keeps the first attempt's); on a Redis Cluster node, `declared`
    /// sends the decision in a call of its slot with its keys declared.
    pub(crate) fn submit_until(
        &self,
        keys: Vec<Vec<u8>>,
        specs: Vec<Spec>,
        now: u64,
        deadline: tokio::time::Instant,
        declared: bool,
        done: Done,
    ) {
        let state = self.state();
        let mut job = Job {
            keys,
            specs,
            now,
            deadline,
            declared,
            done: Reply(Some(done)),
            _permit: None,
        };
        match state.inflight.clone().try_acquire_owned() {
            Ok(permit) => {
                job._permit = Some(permit);
                self.enqueue(&state, job);
            }
            Err(TryAcquireError::NoPermits) => self.wait_for_slot(&state, job),
            Err(TryAcquireError::Closed) => job.done.send(Err(Error::Internal("in-flight semaphore closed".into()))),
        }
    }

    /// Every in-flight slot is taken: put the job on the waiting list, to be
    /// admitted by the connection's one admitter task when a slot frees, or
    /// answered at its deadline. The list holds at most
    /// [`WAITING_PER_SLOT`] × `max_in_flight` jobs; a call beyond that fails
    /// at once (a timeout that sent nothing), so a Redis that stops
    /// answering bounds client memory whatever the arrival rate.
    fn wait_for_slot(&self, state: &Arc<PerProcess>, job: Job) {
        let (start, refused) = {
            let mut q = state.queue.lock().unwrap_or_else(|e| e.into_inner());
            if q.waiting.len() >= WAITING_PER_SLOT * self.inner.max_in_flight {
                (false, Some(job))
            } else {
                q.waiting.push_back(job);
                (!std::mem::replace(&mut q.admitting, true), None)
            }
        };
        if let Some(job) = refused {
            let err = Error::overloaded(self.inner.deadline);
            self.warn(&err);
            return job.done.send(Err(err));
        }
        if start {
            self.spawn_task(state, |this, st| async move { this.admit(st).await });
        }
    }

    /// Run one of this connection's tasks (driver, reaper, admitter) on the
    /// core runtime, with its own handles to the connection and its state.
    fn spawn_task<F, Fut>(&self, state: &Arc<PerProcess>, task: F)
    where
        F: FnOnce(RedisConnection, Arc<PerProcess>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        runtime::handle().spawn(task(self.clone(), state.clone()));
    }

    /// The admitter: while jobs wait for a slot, take each slot that frees
    /// (the semaphore hands it to this task first, ahead of new calls) and
    /// queue the oldest waiting job with it; answer each waiting job whose
    /// deadline passes. Ends when nobody waits.
    async fn admit(&self, state: Arc<PerProcess>) {
        loop {
            let now = tokio::time::Instant::now();
            let (expired, next) = {
                let mut q = state.queue.lock().unwrap_or_else(|e| e.into_inner());
                let expired = take_expired(&mut q.waiting, now);
                let next = q.waiting.iter().map(|j| j.deadline).min();
                if next.is_none() {
                    q.admitting = false;
                }
                (expired, next)
            };
            if !expired.is_empty() {
                let err = self.on_timeout(&state, STAGE_SLOT);
                one_outage(|| expired.into_iter().for_each(|job| job.done.send(Err(err.duplicate()))));
            }
            let Some(next) = next else { return };
            match tokio::time::timeout_at(next, state.inflight.clone().acquire_owned()).await {
                Ok(Ok(permit)) => {
                    let job = {
                        let mut q = state.queue.lock().unwrap_or_else(|e| e.into_inner());
                        q.waiting.pop_front()
                    };
                    // Nobody left (expired meanwhile): the slot goes back.
                    if let Some(mut job) = job {
                        job._permit = Some(permit);
                        self.enqueue(&state, job);
                    }
                }
                Ok(Err(_)) => {
                    let waiting: Vec<Job> = {
                        let mut q = state.queue.lock().unwrap_or_else(|e| e.into_inner());
                        q.admitting = false;
                        q.waiting.drain(..).collect()
                    };
                    let err = Error::Internal("in-flight semaphore closed".into());
                    return waiting.into_iter().for_each(|job| job.done.send(Err(err.duplicate())));
                }
                Err(_) => {} // the earliest deadline passed: answered above
            }
        }
    }

    fn enqueue(&self, state: &Arc<PerProcess>, job: Job) {
        let (spawn, reap) = {
            let mut q = state.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.limits += job.specs.len();
            q.jobs.push_back(job);
            let spawn = (q.drivers == 0 || q.limits >= MAX_BATCH_LIMITS) && q.drivers < MAX_DRIVERS && !q.starting;
            if spawn {
                q.drivers += 1;
                q.starting = true;
            }
            // Queued behind busy drivers: someone must answer it when its
            // deadline passes, whatever the batches in flight wait for.
            let reap = !spawn && !q.starting && !q.reaping;
            if reap {
                q.reaping = true;
            }
            (spawn, reap)
        };
        if spawn {
            self.spawn_task(state, |this, st| async move { this.drive(st).await });
        }
        if reap {
            self.spawn_task(state, |this, st| async move { this.reap(st).await });
        }
    }

    /// While jobs are queued, answer each whose deadline passes before a
    /// driver takes it (a driver busy with a batch that may wait until a
    /// later deadline): every call returns within its own deadline. One task
    /// per connection, sleeping until the earliest queued deadline; it ends
    /// when the queue is empty.
    async fn reap(&self, state: Arc<PerProcess>) {
        loop {
            let now = tokio::time::Instant::now();
            let (expired, next) = {
                let mut q = state.queue.lock().unwrap_or_else(|e| e.into_inner());
                let expired = take_expired(&mut q.jobs, now);
                q.limits = q.jobs.iter().map(|j| j.specs.len()).sum();
                let next = q.jobs.iter().map(|j| j.deadline).min();
                if next.is_none() {
                    q.reaping = false;
                }
                (expired, next)
            };
            self.expire(expired);
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => return,
            }
        }
    }

    /// Answer jobs whose deadline passed while queued (one outage).
    fn expire(&self, expired: Vec<Job>) {
        if expired.is_empty() {
            return;
        }
        let err = Error::timeout(self.inner.deadline, "waiting in the queue", false);
        self.warn(&err);
        one_outage(|| expired.into_iter().for_each(|job| job.done.send(Err(err.duplicate()))));
    }

    /// A driver: send what is queued, batch after batch, until the queue is
    /// empty.
    async fn drive(&self, state: Arc<PerProcess>) {
        /// Gives the driver's place back if it panics. On the normal path the
        /// place is given back under the same lock that saw the queue empty:
        /// otherwise a job queued in between would find a driver counted
        /// that is about to leave, and wait forever.
        struct Leave<'a>(&'a PerProcess, bool);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                if self.1 {
                    let mut q = self.0.queue.lock().unwrap_or_else(|e| e.into_inner());
                    q.drivers -= 1;
                }
            }
        }
        let mut leave = Leave(&state, true);
        let mut first = true;
        loop {
            let (batch, expired) = {
                let mut q = state.queue.lock().unwrap_or_else(|e| e.into_inner());
                if std::mem::take(&mut first) {
                    q.starting = false;
                }
                let taken = take_batch(&mut q.jobs, tokio::time::Instant::now());
                q.limits = q.jobs.iter().map(|j| j.specs.len()).sum();
                if taken.0.is_empty() {
                    q.drivers -= 1;
                    leave.1 = false;
                }
                taken
            };
            self.expire(expired);
            if batch.is_empty() {
                return;
            }
            self.run_batch(&state, batch).await;
            // Let the callers just answered run first: on a busy client
            // they call again at once, and their next decisions join the
            // next batch instead of waiting for the one after it. Measured
            // on one Redis (`ratewarden bench`): 4 in flight, 2.0 -> 4.0
            // decisions per call, 15 k -> 27 k decisions/s, p50 250 -> 140
            // us; 64 in flight, 35 -> 49 decisions per call.
            tokio::task::yield_now().await;
        }
    }

    async fn run_batch(&self, state: &Arc<PerProcess>, batch: Vec<Job>) {
        let fail = |batch: Vec<Job>, e: Error| {
            one_outage(|| {
                for job in batch {
                    job.done.send(Err(e.duplicate()));
                }
            });
        };
        // Wait no longer than the most urgent decision may.
        let until = batch
            .iter()
            .map(|j| j.deadline)
            .min()
            .unwrap_or_else(tokio::time::Instant::now);
        let live = match tokio::time::timeout_at(until, self.live(state)).await {
            Ok(Ok(live)) => live,
            Ok(Err(e)) => return fail(batch, e),
            Err(_) => {
                let err = self.on_timeout(state, STAGE_CONNECT);
                return fail(batch, err);
            }
        };
        if self.inner.cluster_node {
            return self.run_batch_cluster(state, live, batch, until).await;
        }
        let (keys, args) = script_args(&batch, 0..batch.len());
        let (k, a, name) = (&keys, &args, &self.inner.name);
        let call = self.send_on(state, live, move |mut conn| async move {
            script::run(&mut conn, k, a, name).await
        });
        let reply = match tokio::time::timeout_at(until, call).await {
            Ok(Ok((live, r))) => self.after_reply(state, &live, r),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(self.on_timeout(state, STAGE_SENT)),
        };
        drop(keys);
        match reply {
            Ok(redis::Value::Array(items)) => deliver(batch, &items),
            Ok(other) => fail(batch, Error::Internal(format!("unexpected script reply {other:?}"))),
            Err(Error::Server { message, .. })
                if matches!(self.inner.target, Target::Sentinel(_)) && message.starts_with("READONLY") =>
            {
                // The master was demoted (the connection is dropped by now)
                // and refused before running anything: send the batch again,
                // first in line, to the master the Sentinels name now.
                let mut q = state.queue.lock().unwrap_or_else(|e| e.into_inner());
                for job in batch.into_iter().rev() {
                    q.jobs.push_front(job);
                }
            }
            Err(e) => fail(batch, e),
        }
    }

    /// A Redis Cluster batch: one script call for the decisions of every
    /// slot (keys not declared, see `prelude.lua`), and one per slot for
    /// decisions sent again with declared keys (a key was not served here),
    /// all in one pipeline; each call's reply (or error, e.g. `MOVED`) goes
    /// to its own decisions.
    async fn run_batch_cluster(
        &self,
        state: &Arc<PerProcess>,
        live: Live,
        batch: Vec<Job>,
        until: tokio::time::Instant,
    ) {
        // One call for every job but those to send with declared keys,
        // which go one call per slot after it (a stable sort: the jobs of a
        // call keep their order).
        let mut jobs = batch;
        let group = |j: &Job| if j.declared { 1 + u32::from(slot(&j.keys[0])) } else { 0 };
        if jobs.iter().any(|j| j.declared) {
            jobs.sort_by_cached_key(group);
        }
        let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
        let mut start = 0;
        for i in 1..=jobs.len() {
            if i == jobs.len() || group(&jobs[i]) != group(&jobs[start]) {
                groups.push(start..i);
                start = i;
            }
        }
        let calls: Vec<script::Call<'_>> = groups
            .iter()
            .map(|g| {
                let (keys, args) = script_args(&jobs, g.clone());
                let cross = !jobs[g.start].declared;
                script::Call { keys, args, cross }
            })
            .collect();
        let (c, name) = (&calls, &self.inner.name);
        let call = self.send_on(state, live, move |mut conn| async move {
            script::run_all(&mut conn, c, false, name).await
        });
        let (live, reply) = match tokio::time::timeout_at(until, call).await {
            Ok(Ok((live, r))) => {
                let r = self.after_reply(state, &live, r);
                (Some(live), r)
            }
            Ok(Err(e)) => (None, Err(e)),
            Err(_) => (None, Err(self.on_timeout(state, STAGE_SENT))),
        };
        drop(calls);
        let mut jobs = jobs.into_iter();
        let replies = match reply {
            Ok(r) if r.len() == groups.len() => r,
            Ok(r) => {
                let e = Error::Internal(format!("{} replies for {} script calls", r.len(), groups.len()));
                return jobs.for_each(|j| j.done.send(Err(e.duplicate())));
            }
            Err(e) => return one_outage(|| jobs.for_each(|j| j.done.send(Err(e.duplicate())))),
        };
        // The reload pipeline after NOSCRIPT failed: one error for the calls
        // it carried (the others ran and have their replies), and one outage
        // for the breaker, like a whole failed batch.
        let mut reload_failed: Option<Error> = None;
        one_outage(|| {
            for (group, value) in groups.into_iter().zip(replies) {
                let these: Vec<Job> = jobs.by_ref().take(group.len()).collect();
                let value = match value {
                    Ok(v) => v,
                    Err(e) => {
                        let e = reload_failed.get_or_insert_with(|| {
                            match live.as_ref().map(|l| self.after_reply::<()>(state, l, Err(e))) {
                                Some(Err(e)) => e,
                                _ => Error::Internal("a failed reply read as a success".into()),
                            }
                        });
                        these.into_iter().for_each(|j| j.done.send(Err(e.duplicate())));
                        continue;
                    }
                };
                match value {
                    redis::Value::Array(items) => deliver(these, &items),
                    redis::Value::ServerError(e) => {
                        let e = Error::from_redis(e.into(), self.inner.deadline, true);
                        these.into_iter().for_each(|j| j.done.send(Err(e.duplicate())));
                    }
                    other => {
                        let e = Error::Internal(format!("unexpected script reply {other:?}"));
                        these.into_iter().for_each(|j| j.done.send(Err(e.duplicate())));
                    }
                }
            }
        });
    }

    /// One decision sent after `ASKING` (Redis Cluster: its slot is being
    /// migrated to this node), alone, within `deadline`.
    pub(crate) async fn asking(
        &self,
        keys: &[Vec<u8>],
        specs: &[Spec],
        now: u64,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<Outcome>> {
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let mut args: Vec<u64> = vec![now, 1, specs.len() as u64];
        for spec in specs {
            args.extend(spec.args());
        }
        let calls = [script::Call {
            keys,
            args,
            cross: false,
        }];
        let (calls, name) = (&calls, &self.inner.name);
        let call = self.request(move |mut conn| async move { script::run_all(&mut conn, calls, true, name).await });
        match tokio::time::timeout_at(deadline, call).await {
            Ok(Ok(mut replies)) => match replies.pop() {
                Some(Ok(redis::Value::Array(items))) if items.len() >= 4 * specs.len() => parse_outcomes(&items),
                Some(Ok(redis::Value::ServerError(e))) => Err(Error::from_redis(e.into(), self.inner.deadline, true)),
                Some(Err(e)) => Err(Error::from_redis(e, self.inner.deadline, true)),
                other => Err(Error::Internal(format!("unexpected script reply {other:?}"))),
            },
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::timeout(self.inner.deadline, "waiting for the reply", true)),
        }
    }
}

/// The script's keys and arguments for `jobs[range]` (all with the same
/// time override). A decision whose limits are those of the decision before
/// it (the common case: one quota for every client of an endpoint) is sent
/// as a single `0` instead of its limits: fewer arguments for Redis to read.
fn script_args(jobs: &[Job], range: std::ops::Range<usize>) -> (Vec<&[u8]>, Vec<u64>) {
    let jobs = &jobs[range];
    let mut keys: Vec<&[u8]> = Vec::with_capacity(jobs.len());
    let mut args: Vec<u64> = Vec::with_capacity(2 + jobs.len() * 2 + 5);
    args.extend([jobs[0].now, jobs.len() as u64]);
    let mut previous: Option<&[Spec]> = None;
    for job in jobs {
        keys.extend(job.keys.iter().map(Vec::as_slice));
        let same = previous
            .is_some_and(|p| p.len() == job.specs.len() && p.iter().zip(&job.specs).all(|(a, b)| a.args() == b.args()));
        if same {
            args.push(0);
            continue;
        }
        args.push(job.specs.len() as u64);
        for spec in &job.specs {
            args.extend(spec.args());
        }
        previous = Some(&job.specs);
    }
    (keys, args)
}

/// Remove and return the jobs whose deadline is `now` or earlier (the
/// others keep their order).
fn take_expired(jobs: &mut VecDeque<Job>, now: tokio::time::Instant) -> Vec<Job> {
    if !jobs.iter().any(|j| j.deadline <= now) {
        return Vec::new();
    }
    let (expired, kept): (Vec<Job>, Vec<Job>) = jobs.drain(..).partition(|j| j.deadline <= now);
    *jobs = kept.into();
    expired
}

/// Up to [`MAX_BATCH_LIMITS`] limits' worth of queued jobs sharing one time
/// override, and the jobs whose deadline passed while queued.
fn take_batch(jobs: &mut VecDeque<Job>, now: tokio::time::Instant) -> (Vec<Job>, Vec<Job>) {
    let mut batch: Vec<Job> = Vec::new();
    let mut expired = Vec::new();
    let mut limits = 0;
    while let Some(job) = jobs.front() {
        if job.deadline <= now {
            expired.extend(jobs.pop_front());
            continue;
        }
        let fits = batch.is_empty() || (job.now == batch[0].now && limits + job.specs.len() <= MAX_BATCH_LIMITS);
        if !fits {
            break;
        }
        limits += job.specs.len();
        batch.extend(jobs.pop_front());
    }
    (batch, expired)
}

/// Hand each job its 4 integers per limit; a decision that raised an error
/// in the script carries the error text in its first slot.
fn deliver(batch: Vec<Job>, items: &[redis::Value]) {
    let mut at = 0;
    for job in batch {
        let n = 4 * job.specs.len();
        let result = match items.get(at..at + n) {
            Some(slots) => parse_outcomes(slots),
            None => Err(Error::Internal(format!(
                "script reply has {} values; expected at least {}",
                items.len(),
                at + n
            ))),
        };
        at += n;
        job.done.send(result);
    }
}

fn parse_outcomes(slots: &[redis::Value]) -> Result<Vec<Outcome>> {
    use redis::Value;
    match &slots[0] {
        Value::BulkString(b) => {
            return Err(Error::Server {
                message: String::from_utf8_lossy(b).into_owned(),
                source: None,
            })
        }
        Value::SimpleString(s) => {
            return Err(Error::Server {
                message: s.clone(),
                source: None,
            })
        }
        _ => {}
    }
    let int = |v: &Value| match v {
        Value::Int(i) => Ok(u64::try_from(*i).unwrap_or(0)),
        other => Err(Error::Internal(format!(
            "unexpected value {other:?} in the script reply"
        ))),
    };
    slots
        .chunks_exact(4)
        .map(|c| {
            Ok(Outcome {
                ok: int(&c[0])? == 1,
                remaining: int(&c[1])?,
                retry_us: int(&c[2])?,
                reset_us: int(&c[3])?,
            })
        })
        .collect()
}
