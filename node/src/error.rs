//! Core errors → JS errors. The reason starts with a stable code
//! (`RATEWARDEN_TIMEOUT: ...`) that `lib.js` moves into `err.code`.

pub(crate) fn code(kind: ratewarden::ErrorKind) -> &'static str {
    use ratewarden::ErrorKind as K;
    match kind {
        K::InvalidArgument => "RATEWARDEN_INVALID_ARGUMENT",
        K::Config => "RATEWARDEN_CONFIG",
        K::Connection => "RATEWARDEN_CONNECTION",
        K::Timeout => "RATEWARDEN_TIMEOUT",
        K::Server => "RATEWARDEN_SERVER",
        K::Usage => "RATEWARDEN_USAGE",
        _ => "RATEWARDEN_INTERNAL",
    }
}

pub(crate) fn to_napi(err: ratewarden::Error) -> napi::Error {
    let outcome = if err.outcome_unknown() {
        " [outcome unknown]"
    } else {
        ""
    };
    napi::Error::from_reason(format!("{}: {err}{outcome}", code(err.kind())))
}

pub(crate) fn invalid(message: String) -> napi::Error {
    to_napi(ratewarden::Error::invalid_argument(message))
}
