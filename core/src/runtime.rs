//! One process-wide tokio runtime.
//!
//! Redis connections spawn a driver task on the runtime that creates them;
//! if that runtime went away (a Node worker exiting, a `#[tokio::main]` that
//! returned), every limiter sharing the connection would break. So every
//! connection ratewarden makes is created on this runtime, which lives as long
//! as the process. It is built lazily with named worker threads; a host that
//! must own its runtime can [`install`] a handle before first use.

use std::cell::Cell;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::error::{Error, Result};

static HANDLE: OnceLock<Handle> = OnceLock::new();
static OWNED: OnceLock<Runtime> = OnceLock::new();

thread_local! {
    static ON_CORE_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Use `handle` as ratewarden's runtime. Must be called before any limiter
/// talks to Redis; fails with [`ErrorKind::Config`](crate::ErrorKind::Config)
/// if a runtime is already in use. The runtime must outlive every limiter and
/// have I/O and time enabled.
///
/// ```
/// let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
/// // Either this install succeeds, or an earlier one (or first use) won.
/// let _ = ratewarden::runtime::install(rt.handle().clone());
/// # std::mem::forget(rt);
/// ```
pub fn install(handle: Handle) -> Result<()> {
    HANDLE
        .set(handle)
        .map_err(|_| Error::config("a ratewarden runtime is already in use; install() must come first"))
}

/// The runtime handle, building the default runtime on first use.
///
/// ```
/// let handle = ratewarden::runtime::handle();
/// assert_eq!(handle.block_on(async { 1 + 1 }), 2);
/// ```
pub fn handle() -> &'static Handle {
    HANDLE.get_or_init(|| {
        let rt = OWNED.get_or_init(build_runtime);
        rt.handle().clone()
    })
}

fn build_runtime() -> Runtime {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8);
    let threads = std::env::var("RATEWARDEN_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| (1..=256).contains(&n))
        .unwrap_or(threads);
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("ratewarden-worker")
        .on_thread_start(|| ON_CORE_WORKER.with(|f| f.set(true)))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        // Without threads nothing else can work; there is no caller to
        // return this to from a lazy static.
        Err(e) => panic!("ratewarden: cannot start its tokio runtime: {e}"),
    }
}

/// True on a worker thread of the runtime ratewarden built itself.
pub(crate) fn on_core_worker() -> bool {
    ON_CORE_WORKER.with(|f| f.get())
}

/// Whether blocking this thread until the core runtime answers could
/// deadlock: on one of its own workers, or inside a current-thread runtime
/// when that runtime *is* the core runtime.
pub(crate) fn blocking_would_deadlock() -> bool {
    if on_core_worker() {
        return true;
    }
    match (Handle::try_current(), HANDLE.get()) {
        (Ok(current), Some(core)) => {
            OWNED.get().is_none()
                && core.runtime_flavor() == RuntimeFlavor::CurrentThread
                && current.runtime_flavor() == RuntimeFlavor::CurrentThread
        }
        _ => false,
    }
}
