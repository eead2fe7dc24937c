//! Result codes, their messages, and the per-thread last error.
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, CString};

/// The outcome of every fallible ratewarden function. 0 is success.
///
/// Codes 1–7 mirror the core's `ErrorKind` one-for-one (and Python's
/// exception classes and Node's error codes); 100 and up are C-only. The
/// numbers never change; retired codes stay reserved.
///
/// ```c
/// ratewarden_result r = ratewarden_is_allowed(lim, "alice", "/search", 10, 10, &ok);
/// if (r != RATEWARDEN_OK)
///     fprintf(stderr, "%s: %s\n", ratewarden_result_message(r), ratewarden_last_error());
/// ```
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ratewarden_result {
    /// Success.
    RATEWARDEN_OK = 0,
    /// An argument was out of range (empty or > 512-byte id, zero capacity
    /// or rate, cost 0 or above capacity, bad option). Do not retry.
    RATEWARDEN_INVALID_ARGUMENT = 1,
    /// The URL or options cannot make a limiter (unknown scheme, bad TLS setup).
    RATEWARDEN_CONFIG = 2,
    /// Redis could not be reached or the connection broke. Retryable.
    RATEWARDEN_CONNECTION = 3,
    /// No answer within the deadline. The decision may have been taken on the
    /// server (quota spent): never retry it blindly.
    RATEWARDEN_TIMEOUT = 4,
    /// Redis answered with an error (authentication, OOM, READONLY, script).
    RATEWARDEN_SERVER = 5,
    /// The library was used in a way that cannot work.
    RATEWARDEN_USAGE = 6,
    /// A bug in ratewarden.
    RATEWARDEN_INTERNAL = 7,
    /// A required pointer argument was NULL.
    RATEWARDEN_NULL_PARAMETER = 100,
    /// A string argument was not valid UTF-8.
    RATEWARDEN_INVALID_UTF8 = 101,
    /// A panic inside ratewarden was caught at the boundary (a bug).
    RATEWARDEN_PANIC = 102,
}

impl ratewarden_result {
    /// Every code of a core error kind, in the order of `ErrorKind::ALL`
    /// (whose `number()` is the code).
    const KINDS: [ratewarden_result; 7] = [
        Self::RATEWARDEN_INVALID_ARGUMENT,
        Self::RATEWARDEN_CONFIG,
        Self::RATEWARDEN_CONNECTION,
        Self::RATEWARDEN_TIMEOUT,
        Self::RATEWARDEN_SERVER,
        Self::RATEWARDEN_USAGE,
        Self::RATEWARDEN_INTERNAL,
    ];

    /// The code of a core error kind: its `number()` (checked by a test).
    pub(crate) fn from_kind(kind: ratewarden::ErrorKind) -> Self {
        let n = kind.number();
        Self::KINDS
            .into_iter()
            .find(|c| *c as u32 == n)
            .unwrap_or(Self::RATEWARDEN_INTERNAL)
    }
}

/// The core's summaries of its error kinds, NUL-terminated, made once.
fn kind_messages() -> &'static [CString; 7] {
    static MESSAGES: std::sync::OnceLock<[CString; 7]> = std::sync::OnceLock::new();
    MESSAGES.get_or_init(|| ratewarden::ErrorKind::ALL.map(|k| CString::new(k.summary()).unwrap_or_default()))
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
    static LAST_OUTCOME_UNKNOWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub(crate) fn set_last_error(message: Option<String>) {
    let c = message.map(|m| CString::new(m.replace('\0', "\\0")).unwrap_or_default());
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

pub(crate) fn set_outcome_unknown(unknown: bool) {
    LAST_OUTCOME_UNKNOWN.with(|u| u.set(unknown));
}

/// True when the last failed ratewarden call on *this thread* failed after
/// its decision was sent — a timeout, or a connection that broke before the
/// reply: the decision may have been taken on the server (quota spent), so
/// do not retry it blindly. False after a success, or when nothing was sent
/// (a refused connection, bad arguments).
///
/// ```c
/// if (r == RATEWARDEN_CONNECTION && !ratewarden_last_outcome_unknown()) retry_now();
/// ```
#[no_mangle]
pub extern "C" fn ratewarden_last_outcome_unknown() -> bool {
    LAST_OUTCOME_UNKNOWN.with(std::cell::Cell::get)
}

/// A static, NUL-terminated description of a result code (never NULL; an
/// unknown code gives "unknown ratewarden result code").
///
/// Thread-safe. The string must not be freed.
///
/// ```c
/// puts(ratewarden_result_message(RATEWARDEN_TIMEOUT));
/// ```
#[no_mangle]
pub extern "C" fn ratewarden_result_message(result: u32) -> *const c_char {
    let s: &'static [u8] = match result {
        0 => b"ok\0",
        1..=7 => return kind_messages()[result as usize - 1].as_ptr(),
        100 => b"NULL parameter\0",
        101 => b"invalid UTF-8\0",
        102 => b"panic inside ratewarden\0",
        _ => b"unknown ratewarden result code\0",
    };
    s.as_ptr().cast()
}

/// True for results where trying again later may succeed
/// (`RATEWARDEN_CONNECTION`, `RATEWARDEN_TIMEOUT`).
///
/// ```c
/// if (ratewarden_result_is_retryable(r)) schedule_retry();
/// ```
#[no_mangle]
pub extern "C" fn ratewarden_result_is_retryable(result: u32) -> bool {
    result == ratewarden_result::RATEWARDEN_CONNECTION as u32 || result == ratewarden_result::RATEWARDEN_TIMEOUT as u32
}

/// The detailed message of the last failed ratewarden call on *this thread*,
/// or NULL if the last call succeeded (or none was made).
///
/// The pointer stays valid until the next ratewarden call on this thread;
/// copy it if you need it longer. Do not free it.
///
/// ```c
/// if (r != RATEWARDEN_OK) fprintf(stderr, "ratewarden: %s\n", ratewarden_last_error());
/// ```
#[no_mangle]
pub extern "C" fn ratewarden_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
}

/// The library version, e.g. "0.1.0" (static; equals `RATEWARDEN_VERSION`
/// from the header the program was built with, if the two match).
///
/// ```c
/// printf("ratewarden %s\n", ratewarden_version());
/// ```
#[no_mangle]
pub extern "C" fn ratewarden_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_core_kind_numbers() {
        for k in ratewarden::ErrorKind::ALL {
            assert_eq!(ratewarden_result::from_kind(k) as u32, k.number());
            // SAFETY: a static NUL-terminated string.
            let m = unsafe { std::ffi::CStr::from_ptr(ratewarden_result_message(k.number())) };
            assert_eq!(m.to_str().unwrap(), k.summary());
        }
    }
}
