//! Delivering results computed on the core runtime to asyncio futures,
//! without the runtime's threads ever taking the GIL.
//!
//! Each event loop gets one [`Channel`] (kept as an attribute of the loop):
//! a queue of finished results and a socket pair whose read end the loop
//! watches with `add_reader`. A runtime thread pushes the raw Rust result
//! and writes one byte only when the queue was empty; the loop thread,
//! woken once, drains the whole queue in one callback, converting each
//! result to Python and resolving its future. So a batch of N answers costs
//! one wake-up and no GIL hand-offs between threads — the event loop thread
//! is the only one that touches Python.

use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{intern, IntoPyObjectExt};

use crate::error::to_pyerr;

/// Converts one finished result to the future's value or exception; runs on
/// the loop thread with the GIL.
type Make = Box<dyn FnOnce(Python<'_>) -> Result<Py<PyAny>, PyErr> + Send>;

struct Inner {
    queue: Mutex<Vec<(Py<PyAny>, Make)>>,
    /// Written (one byte) when the queue goes from empty to non-empty.
    wake: UnixStream,
    /// Watched by the loop; drained before the queue is taken.
    read: UnixStream,
}

/// One event loop's delivery channel (internal; see the module docs).
#[pyclass(frozen, module = "ratewarden._native")]
pub(crate) struct _Channel {
    inner: Arc<Inner>,
}

#[pymethods]
impl _Channel {
    /// The file descriptor the loop watches.
    fn fileno(&self) -> i32 {
        self.inner.read.as_raw_fd()
    }

    /// Resolve every queued future (the loop's reader callback).
    fn drain(&self, py: Python<'_>) {
        let mut buf = [0u8; 256];
        // Read the wake-ups first, then take the queue: a result queued after
        // the take writes a new byte (the queue was empty again).
        while let Ok(n) = (&self.inner.read).read(&mut buf) {
            if n < buf.len() {
                break;
            }
        }
        let items = std::mem::take(&mut *self.inner.queue.lock().unwrap_or_else(|e| e.into_inner()));
        for (fut, make) in items {
            let fut = fut.bind(py);
            let done = match make(py) {
                Ok(value) => fut.call_method1(intern!(py, "set_result"), (value,)),
                Err(e) => fut.call_method1(intern!(py, "set_exception"), (e.into_value(py),)),
            };
            // A future cancelled meanwhile refuses the result (InvalidStateError).
            if let Err(e) = done {
                if !fut
                    .call_method0(intern!(py, "done"))
                    .and_then(|d| d.is_truthy())
                    .unwrap_or(false)
                {
                    tracing::debug!(target: "ratewarden", "could not resolve an async result: {e}");
                }
            }
        }
    }
}

/// Resolves one asyncio future from any thread, without the GIL.
pub(crate) struct Completer {
    channel: Arc<Inner>,
    fut: Py<PyAny>,
}

impl Completer {
    pub(crate) fn complete<T>(self, out: Result<T, ratewarden::Error>)
    where
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        let make: Make = Box::new(move |py| match out {
            Ok(v) => v.into_py_any(py),
            Err(e) => Err(to_pyerr(py, e)),
        });
        let was_empty = {
            let mut q = self.channel.queue.lock().unwrap_or_else(|e| e.into_inner());
            let empty = q.is_empty();
            q.push((self.fut, make));
            empty
        };
        if was_empty {
            // Non-blocking: a full buffer already holds a pending wake-up.
            let _ = (&self.channel.wake).write(&[1]);
        }
    }
}

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The running loop's channel, made (and its reader added) on first use.
fn channel_of(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Inner>> {
    let attr = intern!(py, "_ratewarden_channel");
    if let Ok(ch) = event_loop.getattr(attr) {
        if let Ok(ch) = ch.cast::<_Channel>() {
            return Ok(ch.get().inner.clone());
        }
    }
    let (wake, read) =
        UnixStream::pair().map_err(|e| to_pyerr(py, ratewarden::Error::Internal(format!("socketpair: {e}"))))?;
    for s in [&wake, &read] {
        s.set_nonblocking(true)
            .map_err(|e| to_pyerr(py, ratewarden::Error::Internal(format!("socketpair: {e}"))))?;
    }
    let inner = Arc::new(Inner {
        queue: Mutex::new(Vec::new()),
        wake,
        read,
    });
    let ch = Bound::new(py, _Channel { inner: inner.clone() })?;
    event_loop.call_method1(
        intern!(py, "add_reader"),
        (ch.get().fileno(), ch.getattr(intern!(py, "drain"))?),
    )?;
    event_loop.setattr(attr, ch)?;
    Ok(inner)
}

/// A new future of the running loop and what resolves it.
pub(crate) fn asyncio_future(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Completer)> {
    let get_loop = GET_RUNNING_LOOP.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("asyncio")?.getattr("get_running_loop")?.unbind())
    })?;
    let event_loop = get_loop.bind(py).call0()?;
    let channel = channel_of(py, &event_loop)?;
    let fut = event_loop.call_method0(intern!(py, "create_future"))?;
    Ok((
        fut.clone(),
        Completer {
            channel,
            fut: fut.unbind(),
        },
    ))
}
