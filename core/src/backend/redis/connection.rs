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
//!   call reconnects. A call that finds its connection already closed (the
//!   server closed it while idle; see [`first_poll`]) reconnects and is sent
//!   once more: nothing of it had been written.
//! * A timeout discards the connection when nothing at all was heard on it for
//!   a whole deadline (a paused, hung or black-holed server): redis-rs's own
//!   reconnect logic does not cover that case. A merely slow server keeps it.
//! * At most `max_in_flight` calls are outstanding; up to 4 × that many more
//!   wait for a slot within their deadline (one waiting list and one admitter
//!   task per connection), and a call beyond that fails at once, so a Redis
//!   that stops answering cannot make client memory grow.
//! * Every call is bounded by the deadline end to end: waiting for a slot,
//!   connecting, sending and reading. Past it the call fails with
//!   [`Error::Timeout`]; `outcome_unknown` says whether the script was sent.
//! * In a forked child (see [`runtime::after_fork_in_child`]) the parent's
//!   connection, in-flight slots and connect lock are abandoned (leaked, not
//!   dropped) and fresh ones are made on the next call.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use tokio::sync::Semaphore;

use crate::backend::redis::queue::Queue;
use crate::backend::redis::sentinel::SentinelTarget;
use crate::backend::redis::url::{open_client, TlsFiles};
use crate::error::{Error, Result};
use crate::runtime;

/// Where the connection goes.
pub(crate) enum Target {
    /// One server, from a `redis://` or `rediss://` URL.
    Direct(redis::Client),
    /// The master a set of Sentinels names, asked again on every connect.
    Sentinel(SentinelTarget),
}

pub(crate) const STAGE_SLOT: u8 = 0;
pub(crate) const STAGE_CONNECT: u8 = 1;
pub(crate) const STAGE_SENT: u8 = 2;

#[derive(Clone)]
pub(crate) struct RedisConnection {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) target: Target,
    pub(crate) config: redis::AsyncConnectionConfig,
    pub(crate) deadline: Duration,
    /// For logs: `host:port`, or the Sentinel master name.
    pub(crate) name: String,
    /// A Redis Cluster node: a batch is sent in the cluster form (keys of
    /// several slots as arguments, see `batch.rs`).
    pub(crate) cluster_node: bool,
    pub(crate) max_in_flight: usize,
    pub(crate) epoch: Instant,
    pub(crate) last_warn_ms: AtomicU64,
    /// Everything tied to the process that made it (see `state`).
    pub(crate) per_process: Mutex<Arc<PerProcess>>,
}

pub(crate) struct PerProcess {
    pub(crate) fork_generation: u64,
    pub(crate) slot: Mutex<Option<Live>>,
    pub(crate) connecting: Arc<tokio::sync::Mutex<()>>,
    pub(crate) inflight: Arc<Semaphore>,
    pub(crate) generation: AtomicU64,
    pub(crate) queue: Mutex<Queue>,
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

/// Run `call` and say whether it finished on its first poll.
///
/// A request on a multiplexed connection whose driver has already ended
/// (it read the server's close) fails on its first poll: redis-rs's request
/// channel is closed, nothing is written. A request that was handed to the
/// driver waits for its reply, which another task delivers after a round
/// trip, so it does not finish on its first poll (in theory it could, if this
/// thread were descheduled for a whole round trip between handing the
/// request over and looking for its reply, and the connection failed just
/// then; that is the only case this rule misreads).
pub(crate) async fn first_poll<F: std::future::Future>(call: F) -> (F::Output, bool) {
    let mut call = std::pin::pin!(call);
    let mut first = true;
    std::future::poll_fn(move |cx| {
        let r = call.as_mut().poll(cx);
        let was_first = std::mem::replace(&mut first, false);
        r.map(|v| (v, was_first))
    })
    .await
}

#[derive(Clone)]
pub(crate) struct Live {
    pub(crate) generation: u64,
    pub(crate) conn: MultiplexedConnection,
    /// Milliseconds since `Inner::epoch` of the last reply (or the connect).
    pub(crate) last_reply_ms: Arc<AtomicU64>,
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
    pub(crate) fn new(url: &str, deadline: Duration, max_in_flight: usize, tls: &TlsFiles) -> Result<Self> {
        Self::direct(url, deadline, max_in_flight, tls, false)
    }

    /// A connection to one Redis Cluster node (`redis://` or `rediss://`
    /// URL): batches go out as one script call per slot, pipelined.
    pub(crate) fn cluster_node(url: &str, deadline: Duration, max_in_flight: usize, tls: &TlsFiles) -> Result<Self> {
        Self::direct(url, deadline, max_in_flight, tls, true)
    }

    fn direct(
        url: &str,
        deadline: Duration,
        max_in_flight: usize,
        files: &TlsFiles,
        cluster_node: bool,
    ) -> Result<Self> {
        let invalid = |e: redis::RedisError| Error::Config {
            message: format!("invalid Redis URL or TLS settings: {e}"),
            source: Some(Box::new(e)),
        };
        files.check(url.starts_with("rediss://"), "redis://")?;
        let client = open_client(url, files).map_err(invalid)?;
        let name = client.get_connection_info().addr().to_string();
        Ok(Self::with_target(
            Target::Direct(client),
            name,
            deadline,
            max_in_flight,
            cluster_node,
        ))
    }

    /// Follow the master that `sentinel`'s Sentinels name; does not connect
    /// yet. Every (re)connection asks them again, so a failover is followed
    /// as soon as the old connection breaks or answers `READONLY`.
    pub(crate) fn sentinel(sentinel: SentinelTarget, deadline: Duration, max_in_flight: usize) -> Self {
        let name = format!("the Sentinel master {:?}", sentinel.master_name());
        Self::with_target(Target::Sentinel(sentinel), name, deadline, max_in_flight, false)
    }

    fn with_target(target: Target, name: String, deadline: Duration, max_in_flight: usize, cluster_node: bool) -> Self {
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
                cluster_node,
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
    pub(crate) fn state(&self) -> Arc<PerProcess> {
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

    /// `PING` within the deadline.
    pub(crate) async fn ping(&self) -> Result<()> {
        self.query::<String>(redis::cmd("PING")).await.map(drop)
    }

    /// One command within the deadline, on the shared connection.
    pub(crate) async fn query<T: redis::FromRedisValue + Send>(&self, cmd: redis::Cmd) -> Result<T> {
        let cmd = &cmd;
        self.request(move |mut conn| async move { cmd.query_async::<T>(&mut conn).await })
            .await
    }

    /// One pipeline (or `MULTI` block) within the deadline.
    pub(crate) async fn query_pipe<T: redis::FromRedisValue + Send>(&self, pipe: redis::Pipeline) -> Result<T> {
        let pipe = &pipe;
        self.request(move |mut conn| async move { pipe.query_async::<T>(&mut conn).await })
            .await
    }

    pub(crate) async fn request<T, F, Fut>(&self, send: F) -> Result<T>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let state = self.state();
        let stage = AtomicU8::new(STAGE_SLOT);
        let fut = async {
            let _permit = Self::permit(&state).await?;
            stage.store(STAGE_CONNECT, Ordering::Relaxed);
            let live = self.live(&state).await?;
            stage.store(STAGE_SENT, Ordering::Relaxed);
            let (live, r) = self.send_on(&state, live, send).await?;
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

    /// Send with `send` on `live`. If that connection had been closed before
    /// the call could be written (see [`first_poll`]: the server closed it
    /// while idle — Redis `timeout`, `CLIENT KILL`, a load balancer), drop it
    /// and send once more on a fresh connection: nothing of the first try
    /// reached Redis (but for the one case [`first_poll`] names). Returns the
    /// connection the result came from. The caller bounds it by the deadline.
    pub(crate) async fn send_on<T, F, Fut>(
        &self,
        state: &Arc<PerProcess>,
        live: Live,
        send: F,
    ) -> Result<(Live, redis::RedisResult<T>)>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let (r, at_once) = first_poll(send(live.conn.clone())).await;
        if !(at_once && r.as_ref().is_err_and(redis::RedisError::is_connection_dropped)) {
            return Ok((live, r));
        }
        if Self::forget(state, live.generation) {
            tracing::info!(target: "ratewarden", "the connection to {} was closed while idle; reconnecting", self.inner.name);
        }
        let live = self.live(state).await?;
        let r = send(live.conn.clone()).await;
        Ok((live, r))
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

    pub(crate) fn after_reply<T>(&self, state: &PerProcess, live: &Live, result: redis::RedisResult<T>) -> Result<T> {
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

    pub(crate) fn on_timeout(&self, state: &PerProcess, stage: u8) -> Error {
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
    pub(crate) async fn live(&self, state: &Arc<PerProcess>) -> Result<Live> {
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
                    // Every step bounded (connect, handshake, Sentinel's ROLE
                    // check): a server that takes the handshake and then
                    // drops every byte must not hold the single-flight lock
                    // until TCP gives up.
                    let attempt = async {
                        let connected = client
                            .get_multiplexed_async_connection_with_config(&this.inner.config)
                            .await
                            .map_err(|e| Error::from_redis(e, this.inner.deadline, false));
                        match (connected, &this.inner.target) {
                            (Ok(mut conn), Target::Sentinel(s)) => {
                                s.check_master(&mut conn, &client).await.map(|()| conn)
                            }
                            (r, _) => r,
                        }
                    };
                    match tokio::time::timeout(this.inner.deadline, attempt).await {
                        Ok(r) => r,
                        Err(_) => Err(Error::timeout(this.inner.deadline, "connecting", false)),
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
        if Self::forget(state, generation) {
            tracing::warn!(target: "ratewarden", "dropping the connection to {}: {why}; the next call reconnects", self.inner.name);
        }
    }

    /// Clear the current connection if it is still `generation`; true if
    /// this call cleared it.
    fn forget(state: &PerProcess, generation: u64) -> bool {
        let mut slot = state.slot.lock().unwrap_or_else(|e| e.into_inner());
        let current = slot.as_ref().is_some_and(|l| l.generation == generation);
        if current {
            *slot = None;
        }
        current
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    /// Failures are logged at warn at most once a second, else at debug.
    pub(crate) fn warn(&self, err: &Error) {
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
