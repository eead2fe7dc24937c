//! Where the library's log events go when no Rust `tracing` subscriber of
//! the application's own takes them: to a sink of the embedding language
//! (a C callback, a JS logger), or to stderr at the level `RATEWARDEN_LOG`
//! names (`warn` when unset).
//!
//! The core logs with `tracing` under the target `ratewarden`: failures at
//! warn (at most once a second per connection while they last, the rest at
//! debug), connections, reconnects, slot-map and policy changes at info,
//! decisions at trace. A Rust application installs its own subscriber and
//! sees them there; Python bridges them to `logging` through the `log`
//! crate. The C and Node bindings call [`install`] once, which makes this
//! module's subscriber the process-wide one, and [`set_sink`] to route the
//! records.
//!
//! ```
//! use std::sync::Arc;
//! use ratewarden::logging::{self, LogLevel};
//! logging::install();
//! logging::set_sink(Some(Arc::new(|r: &logging::LogRecord<'_>| {
//!     eprintln!("[{}] {}: {}", r.level.as_str(), r.target, r.message);
//! })), LogLevel::Info);
//! logging::set_sink(None, LogLevel::from_env()); // back to stderr
//! ```

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// How severe a record is; each level includes the ones before it.
/// `Off` as a minimum level lets nothing through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LogLevel {
    /// Nothing is logged (as a minimum level only).
    Off = 0,
    /// Not used by the core today; kept for sinks that map levels.
    Error = 1,
    /// A failure: Redis unreachable, a timeout, a fallback decision.
    Warn = 2,
    /// A (re)connection, a circuit or slot-map change, policies loaded.
    Info = 3,
    /// The failures beyond the first per second, redirections, retries.
    Debug = 4,
    /// Every decision.
    Trace = 5,
}

impl LogLevel {
    /// The lower-case name (`"warn"`), as `RATEWARDEN_LOG` takes it.
    ///
    /// ```
    /// assert_eq!(ratewarden::logging::LogLevel::Warn.as_str(), "warn");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    /// The level of a number 0 (off) to 5 (trace), as the C API takes it.
    ///
    /// ```
    /// use ratewarden::logging::LogLevel;
    /// assert_eq!(LogLevel::from_number(3), Some(LogLevel::Info));
    /// assert_eq!(LogLevel::from_number(9), None);
    /// ```
    pub fn from_number(n: u32) -> Option<LogLevel> {
        Some(match n {
            0 => LogLevel::Off,
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            5 => LogLevel::Trace,
            _ => return None,
        })
    }

    /// Read a `RATEWARDEN_LOG` value: a level name (`warn`), or directives
    /// in the `tracing` filter syntax the CLI takes (`ratewarden=debug,
    /// hyper=warn`), of which the one for `ratewarden`, else the bare one,
    /// counts. `None` if it names no level.
    ///
    /// ```
    /// use ratewarden::logging::LogLevel;
    /// assert_eq!(LogLevel::parse("INFO"), Some(LogLevel::Info));
    /// assert_eq!(LogLevel::parse("h2=trace,ratewarden=debug"), Some(LogLevel::Debug));
    /// assert_eq!(LogLevel::parse("loud"), None);
    /// ```
    pub fn parse(text: &str) -> Option<LogLevel> {
        let name = |s: &str| match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => Some(LogLevel::Off),
            "error" => Some(LogLevel::Error),
            "warn" | "warning" => Some(LogLevel::Warn),
            "info" => Some(LogLevel::Info),
            "debug" => Some(LogLevel::Debug),
            "trace" => Some(LogLevel::Trace),
            _ => None,
        };
        let (mut ours, mut bare) = (None, None);
        for directive in text.split(',') {
            match directive.split_once('=') {
                Some((target, level)) if target.trim() == "ratewarden" => ours = name(level).or(ours),
                Some(_) => {}
                None => bare = name(directive).or(bare),
            }
        }
        ours.or(bare)
    }

    /// The level `RATEWARDEN_LOG` names, `Warn` when it is unset or names
    /// none.
    ///
    /// ```
    /// let level = ratewarden::logging::LogLevel::from_env();
    /// # let _ = level;
    /// ```
    pub fn from_env() -> LogLevel {
        LogLevel::from_env_or(LogLevel::Warn)
    }

    /// The level `RATEWARDEN_LOG` names, `default` when it is unset or
    /// names none (a sink of the application's takes info by default).
    ///
    /// ```
    /// use ratewarden::logging::LogLevel;
    /// let level = LogLevel::from_env_or(LogLevel::Info);
    /// # let _ = level;
    /// ```
    pub fn from_env_or(default: LogLevel) -> LogLevel {
        std::env::var("RATEWARDEN_LOG")
            .ok()
            .and_then(|v| LogLevel::parse(&v))
            .unwrap_or(default)
    }

    fn of(level: &tracing::Level) -> LogLevel {
        match *level {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::TRACE => LogLevel::Trace,
        }
    }

    fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Off => LevelFilter::OFF,
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

/// One log record as a sink receives it: valid for the call only.
#[derive(Debug, Clone, Copy)]
pub struct LogRecord<'a> {
    /// Its level (never `Off`).
    pub level: LogLevel,
    /// `ratewarden`, or a module path under it.
    pub target: &'a str,
    /// The message, then its fields as ` key=value` (e.g. `redis=...`).
    pub message: &'a str,
}

/// Where records go: called on whichever thread logs (a thread of the
/// library's runtime, or the caller's), so it must be thread-safe, quick,
/// and must not block on the library.
pub type LogSink = Arc<dyn Fn(&LogRecord<'_>) + Send + Sync>;

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Warn as u8);
static CLOSED: AtomicBool = AtomicBool::new(false);
static SINK: RwLock<Option<LogSink>> = RwLock::new(None);

thread_local! {
    /// Set while this thread is inside a sink: a record logged from there
    /// (the sink called the library) is dropped, not sent back to the sink.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Make this module's subscriber the process-wide `tracing` one, at the
/// level of `RATEWARDEN_LOG` (warn when unset), writing to stderr until
/// [`set_sink`] names a sink. Idempotent; `false` if another subscriber
/// (the application's) was installed first, which then gets the records.
///
/// ```
/// let ours = ratewarden::logging::install();
/// # let _ = ours;
/// ```
pub fn install() -> bool {
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INSTALLED.get_or_init(|| {
        LEVEL.store(LogLevel::from_env() as u8, Ordering::Relaxed);
        tracing::subscriber::set_global_default(Bridge).is_ok()
    })
}

/// Route records of `min_level` and above to `sink`, or to stderr if
/// `None`; replaces the previous sink at once (a record being delivered to
/// it finishes first).
///
/// ```
/// use ratewarden::logging::{set_sink, LogLevel};
/// set_sink(None, LogLevel::Off); // silence
/// ```
pub fn set_sink(sink: Option<LogSink>, min_level: LogLevel) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
    LEVEL.store(min_level as u8, Ordering::Relaxed);
    tracing::callsite::rebuild_interest_cache();
}

/// No record is delivered from now on, to a sink or stderr (for process
/// exit, when a sink's language runtime is going away). Cannot be undone.
///
/// ```no_run
/// ratewarden::logging::close();
/// ```
pub fn close() {
    CLOSED.store(true, Ordering::Release);
    set_sink(None, LogLevel::Off);
}

fn level() -> LogLevel {
    LogLevel::from_number(u32::from(LEVEL.load(Ordering::Relaxed))).unwrap_or(LogLevel::Off)
}

/// The subscriber: only the library's events, formatted once, handed to
/// the sink. Spans are not used by the core.
struct Bridge;

impl Subscriber for Bridge {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        meta.target().starts_with("ratewarden") && LogLevel::of(meta.level()) <= level()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(level().filter())
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if CLOSED.load(Ordering::Acquire) || IN_SINK.with(Cell::get) {
            return;
        }
        let meta = event.metadata();
        let mut text = Text::default();
        event.record(&mut text);
        let message = text.message + &text.fields;
        let record = LogRecord {
            level: LogLevel::of(meta.level()),
            target: meta.target(),
            message: &message,
        };
        let sink = SINK.read().unwrap_or_else(|e| e.into_inner()).clone();
        match sink {
            Some(sink) => {
                IN_SINK.with(|f| f.set(true));
                // A sink that panics loses its record, nothing else.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(&record)));
                IN_SINK.with(|f| f.set(false));
            }
            None => eprintln!(
                "{:>5} {}: {}",
                record.level.as_str().to_uppercase(),
                record.target,
                message
            ),
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_as_the_cli_reads_them() {
        assert_eq!(LogLevel::parse("warn"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::parse(" Debug "), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse("ratewarden=trace"), Some(LogLevel::Trace));
        assert_eq!(LogLevel::parse("info,ratewarden=off"), Some(LogLevel::Off));
        assert_eq!(LogLevel::parse("tokio=trace"), None);
        assert_eq!(LogLevel::parse(""), None);
        for n in 0..=5 {
            let l = LogLevel::from_number(n).unwrap();
            assert_eq!(l as u32, n);
            assert_eq!(LogLevel::parse(l.as_str()), Some(l));
        }
    }

    #[test]
    fn fields_follow_the_message() {
        // Through a real event, seen by a dispatcher of this thread only.
        let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let s2 = seen.clone();
        struct Capture(Arc<std::sync::Mutex<Vec<String>>>);
        impl Subscriber for Capture {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &Attributes<'_>) -> Id {
                Id::from_u64(1)
            }
            fn record(&self, _: &Id, _: &Record<'_>) {}
            fn record_follows_from(&self, _: &Id, _: &Id) {}
            fn event(&self, event: &Event<'_>) {
                let mut text = Text::default();
                event.record(&mut text);
                self.0.lock().unwrap().push(text.message + &text.fields);
            }
            fn enter(&self, _: &Id) {}
            fn exit(&self, _: &Id) {}
        }
        tracing::subscriber::with_default(Capture(s2), || {
            tracing::warn!(target: "ratewarden", redis = %"127.0.0.1:1", n = 3, "down: {}", "refused");
        });
        assert_eq!(seen.lock().unwrap().as_slice(), ["down: refused redis=127.0.0.1:1 n=3"]);
    }
}
