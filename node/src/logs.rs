//! The library's log records for JavaScript: queued from any thread, and
//! delivered on the JavaScript thread that set the sink, in order, through
//! one threadsafe function that never keeps the event loop alive.
//!
//! Without a sink (the default) the core writes warnings to stderr itself,
//! at the level of `RATEWARDEN_LOG`. The JavaScript wrapper (`index.js`)
//! turns a `logger` object (console, pino, winston) into the sink function.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{JsValue, ToNapiValue, Unknown};
use napi::{sys, Env, Result};
use napi_derive::napi;
use ratewarden::logging::{self, LogLevel, LogRecord};

/// Records waiting for the JavaScript thread, at most; beyond, the newest
/// are dropped (a stalled event loop must not grow memory).
const MAX_QUEUED: usize = 1000;

struct Sink {
    tsfn: std::sync::atomic::AtomicUsize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(LogLevel, String, String)>,
    scheduled: bool,
    closed: bool,
}

/// The sink in use, to close it when it is replaced.
static CURRENT: Mutex<Option<Arc<Sink>>> = Mutex::new(None);

fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "RATEWARDEN_INTERNAL: N-API {what} failed ({status})"
        )))
    }
}

impl Sink {
    /// From any thread: queue the record, wake the JavaScript thread once.
    fn push(&self, r: &LogRecord<'_>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.closed || st.queue.len() >= MAX_QUEUED {
            return;
        }
        st.queue
            .push_back((r.level, r.target.to_string(), r.message.to_string()));
        if !st.scheduled {
            st.scheduled = true;
            let status = unsafe {
                sys::napi_call_threadsafe_function(
                    self.handle(),
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
            if status != sys::Status::napi_ok {
                st.closed = true;
                st.queue.clear();
            }
        }
    }

    fn handle(&self) -> sys::napi_threadsafe_function {
        self.tsfn.load(std::sync::atomic::Ordering::Acquire) as sys::napi_threadsafe_function
    }

    /// Stop taking records; those queued are dropped.
    fn close(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.closed = true;
        st.queue.clear();
    }
}

/// Install the library's logging (stderr at `RATEWARDEN_LOG`, warn when
/// unset) unless a sink is set; called when the addon loads.
pub(crate) fn install() {
    logging::install();
}

/// `setLogSink(fn, minLevel)`: records of `minLevel` (0 off … 5 trace;
/// undefined: `RATEWARDEN_LOG`, else info) and above go to
/// `fn(level, target, message)` on this JavaScript thread;
/// `setLogSink(null)` goes back to stderr at `RATEWARDEN_LOG`. The sink
/// never keeps the process alive; once this thread's environment ends
/// (process exit, a worker ending), nothing more reaches it.
#[napi(
    js_name = "setLogSink",
    ts_args_type = "sink: ((level: number, target: string, message: string) => void) | null, minLevel?: number",
    catch_unwind
)]
pub fn set_log_sink(env: Env, sink: Option<Unknown<'_>>, min_level: Option<u32>) -> Result<()> {
    let level = match min_level {
        None => LogLevel::from_env_or(LogLevel::Info),
        Some(n) => LogLevel::from_number(n).ok_or_else(|| {
            napi::Error::from_reason(format!("RATEWARDEN_INVALID_ARGUMENT: minLevel {n} is not 0 to 5"))
        })?,
    };
    logging::install();
    let old = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).take();
    let Some(func) = sink else {
        logging::set_sink(None, LogLevel::from_env());
        if let Some(old) = old {
            old.close();
            unsafe { release(&old) };
        }
        return Ok(());
    };
    let raw = env.raw();
    let mut name = ptr::null_mut();
    check(
        unsafe { sys::napi_create_string_utf8(raw, c"ratewarden-log".as_ptr(), 14, &mut name) },
        "create_string",
    )?;
    // The sink is made first and its address given as the function's
    // context (one reference, dropped by the finalizer); the handle is
    // filled in before any record can be pushed.
    let this = Arc::new(Sink {
        tsfn: std::sync::atomic::AtomicUsize::new(0),
        state: Mutex::new(State::default()),
    });
    let context = Arc::into_raw(this.clone()) as *mut c_void;
    let mut tsfn = ptr::null_mut();
    let made = check(
        unsafe {
            sys::napi_create_threadsafe_function(
                raw,
                func.raw(),
                ptr::null_mut(),
                name,
                0,
                1,
                context,
                Some(finalize),
                context,
                Some(call_js),
                &mut tsfn,
            )
        },
        "create_threadsafe_function",
    );
    if let Err(e) = made {
        drop(unsafe { Arc::from_raw(context as *const Sink) });
        return Err(e);
    }
    this.tsfn.store(tsfn as usize, std::sync::atomic::Ordering::Release);
    check(unsafe { sys::napi_unref_threadsafe_function(raw, tsfn) }, "unref")?;
    // The context of call_js and of the cleanup hook: one reference each.
    let hook_arg = Arc::into_raw(this.clone()) as *mut c_void;
    check(
        unsafe { sys::napi_add_env_cleanup_hook(raw, Some(teardown), hook_arg) },
        "add_env_cleanup_hook",
    )?;
    let pushed = this.clone();
    logging::set_sink(Some(Arc::new(move |r: &LogRecord<'_>| pushed.push(r))), level);
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(this);
    if let Some(old) = old {
        old.close();
        unsafe { release(&old) };
    }
    Ok(())
}

unsafe fn release(sink: &Sink) {
    unsafe { sys::napi_release_threadsafe_function(sink.handle(), sys::ThreadsafeFunctionReleaseMode::release) };
}

/// The threadsafe function is gone: drop its reference to the sink.
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(unsafe { Arc::from_raw(data as *const Sink) });
}

/// The environment is going away: nothing more reaches its sink, and the
/// library goes back to stderr if that sink was the one in use.
unsafe extern "C" fn teardown(arg: *mut c_void) {
    let sink = unsafe { Arc::from_raw(arg as *const Sink) };
    sink.close();
    let mut current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &sink)) {
        *current = None;
        logging::set_sink(None, LogLevel::from_env());
        unsafe { sys::napi_release_threadsafe_function(sink.handle(), sys::ThreadsafeFunctionReleaseMode::abort) };
    }
}

/// On the JavaScript thread: hand every queued record to the function.
unsafe extern "C" fn call_js(env: sys::napi_env, func: sys::napi_value, ctx: *mut c_void, _data: *mut c_void) {
    if env.is_null() || func.is_null() || ctx.is_null() {
        return;
    }
    // SAFETY: the context is a live reference to the sink until the
    // finalizer runs, which is after the last call.
    let sink = unsafe { &*(ctx as *const Sink) };
    let records = {
        let mut st = sink.state.lock().unwrap_or_else(|e| e.into_inner());
        st.scheduled = false;
        std::mem::take(&mut st.queue)
    };
    let mut undefined = ptr::null_mut();
    unsafe { sys::napi_get_undefined(env, &mut undefined) };
    for (level, target, message) in records {
        let args = unsafe {
            [
                ToNapiValue::to_napi_value(env, level as u32).unwrap_or(undefined),
                ToNapiValue::to_napi_value(env, target).unwrap_or(undefined),
                ToNapiValue::to_napi_value(env, message).unwrap_or(undefined),
            ]
        };
        let mut out = ptr::null_mut();
        let status = unsafe { sys::napi_call_function(env, undefined, func, 3, args.as_ptr(), &mut out) };
        if status == sys::Status::napi_pending_exception {
            // A logger that throws loses its record, nothing else.
            let mut e = ptr::null_mut();
            unsafe { sys::napi_get_and_clear_last_exception(env, &mut e) };
        }
    }
}
