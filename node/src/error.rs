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

/// Every error code by its kind's name (`{ InvalidArgument: 'RATEWARDEN_INVALID_ARGUMENT', ... }`),
/// from the core's table: `ErrorCode` in `index.js`.
#[napi_derive::napi(catch_unwind)]
pub fn error_codes() -> std::collections::HashMap<String, String> {
    ratewarden::ErrorKind::ALL
        .iter()
        .map(|k| {
            let pascal: String = k
                .as_str()
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map_or(String::new(), |f| f.to_ascii_uppercase().to_string() + c.as_str())
                })
                .collect();
            (pascal, k.code().to_owned())
        })
        .collect()
}

/// Panics: the test suite checks that a panic inside an export becomes a
/// thrown JavaScript error (every export is built with `catch_unwind`)
/// instead of aborting the process.
#[doc(hidden)]
#[napi_derive::napi(js_name = "__panicForTest", catch_unwind)]
pub fn panic_for_test() {
    panic!("ratewarden: a panic raised on purpose by the test suite");
}
