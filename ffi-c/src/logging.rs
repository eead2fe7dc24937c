//! The library's log records for C: a callback of the application's, or
//! stderr at the level `RATEWARDEN_LOG` names (warn when unset).
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::{Arc, Once};

use ratewarden::logging::{self, LogLevel, LogRecord};

use crate::error::ratewarden_result;
use crate::ffi::{boundary, ArgError};

/// The level of a log record, and the minimum level of
/// `ratewarden_set_log_callback` (`RATEWARDEN_LOG_OFF` there: nothing).
///
/// Failures (Redis unreachable, a timeout, a fallback decision) are warn, at
/// most once a second per connection while they last (the rest are debug);
/// (re)connections, circuit and slot-map changes, policies loaded are info;
/// every decision is trace.
///
/// ```c
/// ratewarden_set_log_callback(on_log, NULL, RATEWARDEN_LOG_INFO);
/// ```
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ratewarden_log_level {
    /// Nothing (as a minimum level only).
    RATEWARDEN_LOG_OFF = 0,
    /// Not used by the library today.
    RATEWARDEN_LOG_ERROR = 1,
    /// A failure.
    RATEWARDEN_LOG_WARN = 2,
    /// A connection or state change.
    RATEWARDEN_LOG_INFO = 3,
    /// Repeated failures, redirections, retries.
    RATEWARDEN_LOG_DEBUG = 4,
    /// Every decision.
    RATEWARDEN_LOG_TRACE = 5,
}

impl ratewarden_log_level {
    fn of(level: LogLevel) -> Self {
        match level {
            LogLevel::Off => Self::RATEWARDEN_LOG_OFF,
            LogLevel::Error => Self::RATEWARDEN_LOG_ERROR,
            LogLevel::Warn => Self::RATEWARDEN_LOG_WARN,
            LogLevel::Info => Self::RATEWARDEN_LOG_INFO,
            LogLevel::Debug => Self::RATEWARDEN_LOG_DEBUG,
            LogLevel::Trace => Self::RATEWARDEN_LOG_TRACE,
        }
    }
}

/// Receives one log record: its level, its target (`"ratewarden"` or a
/// name under it) and its message, both NUL-terminated and valid only
/// during the call. Called from the library's own threads (and sometimes
/// the caller's), possibly from several at once: it must be thread-safe,
/// return quickly, and not call ratewarden functions (a record logged from
/// inside the callback is dropped).
///
/// ```c
/// static void on_log(void *user_data, ratewarden_log_level level,
///                    const char *target, const char *message) {
///     syslog(level <= RATEWARDEN_LOG_WARN ? LOG_WARNING : LOG_INFO, "%s: %s", target, message);
/// }
/// ```
pub type ratewarden_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: ratewarden_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The callback and its `user_data`, which the application promises are
/// usable from any thread (the contract of `ratewarden_set_log_callback`).
struct Callback(
    unsafe extern "C" fn(*mut c_void, ratewarden_log_level, *const c_char, *const c_char),
    *mut c_void,
);
// SAFETY: the caller of ratewarden_set_log_callback guarantees that the
// callback may be called with `user_data` from any thread, concurrently.
unsafe impl Send for Callback {}
// SAFETY: as above.
unsafe impl Sync for Callback {}

impl Callback {
    fn call(&self, r: &LogRecord<'_>) {
        let (target, message) = (text(r.target), text(r.message));
        // SAFETY: the application's callback, called as its contract says
        // (strings valid for the call).
        unsafe {
            (self.0)(
                self.1,
                ratewarden_log_level::of(r.level),
                target.as_ptr(),
                message.as_ptr(),
            )
        };
    }
}

fn text(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{fffd}")).unwrap_or_default()
}

extern "C" {
    fn atexit(callback: extern "C" fn()) -> c_int;
}

extern "C" fn at_exit() {
    logging::close();
}

/// Make the library's logging subscriber the process's (once), and stop it
/// when the process exits: no record reaches a callback or stderr once
/// `exit()` has begun (the application's state may be gone by then).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        logging::install();
        // SAFETY: registers a plain function with no arguments.
        unsafe { atexit(at_exit) };
    });
}

/// Send the library's log records of `min_level` and above to `callback`
/// (with `user_data` as its first argument) from now on; a NULL `callback`
/// goes back to the default: stderr, at the level of the environment
/// variable `RATEWARDEN_LOG` (`off`, `error`, `warn`, `info`, `debug`,
/// `trace`; `warn` when unset), `min_level` ignored. Takes effect at once
/// for every limiter; may be called at any time, from any thread. After
/// `exit()` has begun, nothing is logged.
///
/// `callback` must be callable from any thread, concurrently (see
/// `ratewarden_log_fn`), until it is replaced. `min_level` above
/// `RATEWARDEN_LOG_TRACE` is `RATEWARDEN_INVALID_ARGUMENT`.
///
/// ```c
/// ratewarden_set_log_callback(on_log, my_logger, RATEWARDEN_LOG_INFO);
/// /* ... */
/// ratewarden_set_log_callback(NULL, NULL, 0); /* back to stderr */
/// ```
#[no_mangle]
pub extern "C" fn ratewarden_set_log_callback(
    callback: ratewarden_log_fn,
    user_data: *mut c_void,
    min_level: u32,
) -> ratewarden_result {
    boundary(|| {
        let level = LogLevel::from_number(min_level).ok_or_else(|| {
            ArgError(
                ratewarden_result::RATEWARDEN_INVALID_ARGUMENT,
                format!("min_level {min_level} is not a ratewarden_log_level (0 to 5)"),
            )
        })?;
        install();
        match callback {
            None => logging::set_sink(None, LogLevel::from_env()),
            Some(f) => {
                let cb = Callback(f, user_data);
                logging::set_sink(Some(Arc::new(move |r: &LogRecord<'_>| cb.call(r))), level);
            }
        }
        Ok(())
    })
}
