//! One process-wide tokio runtime.
//!
//! Redis connections spawn a driver task on the runtime that creates them;
//! if that runtime went away (a Node worker exiting, a `#[tokio::main]` that
//! returned), every limiter sharing the connection would break. So every
//! connection ratewarden makes is created on this runtime, which lives as long
//! as the process. It is built lazily with named worker threads; a host that
//! must own its runtime can [`install`] a handle before first use.
//!
//! `fork()` copies a process without its threads: the child's copy of the
//! runtime has no workers and its connections' driver tasks never run. A
//! child calls [`after_fork_in_child`] (the Python binding does it through
//! `os.register_at_fork`); from then on a new runtime is built lazily and
//! every limiter abandons — never drops, since dropping would wait for
//! threads that do not exist — the parent's connections and opens its own.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::error::{Error, Result};

/// Incremented in a forked child; everything tied to an older value belongs
/// to the parent.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

struct Current {
    generation: u64,
    handle: Handle,
    /// True when ratewarden built the runtime (false: installed by the host).
    owned: bool,
    /// The runtime ratewarden built, kept reachable (it is never dropped).
    _runtime: Option<&'static Runtime>,
}

static CURRENT: RwLock<Option<Current>> = RwLock::new(None);
/// Runtimes of earlier fork generations (only ever touched under `CURRENT`'s
/// write lock). Holding them keeps them reachable and undropped.
static ABANDONED: Mutex<Vec<Current>> = Mutex::new(Vec::new());

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
    let generation = FORK_GENERATION.load(Ordering::Acquire);
    let mut current = CURRENT.write().unwrap_or_else(|e| e.into_inner());
    if current.as_ref().is_some_and(|c| c.generation == generation) {
        return Err(Error::config(
            "a ratewarden runtime is already in use; install() must come first",
        ));
    }
    *current = Some(Current {
        generation,
        handle,
        owned: false,
        _runtime: None,
    });
    Ok(())
}

/// The runtime handle, building the default runtime on first use (and again
/// in a forked child after [`after_fork_in_child`]).
///
/// ```
/// let handle = ratewarden::runtime::handle();
/// assert_eq!(handle.block_on(async { 1 + 1 }), 2);
/// ```
pub fn handle() -> Handle {
    let generation = FORK_GENERATION.load(Ordering::Acquire);
    if let Some(c) = CURRENT.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        if c.generation == generation {
            return c.handle.clone();
        }
    }
    let mut current = CURRENT.write().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = current.as_ref() {
        if c.generation == generation {
            return c.handle.clone();
        }
    }
    // Leaked on purpose: the runtime lives as long as the process, and a
    // parent's runtime must never be dropped in a forked child.
    let rt: &'static Runtime = Box::leak(Box::new(build_runtime()));
    let handle = rt.handle().clone();
    if let Some(old) = current.take() {
        // A parent's runtime after fork(): kept, never dropped.
        ABANDONED.lock().unwrap_or_else(|e| e.into_inner()).push(old);
    }
    *current = Some(Current {
        generation,
        handle: handle.clone(),
        owned: true,
        _runtime: Some(rt),
    });
    handle
}

/// Tell ratewarden that this process is the child of a `fork()`. Call it in
/// the child before it uses any limiter (Python does so automatically). The
/// parent's runtime and connections are abandoned, not dropped; new ones are
/// made on first use.
///
/// ```
/// // In a child process, right after fork():
/// ratewarden::runtime::after_fork_in_child();
/// ```
pub fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// The fork generation this process is in (0 in a process never forked).
pub(crate) fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Acquire)
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

/// True on a worker thread of a runtime ratewarden built itself.
pub(crate) fn on_core_worker() -> bool {
    ON_CORE_WORKER.with(|f| f.get())
}

/// Whether blocking this thread until the core runtime answers could
/// deadlock: on one of its own workers, or inside a current-thread runtime
/// when the host installed a current-thread runtime as the core runtime.
pub(crate) fn blocking_would_deadlock() -> bool {
    if on_core_worker() {
        return true;
    }
    let Ok(current_thread) = Handle::try_current() else {
        return false;
    };
    let core = CURRENT.read().unwrap_or_else(|e| e.into_inner());
    match core.as_ref() {
        Some(c) => {
            !c.owned
                && c.handle.runtime_flavor() == RuntimeFlavor::CurrentThread
                && current_thread.runtime_flavor() == RuntimeFlavor::CurrentThread
        }
        None => false,
    }
}
