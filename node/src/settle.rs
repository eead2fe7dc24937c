//! Promises that the core runtime settles, cheaply.
//!
//! napi-rs's `async fn` makes one threadsafe function (a libuv handle) per
//! call and runs the future on napi's own runtime, from which we would hop to
//! the core's: three thread hops and a handle per decision. Here each
//! JavaScript thread (the main thread, each worker) has one *hub*: one
//! threadsafe function and a queue. A finished decision is pushed onto the
//! queue from the core runtime; the first push after a drain wakes the
//! JavaScript thread, which then settles every queued promise in one go.
//!
//! * The hub's threadsafe function is referenced (keeps the event loop alive)
//!   only while promises are pending, so an idle limiter never holds a
//!   process open, and a pending decision always does.
//! * When the environment tears down (a worker ends), the hub is closed
//!   first (an env cleanup hook): late answers from the core runtime are
//!   dropped instead of calling into a freed environment.

use std::cell::{Cell, RefCell};
use std::ffi::{c_void, CString};
use std::ptr;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::ToNapiValue;
use napi::sys;

/// What a settled promise resolves to.
pub(crate) enum Value {
    Decision(crate::decision::Decision),
    Multi(crate::decision::MultiDecision),
    Policies(std::collections::HashMap<String, crate::policy::PolicySpec>),
    Policy(crate::policy::PolicySpec),
    Verdict(crate::http::Verdict),
    Unit,
}

struct Settled {
    deferred: usize,
    result: Result<Value, ratewarden::Error>,
}

struct Hub {
    tsfn: usize,
    state: Mutex<HubState>,
}

#[derive(Default)]
struct HubState {
    done: Vec<Settled>,
    scheduled: bool,
    closed: bool,
}

/// A pending promise's settle handle; may be sent to any thread, used once.
pub(crate) struct Pending {
    hub: Arc<Hub>,
    deferred: usize,
}

impl Pending {
    /// Settle the promise (from any thread). Dropped silently if the
    /// JavaScript environment has gone away.
    pub(crate) fn settle(self, result: Result<Value, ratewarden::Error>) {
        let mut st = self.hub.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.closed {
            return;
        }
        st.done.push(Settled {
            deferred: self.deferred,
            result,
        });
        if !st.scheduled {
            st.scheduled = true;
            let status = unsafe {
                sys::napi_call_threadsafe_function(
                    self.hub.tsfn as sys::napi_threadsafe_function,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
            if status != sys::Status::napi_ok {
                st.closed = true;
                st.done.clear();
            }
        }
    }
}

thread_local! {
    /// This JavaScript thread's hub and its number of pending promises.
    static HUB: RefCell<Option<Arc<Hub>>> = const { RefCell::new(None) };
    static PENDING: Cell<u64> = const { Cell::new(0) };
}

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "RATEWARDEN_INTERNAL: N-API {what} failed ({status})"
        )))
    }
}

fn hub(env: sys::napi_env) -> napi::Result<Arc<Hub>> {
    if let Some(h) = HUB.with(|h| h.borrow().clone()) {
        return Ok(h);
    }
    let mut name = ptr::null_mut();
    check(
        unsafe { sys::napi_create_string_utf8(env, c"ratewarden".as_ptr(), 10, &mut name) },
        "create_string",
    )?;
    let mut tsfn = ptr::null_mut();
    check(
        unsafe {
            sys::napi_create_threadsafe_function(
                env,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
                Some(call_js),
                &mut tsfn,
            )
        },
        "create_threadsafe_function",
    )?;
    check(unsafe { sys::napi_unref_threadsafe_function(env, tsfn) }, "unref")?;
    let hub = Arc::new(Hub {
        tsfn: tsfn as usize,
        state: Mutex::new(HubState::default()),
    });
    let hook_arg = Arc::into_raw(hub.clone()) as *mut c_void;
    check(
        unsafe { sys::napi_add_env_cleanup_hook(env, Some(teardown), hook_arg) },
        "add_env_cleanup_hook",
    )?;
    HUB.with(|h| *h.borrow_mut() = Some(hub.clone()));
    Ok(hub)
}

/// The environment is going away: stop accepting answers, free the handle.
unsafe extern "C" fn teardown(arg: *mut c_void) {
    let hub = unsafe { Arc::from_raw(arg as *const Hub) };
    {
        let mut st = hub.state.lock().unwrap_or_else(|e| e.into_inner());
        st.closed = true;
        st.done.clear();
    }
    unsafe {
        sys::napi_release_threadsafe_function(
            hub.tsfn as sys::napi_threadsafe_function,
            sys::ThreadsafeFunctionReleaseMode::abort,
        )
    };
    HUB.with(|h| *h.borrow_mut() = None);
}

/// On the JavaScript thread: settle everything queued.
unsafe extern "C" fn call_js(env: sys::napi_env, _f: sys::napi_value, _ctx: *mut c_void, _data: *mut c_void) {
    if env.is_null() {
        return;
    }
    let Some(hub) = HUB.with(|h| h.borrow().clone()) else {
        return;
    };
    let done = {
        let mut st = hub.state.lock().unwrap_or_else(|e| e.into_inner());
        st.scheduled = false;
        std::mem::take(&mut st.done)
    };
    let n = done.len() as u64;
    for s in done {
        unsafe { settle_now(env, s.deferred as sys::napi_deferred, s.result) };
    }
    let left = PENDING.with(|p| {
        let left = p.get().saturating_sub(n);
        p.set(left);
        left
    });
    if left == 0 {
        unsafe { sys::napi_unref_threadsafe_function(env, hub.tsfn as sys::napi_threadsafe_function) };
    }
}

unsafe fn settle_now(env: sys::napi_env, deferred: sys::napi_deferred, result: Result<Value, ratewarden::Error>) {
    let value = match result {
        Ok(Value::Decision(d)) => unsafe { ToNapiValue::to_napi_value(env, d) },
        Ok(Value::Multi(m)) => unsafe { ToNapiValue::to_napi_value(env, m) },
        Ok(Value::Policies(p)) => unsafe { ToNapiValue::to_napi_value(env, p) },
        Ok(Value::Policy(p)) => unsafe { ToNapiValue::to_napi_value(env, p) },
        Ok(Value::Verdict(v)) => unsafe { ToNapiValue::to_napi_value(env, v) },
        Ok(Value::Unit) => unsafe { ToNapiValue::to_napi_value(env, ()) },
        Err(e) => {
            let err = unsafe { js_error(env, &e) };
            unsafe { sys::napi_reject_deferred(env, deferred, err) };
            return;
        }
    };
    match value {
        Ok(v) => unsafe { sys::napi_resolve_deferred(env, deferred, v) },
        Err(e) => {
            let err = unsafe { js_error(env, &ratewarden::Error::Internal(e.to_string())) };
            unsafe { sys::napi_reject_deferred(env, deferred, err) }
        }
    };
}

/// `Error` with `code` (`RATEWARDEN_*`) and `outcomeUnknown`.
pub(crate) unsafe fn js_error(env: sys::napi_env, e: &ratewarden::Error) -> sys::napi_value {
    let string = |s: &str| {
        let mut v = ptr::null_mut();
        unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v) };
        v
    };
    let mut err = ptr::null_mut();
    unsafe { sys::napi_create_error(env, string(e.kind().code()), string(&e.to_string()), &mut err) };
    let mut flag = ptr::null_mut();
    unsafe { sys::napi_get_boolean(env, e.outcome_unknown(), &mut flag) };
    if let Ok(name) = CString::new("outcomeUnknown") {
        unsafe { sys::napi_set_named_property(env, err, name.as_ptr(), flag) };
    }
    err
}

/// A new promise on this JavaScript thread and the handle that settles it.
pub(crate) fn promise(env: sys::napi_env) -> napi::Result<(sys::napi_value, Pending)> {
    let hub = hub(env)?;
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    check(
        unsafe { sys::napi_create_promise(env, &mut deferred, &mut promise) },
        "create_promise",
    )?;
    let first = PENDING.with(|p| {
        p.set(p.get() + 1);
        p.get() == 1
    });
    if first {
        unsafe { sys::napi_ref_threadsafe_function(env, hub.tsfn as sys::napi_threadsafe_function) };
    }
    Ok((
        promise,
        Pending {
            hub,
            deferred: deferred as usize,
        },
    ))
}

/// A promise that is already settled (no thread involved).
pub(crate) fn settled(env: sys::napi_env, result: Result<Value, ratewarden::Error>) -> napi::Result<sys::napi_value> {
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    check(
        unsafe { sys::napi_create_promise(env, &mut deferred, &mut promise) },
        "create_promise",
    )?;
    unsafe { settle_now(env, deferred, result) };
    Ok(promise)
}
