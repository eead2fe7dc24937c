//! One error type for every front door.
//!
//! The kinds below are deliberately few: each maps one-for-one to a C result
//! code, a Python exception class and a JavaScript `code`, so adding a kind is
//! a change to all four languages. Redis errors are classified exactly once,
//! in [`Error::from_redis`].

use std::time::Duration;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, without the details. Stable across releases.
///
/// ```
/// use ratewarden::{Error, ErrorKind};
/// let err = Error::invalid_argument("capacity must be at least 1");
/// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
/// assert_eq!(err.kind().as_str(), "invalid_argument");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument was out of range or malformed (empty or oversized id,
    /// zero capacity/rate, cost above capacity, ...). Retrying will not help.
    InvalidArgument,
    /// The limiter could not be built from its URL or options (unknown
    /// scheme, malformed URL, bad TLS setup, a runtime installed twice).
    Config,
    /// Redis could not be reached, or the connection broke. Retryable.
    Connection,
    /// The deadline passed before an answer arrived. If
    /// [`Error::outcome_unknown`] is true the decision may have been taken
    /// (and quota spent) on the server: never retry it blindly.
    Timeout,
    /// Redis answered with an error (authentication, OOM, READONLY, a script
    /// error, ...).
    Server,
    /// The API was used in a way that cannot work, e.g. a blocking call made
    /// from a thread of the runtime that would have to serve it.
    Usage,
    /// A bug in ratewarden (an unexpected reply shape, a caught panic).
    Internal,
}

impl ErrorKind {
    /// Every kind, in the order of their numbers (1..=7).
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Config,
        ErrorKind::Connection,
        ErrorKind::Timeout,
        ErrorKind::Server,
        ErrorKind::Usage,
        ErrorKind::Internal,
    ];

    /// A short, stable, snake_case name (used for logs and bindings; the
    /// `kind` attribute of Python exceptions).
    ///
    /// ```
    /// assert_eq!(ratewarden::ErrorKind::Timeout.as_str(), "timeout");
    /// ```
    pub const fn as_str(self) -> &'static str {
        self.row().1
    }

    /// The stable number: the C `ratewarden_result` code (1..=7).
    ///
    /// ```
    /// assert_eq!(ratewarden::ErrorKind::Timeout.number(), 4);
    /// ```
    pub const fn number(self) -> u32 {
        self.row().0
    }

    /// The JavaScript `err.code`.
    ///
    /// ```
    /// assert_eq!(ratewarden::ErrorKind::Timeout.code(), "RATEWARDEN_TIMEOUT");
    /// ```
    pub const fn code(self) -> &'static str {
        self.row().2
    }

    /// The Python exception class in `ratewarden.errors`.
    ///
    /// ```
    /// assert_eq!(ratewarden::ErrorKind::Timeout.class_name(), "TimeoutError");
    /// ```
    pub const fn class_name(self) -> &'static str {
        self.row().3
    }

    /// What the kind means, in a few words (C's `ratewarden_result_message`).
    pub const fn summary(self) -> &'static str {
        self.row().4
    }

    /// The one table every binding derives its names from: number, name,
    /// JavaScript code, Python class, summary.
    const fn row(self) -> (u32, &'static str, &'static str, &'static str, &'static str) {
        match self {
            ErrorKind::InvalidArgument => (
                1,
                "invalid_argument",
                "RATEWARDEN_INVALID_ARGUMENT",
                "InvalidArgumentError",
                "invalid argument",
            ),
            ErrorKind::Config => (2, "config", "RATEWARDEN_CONFIG", "ConfigError", "configuration error"),
            ErrorKind::Connection => (
                3,
                "connection",
                "RATEWARDEN_CONNECTION",
                "ConnectionError",
                "cannot reach Redis",
            ),
            ErrorKind::Timeout => (
                4,
                "timeout",
                "RATEWARDEN_TIMEOUT",
                "TimeoutError",
                "deadline exceeded (the decision may have been taken)",
            ),
            ErrorKind::Server => (
                5,
                "server",
                "RATEWARDEN_SERVER",
                "ServerError",
                "Redis replied with an error",
            ),
            ErrorKind::Usage => (6, "usage", "RATEWARDEN_USAGE", "UsageError", "unsupported use"),
            ErrorKind::Internal => (7, "internal", "RATEWARDEN_INTERNAL", "InternalError", "internal error"),
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error returned by every fallible ratewarden call.
///
/// ```
/// use ratewarden::blocking::Limiter;
/// let limiter = Limiter::connect("memory://").unwrap();
/// let err = limiter.is_allowed("", "/users", 10, 10).unwrap_err();
/// assert!(err.is_invalid_argument());
/// assert!(!err.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`ErrorKind::InvalidArgument`].
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// See [`ErrorKind::Config`].
    #[error("configuration error: {message}")]
    Config {
        /// What is wrong.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Source>,
    },
    /// See [`ErrorKind::Connection`].
    #[error("cannot reach Redis: {message}{}",
        if *outcome_unknown { " (after the call was sent: the decision may have been taken)" } else { "" })]
    Connection {
        /// What failed.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Source>,
        /// True when the connection broke after (part of) the call was
        /// written, before its reply: the script may have run on the server.
        outcome_unknown: bool,
    },
    /// See [`ErrorKind::Timeout`].
    #[error("no answer within the deadline of {deadline:?} ({stage}; {})",
        if *outcome_unknown { "the decision may have been taken" } else { "nothing was sent" })]
    Timeout {
        /// The deadline that passed.
        deadline: Duration,
        /// Where the call was when it passed.
        stage: &'static str,
        /// True when the script may have run on the server.
        outcome_unknown: bool,
    },
    /// See [`ErrorKind::Server`].
    #[error("Redis replied with an error: {message}")]
    Server {
        /// The server's error text (code and detail).
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Source>,
    },
    /// See [`ErrorKind::Usage`].
    #[error("unsupported use: {0}")]
    Usage(String),
    /// See [`ErrorKind::Internal`].
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The kind of this error.
    ///
    /// ```
    /// use ratewarden::{Error, ErrorKind};
    /// assert_eq!(Error::invalid_argument("x").kind(), ErrorKind::InvalidArgument);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::Config { .. } => ErrorKind::Config,
            Error::Connection { .. } => ErrorKind::Connection,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Server { .. } => ErrorKind::Server,
            Error::Usage(_) => ErrorKind::Usage,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// True for [`ErrorKind::Timeout`].
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// True for [`ErrorKind::Connection`].
    pub fn is_connection(&self) -> bool {
        self.kind() == ErrorKind::Connection
    }

    /// True for [`ErrorKind::InvalidArgument`].
    pub fn is_invalid_argument(&self) -> bool {
        self.kind() == ErrorKind::InvalidArgument
    }

    /// True when trying again later may succeed (connection and timeout
    /// errors). A timeout whose [`outcome_unknown`](Self::outcome_unknown) is
    /// true may already have spent quota.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind(), ErrorKind::Connection | ErrorKind::Timeout)
    }

    /// True when the decision may have been taken on the server although no
    /// answer arrived: a timeout, or a connection that broke (reset, closed),
    /// after the script was sent. Such a call must not be retried blindly.
    /// A refused connection says false: nothing reached the server.
    ///
    /// ```
    /// let err = ratewarden::Error::invalid_argument("x");
    /// assert!(!err.outcome_unknown());
    /// ```
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::Timeout {
                outcome_unknown: true,
                ..
            } | Error::Connection {
                outcome_unknown: true,
                ..
            }
        )
    }

    /// The error of a call refused by an open circuit breaker (nothing sent).
    pub(crate) fn circuit_open(wait: Duration) -> Self {
        Error::Connection {
            message: format!("circuit open after repeated failures; Redis is probed again in {wait:?}"),
            source: None,
            outcome_unknown: false,
        }
    }

    /// Build an [`ErrorKind::InvalidArgument`] error.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::InvalidArgument(message.into())
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
            source: None,
        }
    }

    /// Every in-flight slot taken and the waiting list full: refused at
    /// once, nothing sent. A [`Timeout`](Error::Timeout) for the caller (Redis
    /// is not keeping up); not an outage for the circuit breaker, whose
    /// count the calls in flight make (see [`is_overload`](Self::is_overload)).
    pub(crate) fn overloaded(deadline: Duration) -> Self {
        Error::timeout(deadline, STAGE_FULL, false)
    }

    /// True for a call refused by [`overloaded`](Self::overloaded).
    pub(crate) fn is_overload(&self) -> bool {
        matches!(self, Error::Timeout { stage, .. } if *stage == STAGE_FULL)
    }

    pub(crate) fn timeout(deadline: Duration, stage: &'static str, outcome_unknown: bool) -> Self {
        Error::Timeout {
            deadline,
            stage,
            outcome_unknown,
        }
    }

    /// The same error for another caller (one failed batch fails each of its
    /// decisions): same kind and text, the source kept as text.
    pub(crate) fn duplicate(&self) -> Self {
        let text = |s: &Option<Source>| -> Option<Source> { s.as_ref().map(|e| e.to_string().into()) };
        match self {
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            Error::Config { message, source } => Error::Config {
                message: message.clone(),
                source: text(source),
            },
            Error::Connection {
                message,
                source,
                outcome_unknown,
            } => Error::Connection {
                message: message.clone(),
                source: text(source),
                outcome_unknown: *outcome_unknown,
            },
            Error::Timeout {
                deadline,
                stage,
                outcome_unknown,
            } => Error::timeout(*deadline, stage, *outcome_unknown),
            Error::Server { message, source } => Error::Server {
                message: message.clone(),
                source: text(source),
            },
            Error::Usage(m) => Error::Usage(m.clone()),
            Error::Internal(m) => Error::Internal(m.clone()),
        }
    }

    /// Classify an error from redis-rs. `sent` tells whether the request may
    /// have reached the server (decides `outcome_unknown` for I/O timeouts).
    pub(crate) fn from_redis(err: redis::RedisError, deadline: Duration, sent: bool) -> Self {
        use redis::ErrorKind as K;
        if err.is_timeout() {
            return Error::timeout(deadline, "waiting for Redis", sent);
        }
        match err.kind() {
            K::Io => Error::Connection {
                message: err.to_string(),
                outcome_unknown: sent && !nothing_was_sent(&err),
                source: Some(Box::new(err)),
            },
            K::ClusterConnectionNotFound => Error::Connection {
                message: err.to_string(),
                source: Some(Box::new(err)),
                outcome_unknown: false,
            },
            K::InvalidClientConfig => Error::Config {
                message: err.to_string(),
                source: Some(Box::new(err)),
            },
            K::Parse | K::UnexpectedReturnType => {
                Error::Internal(format!("unexpected reply from Redis (is this Redis >= 7.0?): {err}"))
            }
            _ => Error::Server {
                // As Redis wrote it ("MOVED 3999 127.0.0.1:7002"): the
                // cluster layer reads redirections from it.
                message: match (err.code(), err.detail()) {
                    (Some(code), Some(detail)) => format!("{code} {detail}"),
                    (Some(code), None) if matches!(err.kind(), K::Server(_)) => format!("{code} ({err})"),
                    _ => err.to_string(),
                },
                source: Some(Box::new(err)),
            },
        }
    }
}

/// The stage named by a call refused because every in-flight slot and every
/// place on the waiting list is taken.
const STAGE_FULL: &str = "refused at once: every in-flight slot taken and 4 × max_in_flight calls already waiting";

/// An I/O error that shows the request never reached a server: the
/// connection was refused. Anything else after sending (reset, closed while
/// waiting, even a broken pipe: redis-rs hands one connection's failure to
/// every request on it, some of them written before) may have followed a
/// script that ran.
fn nothing_was_sent(err: &redis::RedisError) -> bool {
    err.is_connection_refusal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_predicates_agree() {
        let t = Error::timeout(Duration::from_secs(1), "x", true);
        assert!(t.is_timeout() && t.is_retryable() && t.outcome_unknown());
        let t = Error::timeout(Duration::from_secs(1), "x", false);
        assert!(!t.outcome_unknown());
        assert!(t.to_string().contains("nothing was sent"));
        let c = Error::Connection {
            message: "refused".into(),
            source: None,
            outcome_unknown: false,
        };
        assert!(c.is_connection() && c.is_retryable());
        assert!(!Error::Usage("x".into()).is_retryable());
    }

    #[test]
    fn the_kind_table_is_one_to_one() {
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(k.number() as usize, i + 1);
            assert_eq!(k.code(), format!("RATEWARDEN_{}", k.as_str().to_uppercase()));
            let others = ErrorKind::ALL.iter().filter(|o| *o != k);
            assert!(others
                .clone()
                .all(|o| o.class_name() != k.class_name() && o.summary() != k.summary()));
        }
    }

    #[test]
    fn io_errors_are_connection_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::from_redis(redis::RedisError::from(io), Duration::from_secs(1), false);
        assert_eq!(e.kind(), ErrorKind::Connection);
        assert!(!e.outcome_unknown(), "refused before anything was sent");
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = Error::from_redis(redis::RedisError::from(io), Duration::from_secs(1), true);
        assert_eq!(e.kind(), ErrorKind::Connection);
        assert!(e.outcome_unknown() && e.is_retryable(), "reset after the call was sent");
        assert!(e.to_string().contains("may have been taken"), "{e}");
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::from_redis(redis::RedisError::from(io), Duration::from_secs(1), true);
        assert!(!e.outcome_unknown(), "refused: never sent");
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        let e = Error::from_redis(redis::RedisError::from(io), Duration::from_secs(1), true);
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.outcome_unknown());
    }
}
