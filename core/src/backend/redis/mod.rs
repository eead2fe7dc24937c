//! Redis as the backend: one server, a Sentinel-managed master, or a
//! Redis Cluster.
//!
//! * [`connection`]: one multiplexed connection per server — connecting,
//!   deadlines, reconnecting, the in-flight bound, fork safety.
//! * [`queue`] and [`batch`]: the queue of decisions, and the driver tasks
//!   that send them in batches.
//! * [`script`]: the one script, by SHA, and the only `NOSCRIPT` handling.
//! * [`keys`]: the key scheme and hash slots.
//! * [`url`]: the multi-host URL grammar of Cluster and Sentinel.
//! * [`sentinel`]: following the master that Sentinels name.
//! * [`cluster`]: routing by slot over one connection per node.

pub(crate) mod batch;
pub(crate) mod cluster;
pub(crate) mod connection;
pub(crate) mod keys;
pub(crate) mod queue;
pub(crate) mod script;
pub(crate) mod sentinel;
pub(crate) mod url;
