//! The connection manager: one multiplexed Redis connection per limiter
//! (per node on a Redis Cluster, see `cluster.rs`), shared by every async and
//! blocking call, rebuilt by us when it fails. Under Sentinel the master is
//! looked up again on every (re)connect (see `sentinel.rs`).
//!
//! # Behavior
//!
//! * The connection is made lazily (a first attempt starts in the background
//!   when the limiter is built) and always on the core runtime, so its driver
//!   task outlives whatever runtime the caller is on.
//! * All concurrent calls share it. Decisions are batched: a call queues its
//!   decision (from any thread, without a task of its own) with a callback,
//!   and up to [`MAX_DRIVERS`] driver tasks each take whatever is queued (up
//!   to [`MAX_BATCH_LIMITS`] limits) and send it as one script call, then
//!   call each decision's callback. Alone, a decision goes out at once; under
//!   load, one round trip and one script call carry many decisions, each
//!   still atomic on its own, and submitting wakes no thread at all.
//! * Deadlines are kept by the drivers: a decision still queued at its
//!   deadline fails unsent; a batch waits for its reply (and for a
//!   connection) only until the earliest deadline among its decisions.
//! * Connection attempts are single-flight: while one is running, other calls
//!   wait for it (within their own deadline) instead of opening more sockets.
//!   An attempt whose caller gave up still finishes and installs its result.
//! * An I/O error or a dropped connection discards the connection; the next
//!   call reconnects.
//! * A timeout discards the connection when nothing at all was heard on it for
//!   a whole deadline (a paused, hung or black-holed server): redis-rs's own
//!   reconnect logic does not cover that case. A merely slow server keeps it.
//! * At most `max_in_flight` calls are outstanding; further calls wait for a
//!   slot within their deadline, so a Redis that stops answering cannot make
//!   client memory grow.
//! * Every call is bounded by the deadline end to end: waiting for a slot,
//!   connecting, sending and reading. Past it the call fails with
//!   [`Error::Timeout`]; `outcome_unknown` says whether the script was sent.
//! * In a forked child (see [`runtime::after_fork_in_child`]) the parent's
//!   connection, in-flight slots and connect lock are abandoned (leaked, not
//!   dropped) and fresh ones are made on the next call.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::algorithm::{Outcome, Spec};
use crate::error::{Error, Result};
use crate::runtime;
use crate::script::{is_noscript, RATEWARDEN};
use crate::sentinel::SentinelTarget;

/// Where the connection goes.
enum Target {
    /// One server, from a `redis://` or `rediss://` URL.
    Direct(redis::Client),
    /// The master a set of Sentinels names, asked again on every connect.
    Sentinel(SentinelTarget),
}

/// Batches in flight at once per connection, at most. One driver is
/// started for the first queued decision; another only while a whole batch
/// ([`MAX_BATCH_LIMITS`]) is waiting: on a busy client, fewer and larger
/// batches cost both client and Redis less CPU per decision than many small
/// ones (measured: ~11 + 12 µs vs ~17 + 17 µs per decision with 64 calls in
/// flight, client + Redis).
pub(crate) const MAX_DRIVERS: usize = 4;
/// Limits (keys) carried by one script call at most.
pub(crate) const MAX_BATCH_LIMITS: usize = 256;

const STAGE_SLOT: u8 = 0;
const STAGE_CONNECT: u8 = 1;
const STAGE_SENT: u8 = 2;

#[derive(Clone)]
pub(crate) struct RedisConnection {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    config: redis::AsyncConnectionConfig,
    deadline: Duration,
    /// For logs: `host:port`, or the Sentinel master name.
    name: String,
    /// A Redis Cluster node: a batch is sent as a pipeline of one script
    /// call per slot (a script's keys must share a slot).
    per_slot: bool,
    max_in_flight: usize,
    epoch: Instant,
    last_warn_ms: AtomicU64,
    /// Everything tied to the process that made it (see `state`).
    per_process: Mutex<Arc<PerProcess>>,
}

struct PerProcess {
    fork_generation: u64,
    slot: Mutex<Option<Live>>,
    connecting: Arc<tokio::sync::Mutex<()>>,
    inflight: Arc<Semaphore>,
    generation: AtomicU64,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Limits (keys) among the queued jobs.
    limits: usize,
    drivers: usize,
    /// A driver was spawned and has not taken its first batch yet: it will
    /// take whatever is queued by then, so no other driver is needed (and no
    /// other thread needs waking) until it does.
    starting: bool,
}

/// Called once with a decision's outcomes (one per limit).
pub(crate) type Done = Box<dyn FnOnce(Result<Vec<Outcome>>) + Send>;

/// One queued decision.
struct Job {
    keys: Vec<Vec<u8>>,
    specs: Vec<Spec>,
    /// The script's time override (0 = server time; tests only).
    now: u64,
    deadline: tokio::time::Instant,
    done: Reply,
    /// The in-flight slot, held while the job is queued or sent.
    _permit: Option<OwnedSemaphorePermit>,
}

/// A callback that is called exactly once: if a job is dropped unanswered
/// (a bug, a panic), it answers with an internal error.
struct Reply(Option<Done>);

impl Reply {
    fn send(mut self, result: Result<Vec<Outcome>>) {
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

impl PerProcess {
    fn new(max_in_flight: usize) -> Self {
        PerProcess {
            fork_generation: runtime::fork_generation(),
            slot: Mutex::new(None),
            connecting: Arc::new(tokio::sync::Mutex::new(())),
            inflight: Arc::new(Semaphore::new(max_in_flight)),
            generation: AtomicU64::new(0),
            queue: Mutex::new(Queue::default()),
        }
    }
}

#[derive(Clone)]
struct Live {
    generation: u64,
    conn: MultiplexedConnection,
    /// Milliseconds since `Inner::epoch` of the last reply (or the connect).
    last_reply_ms: Arc<AtomicU64>,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("target", &self.inner.name)
            .field("deadline", &self.inner.deadline)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Build from a `redis://` or `rediss://` URL; does not connect yet.
    pub(crate) fn new(
        url: &str,
        deadline: Duration,
        max_in_flight: usize,
        tls_root_cert: Option<Vec<u8>>,
    ) -> Result<Self> {
        Self::direct(url, deadline, max_in_flight, tls_root_cert, false)
    }

    /// A connection to one Redis Cluster node (`redis://` URL): batches go
    /// out as one script call per slot, pipelined.
    pub(crate) fn cluster_node(url: &str, deadline: Duration, max_in_flight: usize) -> Result<Self> {
        Self::direct(url, deadline, max_in_flight, None, true)
    }

    fn direct(
        url: &str,
        deadline: Duration,
        max_in_flight: usize,
        tls_root_cert: Option<Vec<u8>>,
        per_slot: bool,
    ) -> Result<Self> {
        let tls = url.starts_with("rediss://");
        if tls {
            // redis-rs's rustls feature selects no crypto provider; install
            // ring once per process (a no-op if the host installed one).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let invalid = |e: redis::RedisError| Error::Config {
            message: format!("invalid Redis URL or TLS settings: {e}"),
            source: Some(Box::new(e)),
        };
        let client = match tls_root_cert {
            Some(_) if !tls => return Err(Error::config("a TLS root certificate needs a rediss:// URL")),
            Some(pem) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                },
            )
            .map_err(invalid)?,
            None => redis::Client::open(url).map_err(invalid)?,
        };
        let name = client.get_connection_info().addr().to_string();
        Ok(Self::with_target(
            Target::Direct(client),
            name,
            deadline,
            max_in_flight,
            per_slot,
        ))
    }

    /// Follow the master that `sentinel`'s Sentinels name; does not connect
    /// yet. Every (re)connection asks them again, so a failover is followed
    /// as soon as the old connection breaks or answers `READONLY`.
    pub(crate) fn sentinel(sentinel: SentinelTarget, deadline: Duration, max_in_flight: usize) -> Self {
        let name = format!("the Sentinel master {:?}", sentinel.master_name());
        Self::with_target(Target::Sentinel(sentinel), name, deadline, max_in_flight, false)
    }

    fn with_target(target: Target, name: String, deadline: Duration, max_in_flight: usize, per_slot: bool) -> Self {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(deadline))
            // Our own deadline covers the whole call; see on_timeout.
            .set_response_timeout(None)
            .set_pipeline_buffer_size(max_in_flight.clamp(64, 4096));
        RedisConnection {
            inner: Arc::new(Inner {
                target,
                config,
                deadline,
                name,
                per_slot,
                max_in_flight,
                epoch: Instant::now(),
                last_warn_ms: AtomicU64::new(0),
                per_process: Mutex::new(Arc::new(PerProcess::new(max_in_flight))),
            }),
        }
    }

    /// Start connecting in the background (errors are only logged).
    pub(crate) fn warm_up(&self) {
        let this = self.clone();
        runtime::handle().spawn(async move {
            let state = this.state();
            if let Err(e) = tokio::time::timeout(this.inner.deadline, this.live(&state)).await {
                tracing::debug!(target: "ratewarden", "initial connection attempt: {e}");
            }
        });
    }

    /// This process's connection state; a forked child abandons the parent's.
    fn state(&self) -> Arc<PerProcess> {
        let mut pp = self.inner.per_process.lock().unwrap_or_else(|e| e.into_inner());
        if pp.fork_generation != runtime::fork_generation() {
            let parents = std::mem::replace(&mut *pp, Arc::new(PerProcess::new(self.inner.max_in_flight)));
            // Dropping it could touch a runtime whose threads do not exist here.
            std::mem::forget(parents);
        }
        pp.clone()
    }

    pub(crate) fn deadline(&self) -> Duration {
        self.inner.deadline
    }

    /// Queue one decision; `done` is called exactly once, within the
    /// deadline, on a thread of the core runtime (or on this thread if the
    /// decision fails before it is queued). Callable from any thread.
    pub(crate) fn submit(&self, keys: Vec<Vec<u8>>, specs: Vec<Spec>, now: Option<u64>, done: Done) {
        let deadline = tokio::time::Instant::now() + self.inner.deadline;
        self.submit_until(keys, specs, now.unwrap_or(0), deadline, done);
    }

    /// [`submit`](Self::submit) with a deadline of the caller's (a retry
    /// keeps the first attempt's).
    pub(crate) fn submit_until(
        &self,
        keys: Vec<Vec<u8>>,
        specs: Vec<Spec>,
        now: u64,
        deadline: tokio::time::Instant,
        done: Done,
    ) {
        let state = self.state();
        let mut job = Job {
            keys,
            specs,
            now,
            deadline,
            done: Reply(Some(done)),
            _permit: None,
        };
        match state.inflight.clone().try_acquire_owned() {
            Ok(permit) => {
                job._permit = Some(permit);
                self.enqueue(&state, job);
            }
            Err(TryAcquireError::NoPermits) => {
                // Every slot is taken: wait for one on the runtime, within
                // the deadline.
                let this = self.clone();
                let waiting = state.inflight.clone();
                runtime::handle().spawn(async move {
                    match tokio::time::timeout_at(deadline, waiting.acquire_owned()).await {
                        Ok(Ok(permit)) => {
                            job._permit = Some(permit);
                            this.enqueue(&state, job);
                        }
                        Ok(Err(_)) => job.done.send(Err(Error::Internal("in-flight semaphore closed".into()))),
                        Err(_) => job.done.send(Err(this.on_timeout(&state, STAGE_SLOT))),
                    }
                });
            }
            Err(TryAcquireError::Closed) => job.done.send(Err(Error::Internal("in-flight semaphore closed".into()))),
        }
    }

    fn enqueue(&self, state: &Arc<PerProcess>, job: Job) {
        let spawn = {
            let mut q = state.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.limits += job.specs.len();
            q.jobs.push_back(job);
            let spawn = (q.drivers == 0 || q.limits >= MAX_BATCH_LIMITS) && q.drivers < MAX_DRIVERS && !q.starting;
            if spawn {
                q.drivers += 1;
                q.starting = true;
            }
            spawn
        };
        if spawn {
            let this = self.clone();
            let st = state.clone();
            runtime::handle().spawn(async move { this.drive(st).await });
        }
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
            for job in expired {
                let err = Error::timeout(self.inner.deadline, "waiting in the queue", false);
                self.warn(&err);
                job.done.send(Err(err));
            }
            if batch.is_empty() {
                return;
            }
            self.run_batch(&state, batch).await;
        }
    }

    async fn run_batch(&self, state: &Arc<PerProcess>, batch: Vec<Job>) {
        let fail = |batch: Vec<Job>, e: Error| {
            for job in batch {
                job.done.send(Err(e.duplicate()));
            }
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
        if self.inner.per_slot {
            return self.run_batch_per_slot(state, &live, batch, until).await;
        }
        let (keys, args) = script_args(&batch, 0..batch.len());
        let mut conn = live.conn.clone();
        let call = async {
            let mut r = RATEWARDEN
                .cmd(false, &keys, &args)
                .query_async::<redis::Value>(&mut conn)
                .await;
            if matches!(&r, Err(e) if is_noscript(e)) {
                tracing::debug!(target: "ratewarden", "NOSCRIPT from {}: loading the script again", self.inner.name);
                r = RATEWARDEN
                    .cmd(true, &keys, &args)
                    .query_async::<redis::Value>(&mut conn)
                    .await;
            }
            r
        };
        let reply = match tokio::time::timeout_at(until, call).await {
            Ok(r) => self.after_reply(state, &live, r),
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

    /// A Redis Cluster batch: one script call per slot, all in one
    /// pipeline; each call's reply (or error, e.g. `MOVED`) goes to its own
    /// decisions.
    async fn run_batch_per_slot(
        &self,
        state: &Arc<PerProcess>,
        live: &Live,
        batch: Vec<Job>,
        until: tokio::time::Instant,
    ) {
        // Group the jobs by slot (a stable sort: one slot's jobs keep their order).
        let mut order: Vec<usize> = (0..batch.len()).collect();
        let slots: Vec<u16> = batch.iter().map(|j| crate::cluster::slot(&j.keys[0])).collect();
        order.sort_by_key(|&i| slots[i]);
        let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
        let mut start = 0;
        for i in 1..=order.len() {
            if i == order.len() || slots[order[i]] != slots[order[start]] {
                groups.push(start..i);
                start = i;
            }
        }
        let mut jobs: Vec<Option<Job>> = order.iter().map(|_| None).collect();
        let mut batch: Vec<Option<Job>> = batch.into_iter().map(Some).collect();
        for (at, &i) in order.iter().enumerate() {
            jobs[at] = batch[i].take();
        }
        let jobs: Vec<Job> = jobs.into_iter().flatten().collect();
        let calls: Vec<(Vec<&[u8]>, Vec<u64>)> = groups.iter().map(|g| script_args(&jobs, g.clone())).collect();
        let mut conn = live.conn.clone();
        let call = async {
            let pipeline = |load: bool, which: &[usize]| {
                let mut pipe = redis::pipe();
                pipe.ignore_errors();
                if load {
                    pipe.cmd("SCRIPT").arg("LOAD").arg(RATEWARDEN.body).ignore();
                }
                for &g in which {
                    pipe.add_command(RATEWARDEN.cmd(false, &calls[g].0, &calls[g].1));
                }
                pipe
            };
            let all: Vec<usize> = (0..calls.len()).collect();
            let mut replies: Vec<redis::Value> = pipeline(false, &all).query_async(&mut conn).await?;
            let missing: Vec<usize> = replies
                .iter()
                .enumerate()
                .filter(|(_, v)| matches!(v, redis::Value::ServerError(e) if e.code() == "NOSCRIPT"))
                .map(|(g, _)| g)
                .collect();
            if !missing.is_empty() {
                tracing::debug!(target: "ratewarden", "NOSCRIPT from {}: loading the script again", self.inner.name);
                let again: Vec<redis::Value> = pipeline(true, &missing).query_async(&mut conn).await?;
                for (g, v) in missing.into_iter().zip(again) {
                    replies[g] = v;
                }
            }
            Ok::<_, redis::RedisError>(replies)
        };
        let reply = match tokio::time::timeout_at(until, call).await {
            Ok(r) => self.after_reply(state, live, r),
            Err(_) => Err(self.on_timeout(state, STAGE_SENT)),
        };
        drop(calls);
        let mut jobs = jobs.into_iter();
        let replies = match reply {
            Ok(r) if r.len() == groups.len() => r,
            Ok(r) => {
                let e = Error::Internal(format!("{} replies for {} script calls", r.len(), groups.len()));
                return jobs.for_each(|j| j.done.send(Err(e.duplicate())));
            }
            Err(e) => return jobs.for_each(|j| j.done.send(Err(e.duplicate()))),
        };
        for (group, value) in groups.into_iter().zip(replies) {
            let these: Vec<Job> = jobs.by_ref().take(group.len()).collect();
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
        let call = self.request(|mut conn| async move {
            let send = |by_body: bool| {
                let mut pipe = redis::pipe();
                pipe.cmd("ASKING")
                    .ignore()
                    .add_command(RATEWARDEN.cmd(by_body, &keys, &args));
                pipe
            };
            let r = send(false).query_async::<(redis::Value,)>(&mut conn).await;
            match r {
                Err(e) if is_noscript(&e) => send(true).query_async::<(redis::Value,)>(&mut conn).await,
                r => r,
            }
        });
        match tokio::time::timeout_at(deadline, call).await {
            Ok(Ok((redis::Value::Array(items),))) if items.len() >= 4 * specs.len() => parse_outcomes(&items),
            Ok(Ok((other,))) => Err(Error::Internal(format!("unexpected script reply {other:?}"))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::timeout(self.inner.deadline, "waiting for the reply", true)),
        }
    }

    /// `PING` within the deadline.
    pub(crate) async fn ping(&self) -> Result<()> {
        self.query::<String>(redis::cmd("PING")).await.map(drop)
    }

    /// One command within the deadline, on the shared connection.
    pub(crate) async fn query<T: redis::FromRedisValue + Send>(&self, cmd: redis::Cmd) -> Result<T> {
        self.request(|mut conn| async move { cmd.query_async::<T>(&mut conn).await })
            .await
    }

    /// One pipeline (or `MULTI` block) within the deadline.
    pub(crate) async fn query_pipe<T: redis::FromRedisValue + Send>(&self, pipe: redis::Pipeline) -> Result<T> {
        self.request(|mut conn| async move { pipe.query_async::<T>(&mut conn).await })
            .await
    }

    async fn request<T, F, Fut>(&self, send: F) -> Result<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let state = self.state();
        let stage = AtomicU8::new(STAGE_SLOT);
        let fut = async {
            let _permit = Self::permit(&state).await?;
            stage.store(STAGE_CONNECT, Ordering::Relaxed);
            let live = self.live(&state).await?;
            stage.store(STAGE_SENT, Ordering::Relaxed);
            let r = send(live.conn.clone()).await;
            self.after_reply(&state, &live, r)
        };
        match tokio::time::timeout(self.inner.deadline, fut).await {
            Ok(r) => r,
            Err(_) => Err(self.on_timeout(&state, stage.load(Ordering::Relaxed))),
        }
    }

    /// A dedicated pub/sub connection subscribed to `channel`.
    pub(crate) async fn subscribe(&self, channel: &str) -> Result<redis::aio::PubSubStream> {
        let fut = async {
            let client = self.client().await?;
            let subscribed = async {
                let mut ps = client.get_async_pubsub().await?;
                ps.subscribe(channel).await?;
                Ok::<_, redis::RedisError>(ps.into_on_message())
            };
            subscribed
                .await
                .map_err(|e| Error::from_redis(e, self.inner.deadline, false))
        };
        match tokio::time::timeout(self.inner.deadline, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::timeout(self.inner.deadline, "subscribing", false)),
        }
    }

    /// The client to connect with: the URL's, or the master the Sentinels
    /// name now.
    async fn client(&self) -> Result<redis::Client> {
        match &self.inner.target {
            Target::Direct(client) => Ok(client.clone()),
            Target::Sentinel(s) => s.master(self.inner.deadline).await,
        }
    }

    async fn permit(state: &PerProcess) -> Result<tokio::sync::SemaphorePermit<'_>> {
        state
            .inflight
            .acquire()
            .await
            .map_err(|_| Error::Internal("in-flight semaphore closed".into()))
    }

    fn after_reply<T>(&self, state: &PerProcess, live: &Live, result: redis::RedisResult<T>) -> Result<T> {
        match result {
            Ok(v) => {
                live.last_reply_ms.store(self.now_ms(), Ordering::Relaxed);
                Ok(v)
            }
            Err(e) => {
                let demoted = matches!(self.inner.target, Target::Sentinel(_))
                    && e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly);
                if e.is_io_error() || e.is_connection_dropped() || demoted {
                    // A demoted master (READONLY) under Sentinel: ask the
                    // Sentinels again on the next call.
                    self.discard(state, live.generation, &e.to_string());
                } else {
                    // The server answered, with an error: the link is fine.
                    live.last_reply_ms.store(self.now_ms(), Ordering::Relaxed);
                }
                let err = Error::from_redis(e, self.inner.deadline, true);
                self.warn(&err);
                Err(err)
            }
        }
    }

    fn on_timeout(&self, state: &PerProcess, stage: u8) -> Error {
        let (name, sent) = match stage {
            STAGE_SLOT => ("waiting for a free in-flight slot", false),
            STAGE_CONNECT => ("connecting", false),
            _ => ("waiting for the reply", true),
        };
        if sent {
            if let Some(live) = Self::current(state) {
                let silent_for = self.now_ms().saturating_sub(live.last_reply_ms.load(Ordering::Relaxed));
                if u128::from(silent_for) >= self.inner.deadline.as_millis() {
                    self.discard(state, live.generation, "no reply within a whole deadline");
                }
            }
        }
        let err = Error::timeout(self.inner.deadline, name, sent);
        self.warn(&err);
        err
    }

    /// The current connection, connecting if there is none.
    async fn live(&self, state: &Arc<PerProcess>) -> Result<Live> {
        if let Some(live) = Self::current(state) {
            return Ok(live);
        }
        let guard = state.connecting.clone().lock_owned().await;
        if let Some(live) = Self::current(state) {
            return Ok(live);
        }
        // The attempt runs as its own task: if our caller gives up, it still
        // completes (bounded by the connection timeout) and installs the
        // connection for the next call.
        let this = self.clone();
        let state = state.clone();
        let task = runtime::handle().spawn(async move {
            let _guard = guard;
            let result = match this.client().await {
                Ok(client) => {
                    let connected = client
                        .get_multiplexed_async_connection_with_config(&this.inner.config)
                        .await
                        .map_err(|e| Error::from_redis(e, this.inner.deadline, false));
                    match (connected, &this.inner.target) {
                        (Ok(mut conn), Target::Sentinel(s)) => s.check_master(&mut conn, &client).await.map(|()| conn),
                        (r, _) => r,
                    }
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(conn) => {
                    let live = Live {
                        generation: state.generation.fetch_add(1, Ordering::Relaxed) + 1,
                        conn,
                        last_reply_ms: Arc::new(AtomicU64::new(this.now_ms())),
                    };
                    *state.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(live.clone());
                    tracing::info!(target: "ratewarden", "connected to Redis at {}", this.inner.name);
                    Ok(live)
                }
                Err(err) => {
                    this.warn(&err);
                    Err(err)
                }
            }
        });
        task.await
            .map_err(|e| Error::Internal(format!("connection task failed: {e}")))?
    }

    fn current(state: &PerProcess) -> Option<Live> {
        state.slot.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn discard(&self, state: &PerProcess, generation: u64, why: &str) {
        let mut slot = state.slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|l| l.generation == generation) {
            *slot = None;
            tracing::warn!(target: "ratewarden", "dropping the connection to {}: {why}; the next call reconnects", self.inner.name);
        }
    }

    fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    /// Failures are logged at warn at most once a second, else at debug.
    fn warn(&self, err: &Error) {
        let now = self.now_ms() + 1000;
        let last = self.inner.last_warn_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 1000
            && self
                .inner
                .last_warn_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(target: "ratewarden", redis = %self.inner.name, kind = %err.kind(), "{err}");
        } else {
            tracing::debug!(target: "ratewarden", redis = %self.inner.name, kind = %err.kind(), "{err}");
        }
    }
}

/// The script's keys and arguments for `jobs[range]` (all with the same
/// time override).
fn script_args(jobs: &[Job], range: std::ops::Range<usize>) -> (Vec<&[u8]>, Vec<u64>) {
    let jobs = &jobs[range];
    let mut keys: Vec<&[u8]> = Vec::with_capacity(jobs.len());
    let mut args: Vec<u64> = Vec::with_capacity(2 + jobs.len() * 6);
    args.extend([jobs[0].now, jobs.len() as u64]);
    for job in jobs {
        keys.extend(job.keys.iter().map(Vec::as_slice));
        args.push(job.specs.len() as u64);
        for spec in &job.specs {
            args.extend(spec.args());
        }
    }
    (keys, args)
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
