//! Core errors → JavaScript errors, with the core's stable `code`
//! (`err.code === 'RATEWARDEN_TIMEOUT'`) and `outcomeUnknown`, for rejected
//! promises (`settle.rs`) and synchronous throws alike.

use napi::bindgen_prelude::*;

/// Throw `e` on this JavaScript thread as an `Error` with `code` and
/// `outcomeUnknown`; the returned error tells napi-rs that an exception is
/// already pending.
pub(crate) fn throw(env: &Env, e: ratewarden::Error) -> napi::Error {
    // SAFETY: called on the JavaScript thread that owns `env`, inside a call.
    unsafe { napi::sys::napi_throw(env.raw(), crate::settle::js_error(env.raw(), &e)) };
    napi::Error::from_status(Status::PendingException)
}
