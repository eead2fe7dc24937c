//! Redis Cluster (`redis+cluster://h1:p1,h2:p2,...`): each decision goes to
//! the master that owns its slot; decisions are batched per master.
//!
//! # Behavior
//!
//! * The slot map comes from `CLUSTER SLOTS`, asked of every known node (the
//!   seeds, then every master and replica of the last map) at once. Each slot
//!   goes to the master named by most of the nodes that answered, so a
//!   demoted master that has not heard of its demotion, or a node cut off
//!   from the others, is outvoted.
//! * One [`RedisConnection`] per node, as for a single server: batching,
//!   deadlines, the in-flight bound (per node) and reconnection. A batch for
//!   one master goes out as one script call carrying the decisions of every
//!   slot, its keys passed as arguments (the script is flagged
//!   `allow-cross-slot-keys`; see `algorithm/lua/prelude.lua`). Redis checks
//!   each key access: a decision whose key this node does not serve now
//!   (moved, or migrating and absent) writes nothing and is answered "not
//!   here" ([`Redirect::NotHere`]); it is sent again with its keys declared,
//!   in a call of its own slot, which yields `MOVED` or `ASK` as below.
//! * `MOVED`: the slot is pointed at the new owner at once, the map is
//!   refreshed in the background, and the decision is sent again. `ASK`: the
//!   decision alone is sent to the importing node after `ASKING`. `TRYAGAIN`,
//!   `CLUSTERDOWN`, `MASTERDOWN`, `LOADING`, `READONLY`: the map is refreshed
//!   and the decision sent again after a short pause. The server rejects all
//!   of these before running the script, so a retry cannot count twice.
//!   Every retry stays within the decision's first deadline.
//! * A connection error or a timeout is returned as it is (the script may
//!   have run) and starts a refresh: after a failover, the next calls go to
//!   the promoted replica. Refreshes are single-flight and at most one per
//!   [`REFRESH_GAP`].
//! * `NOSCRIPT` from a freshly promoted replica is handled per connection
//!   (the script is sent again by body).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub(crate) mod redirect;
pub(crate) mod slot_map;

use crate::algorithm::{Outcome, Spec};
use crate::backend::redis::connection::RedisConnection;
use crate::backend::redis::keys::slot;
use crate::backend::redis::queue::Done;
use crate::backend::redis::url::{MultiHost, TlsFiles};
use crate::error::{Error, Result};
use crate::runtime;
use redirect::{backoff, Redirect, MAX_TRIES};
use slot_map::{parse_slots, vote, Master, SlotMap, NO_NODE};

/// Minimum time between two refreshes of the slot map.
pub(crate) const REFRESH_GAP: Duration = Duration::from_millis(100);

/// A Redis Cluster: the slot map and a connection per node.
#[derive(Clone)]
pub(crate) struct ClusterConnection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ClusterConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConnection")
            .field("seeds", &self.inner.url.hosts)
            .field("masters", &self.masters())
            .finish_non_exhaustive()
    }
}

struct Inner {
    url: MultiHost,
    deadline: Duration,
    max_in_flight: usize,
    map: RwLock<Arc<SlotMap>>,
    /// Per node: a small stable number (for per-node circuit breakers) and
    /// the connection.
    conns: Mutex<HashMap<String, (usize, RedisConnection)>>,
    refresh: Mutex<RefreshState>,
    refreshed: tokio::sync::Notify,
}

#[derive(Default)]
struct RefreshState {
    /// The fork generation + 1 of the process whose refresh is running (0:
    /// none; a parent's running refresh does not exist in a forked child).
    running: u64,
    last: Option<Instant>,
    /// The last failed refresh logged at warn (the others go to debug).
    warned: Option<Instant>,
}

/// One decision on its way, kept for a retry.
struct Attempt {
    keys: Vec<Vec<u8>>,
    specs: Vec<Spec>,
    now: u64,
    deadline: tokio::time::Instant,
    slot: u16,
    tries: u32,
    /// Send with declared keys, in a call of its own slot: the node that a
    /// call of several slots reached did not serve this key.
    declared: bool,
    done: Done,
}

impl ClusterConnection {
    /// Parse `redis+cluster://[user:password@]host:port[,host:port...]`
    /// (`rediss+cluster://…[#insecure]`: every node over TLS, trusting
    /// the TLS files when given); does not connect yet (see
    /// [`warm_up`](Self::warm_up)).
    pub(crate) fn new(url: &str, deadline: Duration, max_in_flight: usize, tls: &TlsFiles) -> Result<Self> {
        let mut url = MultiHost::parse(url, "redis+cluster", 6379)?;
        tls.check(url.tls, "redis+cluster://")?;
        url.tls_files = tls.clone();
        if !url.path.is_empty() && url.path != "0" {
            return Err(Error::config("Redis Cluster has only database 0"));
        }
        for host in &url.hosts {
            url.client(&url.node_url(host))
                .map_err(|e| Error::config(format!("invalid cluster node address {host:?}: {e}")))?;
        }
        Ok(ClusterConnection {
            inner: Arc::new(Inner {
                url,
                deadline,
                max_in_flight,
                map: RwLock::new(Arc::new(SlotMap::empty())),
                conns: Mutex::new(HashMap::new()),
                refresh: Mutex::new(RefreshState::default()),
                refreshed: tokio::sync::Notify::new(),
            }),
        })
    }

    /// Start reading the slot map in the background.
    pub(crate) fn warm_up(&self) {
        self.trigger_refresh();
    }

    pub(crate) fn deadline(&self) -> Duration {
        self.inner.deadline
    }

    /// The masters of the current map (`host:port`), for logs and tests.
    pub(crate) fn masters(&self) -> Vec<String> {
        self.map().masters.iter().map(|m| m.addr.clone()).collect()
    }

    fn map(&self) -> Arc<SlotMap> {
        self.inner.map.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The connection to `addr` (made on first use; kept while the process
    /// lives, so a node that comes back is reached through the same one).
    fn conn(&self, addr: &str) -> Result<RedisConnection> {
        self.node(addr).map(|m| m.conn)
    }

    fn node(&self, addr: &str) -> Result<Master> {
        let mut conns = self.inner.conns.lock().unwrap_or_else(|e| e.into_inner());
        let id = conns.len();
        let (id, conn) = match conns.get(addr) {
            Some((id, c)) => (*id, c.clone()),
            None => {
                let c = RedisConnection::cluster_node(
                    &self.inner.url.node_url(addr),
                    self.inner.deadline,
                    self.inner.max_in_flight,
                    &self.inner.url.tls_files,
                )?;
                conns.insert(addr.to_owned(), (id, c.clone()));
                (id, c)
            }
        };
        Ok(Master {
            addr: addr.to_owned(),
            id,
            conn,
        })
    }

    fn master_of(&self, slot: u16) -> Option<RedisConnection> {
        let map = self.inner.map.read().unwrap_or_else(|e| e.into_inner());
        let i = map.slots[usize::from(slot)];
        (i != NO_NODE).then(|| map.masters[usize::from(i)].conn.clone())
    }

    /// A small number naming the master that serves `slot` now (0 if none
    /// is known): decisions on different masters fail independently.
    pub(crate) fn route(&self, slot: u16) -> usize {
        let map = self.inner.map.read().unwrap_or_else(|e| e.into_inner());
        let i = map.slots[usize::from(slot)];
        if i == NO_NODE {
            0
        } else {
            map.masters[usize::from(i)].id
        }
    }

    /// The master of `slot`, reading the map first if it has none.
    async fn wait_for_master(&self, slot: u16, deadline: tokio::time::Instant) -> Result<RedisConnection> {
        loop {
            if let Some(c) = self.master_of(slot) {
                return Ok(c);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(Error::Connection {
                    message: format!(
                        "no master of the Redis Cluster at {} serves slot {slot} (no node answered CLUSTER SLOTS, or the slot is unassigned)",
                        self.inner.url.hosts.join(",")
                    ),
                    source: None,
                    outcome_unknown: false,
                });
            }
            let refreshed = self.inner.refreshed.notified();
            self.trigger_refresh();
            let _ = tokio::time::timeout_at(deadline.min(now + REFRESH_GAP), refreshed).await;
        }
    }

    /// Queue one decision (keys of one slot); `done` is called exactly once,
    /// within the deadline. See the module docs for what is retried.
    pub(crate) fn submit(&self, keys: Vec<Vec<u8>>, specs: Vec<Spec>, now: Option<u64>, done: Done) {
        let slot = keys.first().map_or(0, |k| slot(k));
        self.dispatch(Attempt {
            keys,
            specs,
            now: now.unwrap_or(0),
            deadline: tokio::time::Instant::now() + self.inner.deadline,
            slot,
            tries: 0,
            declared: false,
            done,
        });
    }

    fn dispatch(&self, a: Attempt) {
        match self.master_of(a.slot) {
            Some(conn) => self.send(&conn, a),
            None => {
                let this = self.clone();
                runtime::handle().spawn(async move {
                    match this.wait_for_master(a.slot, a.deadline).await {
                        Ok(conn) => this.send(&conn, a),
                        Err(e) => (a.done)(Err(e)),
                    }
                });
            }
        }
    }

    fn send(&self, conn: &RedisConnection, a: Attempt) {
        let this = self.clone();
        let (keys, specs) = (a.keys.clone(), a.specs.clone());
        conn.submit_until(
            keys,
            specs,
            a.now,
            a.deadline,
            a.declared,
            Box::new(move |r| this.answered(a, r)),
        );
    }

    fn answered(&self, mut a: Attempt, r: Result<Vec<Outcome>>) {
        let err = match r {
            Ok(outcomes) => return (a.done)(Ok(outcomes)),
            Err(e) => e,
        };
        let Some(redirect) = Redirect::of(&err) else {
            if err.is_retryable() {
                self.trigger_refresh();
            }
            return (a.done)(Err(err));
        };
        a.tries += 1;
        if a.tries > MAX_TRIES || tokio::time::Instant::now() >= a.deadline {
            return (a.done)(Err(err));
        }
        tracing::debug!(target: "ratewarden", "cluster redirection for slot {}: {err}", a.slot);
        match redirect {
            // Nothing ran: ask the same node with the keys declared, which
            // answers MOVED or ASK, or runs it (a key created meanwhile).
            Redirect::NotHere => {
                a.declared = true;
                self.dispatch(a);
            }
            Redirect::Moved { slot, addr } => {
                self.learn(slot, &addr);
                self.trigger_refresh();
                self.dispatch(a);
            }
            Redirect::Ask { slot, addr } if slot == a.slot => {
                let this = self.clone();
                runtime::handle().spawn(async move {
                    let r = match this.conn(&addr) {
                        Ok(conn) => conn.asking(&a.keys, &a.specs, a.now, a.deadline).await,
                        Err(e) => Err(e),
                    };
                    this.answered(a, r);
                });
            }
            // Another slot was redirected (cannot happen: each slot's call
            // gets its own answer); send it again.
            Redirect::Ask { .. } => self.dispatch(a),
            Redirect::Retry => {
                self.trigger_refresh();
                let this = self.clone();
                let pause = backoff(a.tries);
                runtime::handle().spawn(async move {
                    tokio::time::sleep_until(a.deadline.min(tokio::time::Instant::now() + pause)).await;
                    this.dispatch(a);
                });
            }
        }
    }

    /// Point `slot` at `addr` (from a `MOVED`), ahead of the next refresh.
    fn learn(&self, slot: u16, addr: &str) {
        let Ok(node) = self.node(addr) else { return };
        let mut guard = self.inner.map.write().unwrap_or_else(|e| e.into_inner());
        let current = guard.slots[usize::from(slot)];
        if current != NO_NODE && guard.masters[usize::from(current)].addr == addr {
            return;
        }
        let mut masters = guard.masters.clone();
        let i = match masters.iter().position(|m| m.addr == addr) {
            Some(i) => i,
            None => {
                masters.push(node);
                masters.len() - 1
            }
        };
        let mut slots = guard.slots.clone();
        slots[usize::from(slot)] = i as u16;
        *guard = Arc::new(SlotMap {
            slots,
            masters,
            known: guard.known.clone(),
        });
    }

    /// Start a refresh of the slot map unless one is running or one ended
    /// less than [`REFRESH_GAP`] ago.
    fn trigger_refresh(&self) {
        let generation = runtime::fork_generation() + 1;
        {
            let mut st = self.inner.refresh.lock().unwrap_or_else(|e| e.into_inner());
            if st.running == generation || st.last.is_some_and(|t| t.elapsed() < REFRESH_GAP) {
                return;
            }
            st.running = generation;
        }
        let this = self.clone();
        runtime::handle().spawn(async move {
            let r = this.refresh().await;
            let warn = {
                let mut st = this.inner.refresh.lock().unwrap_or_else(|e| e.into_inner());
                st.running = 0;
                st.last = Some(Instant::now());
                let warn = r.is_err() && st.warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
                if warn {
                    st.warned = st.last;
                }
                warn
            };
            this.inner.refreshed.notify_waiters();
            match r {
                Err(e) if warn => tracing::warn!(target: "ratewarden", "cannot read the Redis Cluster slot map: {e}"),
                Err(e) => tracing::debug!(target: "ratewarden", "cannot read the Redis Cluster slot map: {e}"),
                Ok(()) => {}
            }
        });
    }

    /// Ask every known node for `CLUSTER SLOTS` and install the majority view.
    async fn refresh(&self) -> Result<()> {
        let old = self.map();
        let mut asked: Vec<String> = old.known.clone();
        for seed in &self.inner.url.hosts {
            if !asked.contains(seed) {
                asked.push(seed.clone());
            }
        }
        let mut tasks = Vec::with_capacity(asked.len());
        for addr in &asked {
            let conn = self.conn(addr)?;
            tasks.push(runtime::handle().spawn(async move {
                conn.query::<redis::Value>(redis::cmd("CLUSTER").arg("SLOTS").to_owned())
                    .await
            }));
        }
        let mut views = Vec::new();
        let mut failures = Vec::new();
        for (addr, task) in asked.iter().zip(tasks) {
            match task.await {
                Ok(Ok(v)) => match parse_slots(&v, addr) {
                    Some(view) if !view.is_empty() => views.push(view),
                    Some(_) => failures.push(format!("{addr}: no slots assigned")),
                    None => failures.push(format!("{addr}: unexpected CLUSTER SLOTS reply")),
                },
                Ok(Err(e)) => failures.push(format!("{addr}: {e}")),
                Err(e) => failures.push(format!("{addr}: {e}")),
            }
        }
        if views.is_empty() {
            return Err(Error::Connection {
                message: format!("no cluster node answered CLUSTER SLOTS ({})", failures.join("; ")),
                source: None,
                outcome_unknown: false,
            });
        }
        let map = vote(&views, |addr| self.node(addr))?;
        let changed = map.slots != old.slots
            || map
                .masters
                .iter()
                .map(|m| &m.addr)
                .ne(old.masters.iter().map(|m| &m.addr));
        if changed {
            let unassigned = map.slots.iter().filter(|&&i| i == NO_NODE).count();
            tracing::info!(
                target: "ratewarden",
                masters = ?map.masters.iter().map(|m| m.addr.as_str()).collect::<Vec<_>>(),
                unassigned,
                "Redis Cluster slot map updated"
            );
        }
        *self.inner.map.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(map);
        Ok(())
    }

    /// One command about `key` on the master of its slot, following
    /// redirections within the deadline.
    pub(crate) async fn query<T: redis::FromRedisValue + Send>(&self, key: &[u8], cmd: redis::Cmd) -> Result<T> {
        self.routed(key, move |c| {
            let cmd = cmd.clone();
            async move { c.query::<T>(cmd).await }
        })
        .await
    }

    /// One pipeline (or `MULTI` block) about `key`'s slot.
    pub(crate) async fn query_pipe<T: redis::FromRedisValue + Send>(
        &self,
        key: &[u8],
        pipe: redis::Pipeline,
    ) -> Result<T> {
        self.routed(key, move |c| {
            let pipe = pipe.clone();
            async move { c.query_pipe::<T>(pipe).await }
        })
        .await
    }

    async fn routed<T, F, Fut>(&self, key: &[u8], send: F) -> Result<T>
    where
        F: Fn(RedisConnection) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let slot = slot(key);
        let deadline = tokio::time::Instant::now() + self.inner.deadline;
        let mut tries = 0;
        loop {
            let conn = self.wait_for_master(slot, deadline).await?;
            let err = match tokio::time::timeout_at(deadline, send(conn)).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => e,
                Err(_) => return Err(Error::timeout(self.inner.deadline, "waiting for the reply", true)),
            };
            tries += 1;
            match Redirect::of(&err) {
                None => {
                    if err.is_retryable() {
                        self.trigger_refresh();
                    }
                    return Err(err);
                }
                Some(_) if tries > MAX_TRIES => return Err(err),
                Some(Redirect::Moved { slot, addr }) => self.learn(slot, &addr),
                // ASK, TRYAGAIN, CLUSTERDOWN, and "not here" (which a
                // command of one key never gets).
                Some(_) => {
                    self.trigger_refresh();
                    tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + backoff(tries))).await;
                }
            }
        }
    }

    /// `PING` every master (reading the map first if needed).
    pub(crate) async fn ping(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.inner.deadline;
        self.wait_for_master(0, deadline).await?;
        let tasks: Vec<_> = self
            .map()
            .masters
            .iter()
            .map(|m| {
                let c = m.conn.clone();
                runtime::handle().spawn(async move { c.ping().await })
            })
            .collect();
        for t in tasks {
            t.await
                .map_err(|e| Error::Internal(format!("ping task failed: {e}")))??;
        }
        Ok(())
    }

    /// A pub/sub connection subscribed to `channel` (on the master of
    /// `key`'s slot; cluster-wide `PUBLISH` reaches every node).
    pub(crate) async fn subscribe(&self, key: &[u8], channel: &str) -> Result<redis::aio::PubSubStream> {
        let deadline = tokio::time::Instant::now() + self.inner.deadline;
        self.wait_for_master(slot(key), deadline)
            .await?
            .subscribe(channel)
            .await
    }
}
