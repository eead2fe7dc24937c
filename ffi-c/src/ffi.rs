//! Pointer and string helpers, and the panic boundary every entry point uses.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{ratewarden_result, set_last_error, set_outcome_unknown};

/// Why a C argument could not be turned into a Rust value.
pub(crate) struct ArgError(pub(crate) ratewarden_result, pub(crate) String);

/// A required C string as `&str`.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, ArgError> {
    if p.is_null() {
        return Err(ArgError(
            ratewarden_result::RATEWARDEN_NULL_PARAMETER,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|e| {
        ArgError(
            ratewarden_result::RATEWARDEN_INVALID_UTF8,
            format!("{name} is not valid UTF-8: {e}"),
        )
    })
}

/// A required out-pointer.
pub(crate) fn out_arg<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, ArgError> {
    // SAFETY: the caller passes NULL or a valid, writable, aligned pointer.
    unsafe { p.as_mut() }
        .ok_or_else(|| ArgError(ratewarden_result::RATEWARDEN_NULL_PARAMETER, format!("{name} is NULL")))
}

/// A required in-pointer (a handle or a struct the caller owns).
pub(crate) fn in_arg<'a, T>(p: *const T, name: &str) -> Result<&'a T, ArgError> {
    // SAFETY: the caller passes NULL or a valid, aligned pointer that
    // outlives the call.
    unsafe { p.as_ref() }
        .ok_or_else(|| ArgError(ratewarden_result::RATEWARDEN_NULL_PARAMETER, format!("{name} is NULL")))
}

/// Run `f`, turning argument errors, core errors and panics into a result
/// code and the thread's last-error message.
pub(crate) fn boundary<F>(f: F) -> ratewarden_result
where
    F: FnOnce() -> Result<(), ArgError>,
{
    set_outcome_unknown(false);
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last_error(None);
            ratewarden_result::RATEWARDEN_OK
        }
        Ok(Err(ArgError(code, message))) => {
            set_last_error(Some(message));
            code
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(Some(format!("panic inside ratewarden: {what}")));
            ratewarden_result::RATEWARDEN_PANIC
        }
    }
}

impl From<ratewarden::Error> for ArgError {
    fn from(e: ratewarden::Error) -> Self {
        set_outcome_unknown(e.outcome_unknown());
        ArgError(ratewarden_result::from_kind(e.kind()), e.to_string())
    }
}

/// `text` into the caller's `buf` of `len` bytes, NUL-terminated;
/// `*written` = its length without the NUL. A NULL `buf` or one too short
/// (the message says how long it must be) is an error naming `what`.
///
/// # Safety
/// `buf` is NULL or has room for `len` bytes.
pub(crate) unsafe fn write_text(
    text: &str,
    what: &str,
    buf: *mut c_char,
    len: usize,
    written: &mut usize,
) -> Result<(), ArgError> {
    if buf.is_null() {
        return Err(ArgError(
            ratewarden_result::RATEWARDEN_NULL_PARAMETER,
            "buf is NULL".into(),
        ));
    }
    if text.len() + 1 > len {
        return Err(ArgError(
            ratewarden_result::RATEWARDEN_INVALID_ARGUMENT,
            format!("buf holds {len} bytes; the {what} need {}", text.len() + 1),
        ));
    }
    // SAFETY: `buf` has room for `len` >= text.len() + 1 bytes (caller contract).
    let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
    out[..text.len()].copy_from_slice(text.as_bytes());
    out[text.len()] = 0;
    *written = text.len();
    Ok(())
}
