//! Every option of a limiter, defined, parsed and range-checked here once.
//!
//! Rust code sets options with the typed methods of
//! [`LimiterBuilder`](crate::LimiterBuilder); the language bindings hand over
//! what their user gave, by name ([`LimiterOptions::set`]), and report the
//! error this module returns. [`OPTIONS`] is the table of every option with
//! its name in each language; a binding converts a host value to an
//! [`OptionValue`] of the option's [`OptionKind`] and does nothing else, so
//! adding an option is a change here (and in the docs and stubs, which the
//! parity test checks).

use std::time::Duration;

use crate::algorithm::Algorithm;
use crate::backend::redis::keys;
use crate::backend::redis::url::TlsFiles;
use crate::error::{Error, Result};
use crate::resilience::FailureMode;

/// Default per-call deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default bound on calls outstanding on one limiter's connection.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// Largest accepted `max_in_flight`.
pub const MAX_IN_FLIGHT: usize = 1 << 20;
/// Largest accepted `deny_cache` (entries).
pub const MAX_DENY_CACHE: usize = 100_000_000;

/// The type of value an option takes, so that a binding can convert its
/// host value (and raise its own type error) without knowing the option.
///
/// ```
/// use ratewarden::{option_info, OptionKind};
/// assert_eq!(option_info("timeoutMs").unwrap().kind, OptionKind::Number);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionKind {
    /// A whole number.
    Integer,
    /// Any finite number.
    Number,
    /// A string.
    Text,
    /// Bytes (a string is accepted too).
    Bytes,
}

impl OptionKind {
    /// A short name for error messages: "integer", "number", "string", "bytes".
    pub const fn as_str(self) -> &'static str {
        match self {
            OptionKind::Integer => "integer",
            OptionKind::Number => "number",
            OptionKind::Text => "string",
            OptionKind::Bytes => "bytes",
        }
    }
}

/// One option: its names in each language, its kind and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OptionInfo {
    /// The name in Rust, C (`ratewarden_options_set_<name>`) and the CLI.
    pub name: &'static str,
    /// The Python keyword (durations in seconds there: `timeout`).
    pub python: &'static str,
    /// The JavaScript property (`timeoutMs`).
    pub js: &'static str,
    /// The kind of value (in every language; durations are numbers).
    pub kind: OptionKind,
    /// The default, as text.
    pub default: &'static str,
    /// One line for the docs.
    pub doc: &'static str,
}

const fn info(
    name: &'static str,
    python: &'static str,
    js: &'static str,
    kind: OptionKind,
    default: &'static str,
    doc: &'static str,
) -> OptionInfo {
    OptionInfo {
        name,
        python,
        js,
        kind,
        default,
        doc,
    }
}

/// Every limiter option, in documentation order.
///
/// ```
/// assert!(ratewarden::OPTIONS.iter().any(|o| o.name == "timeout_ms" && o.python == "timeout"));
/// ```
pub const OPTIONS: &[OptionInfo] = &[
    info(
        "timeout_ms",
        "timeout",
        "timeoutMs",
        OptionKind::Number,
        "1000",
        "deadline of every call, end to end, in ms (1..=3600000; Python: seconds)",
    ),
    info(
        "key_prefix",
        "key_prefix",
        "keyPrefix",
        OptionKind::Text,
        "ratewarden:",
        "prefix of every Redis key (no braces, at most 128 bytes)",
    ),
    info(
        "max_in_flight",
        "max_in_flight",
        "maxInFlight",
        OptionKind::Integer,
        "1024",
        "bound on calls outstanding on the connection (1..=1048576)",
    ),
    info(
        "tls_root_cert_pem",
        "tls_root_cert_pem",
        "tlsRootCertPem",
        OptionKind::Bytes,
        "",
        "trust this PEM CA certificate for rediss:// instead of the system's roots",
    ),
    info(
        "tls_client_cert_pem",
        "tls_client_cert_pem",
        "tlsClientCertPem",
        OptionKind::Bytes,
        "",
        "present this PEM client certificate to rediss:// servers that require one (with tls_client_key_pem)",
    ),
    info(
        "tls_client_key_pem",
        "tls_client_key_pem",
        "tlsClientKeyPem",
        OptionKind::Bytes,
        "",
        "the PEM private key of tls_client_cert_pem",
    ),
    info(
        "algorithm",
        "algorithm",
        "algorithm",
        OptionKind::Text,
        "sliding_window_log",
        "algorithm of calls that name none",
    ),
    info(
        "failure_mode",
        "failure_mode",
        "failureMode",
        OptionKind::Text,
        "error",
        "what decisions return while Redis is unreachable: error, allow, deny or local",
    ),
    info(
        "local_share",
        "local_share",
        "localShare",
        OptionKind::Number,
        "1",
        "share (0, 1] of each quota the local failure mode grants",
    ),
    info(
        "breaker_threshold",
        "breaker_threshold",
        "breakerThreshold",
        OptionKind::Integer,
        "3",
        "consecutive outages that open the circuit (1..=1000)",
    ),
    info(
        "breaker_open_for_ms",
        "breaker_open_for",
        "breakerOpenForMs",
        OptionKind::Number,
        "500",
        "how long the circuit stays open before a probe, in ms (1..=3600000; Python: seconds)",
    ),
    info(
        "deny_cache",
        "deny_cache",
        "denyCache",
        OptionKind::Integer,
        "10000",
        "entries of the local deny cache (0 turns it off)",
    ),
];

/// Whose names an option is looked up by ([`option_info_as`],
/// [`LimiterOptions::set_as`]).
///
/// ```
/// use ratewarden::{option_info_as, Spelling};
/// assert!(option_info_as(Spelling::JavaScript, "timeoutMs").is_some());
/// assert!(option_info_as(Spelling::JavaScript, "timeout_ms").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Spelling {
    /// Rust, C and the CLI: `timeout_ms`.
    Rust,
    /// Python keywords: `timeout` (seconds).
    Python,
    /// JavaScript properties: `timeoutMs`.
    JavaScript,
}

impl OptionInfo {
    /// This option's name in `spelling`.
    pub const fn name_in(&self, spelling: Spelling) -> &'static str {
        match spelling {
            Spelling::Rust => self.name,
            Spelling::Python => self.python,
            Spelling::JavaScript => self.js,
        }
    }
}

/// The option whose name in `spelling` is `name`, or `None`.
pub fn option_info_as(spelling: Spelling, name: &str) -> Option<&'static OptionInfo> {
    OPTIONS.iter().find(|o| o.name_in(spelling) == name)
}

/// The option called `name` in any language (`timeout_ms`, `timeoutMs`,
/// `timeout`), or `None`.
///
/// ```
/// assert_eq!(ratewarden::option_info("maxInFlight").unwrap().name, "max_in_flight");
/// assert!(ratewarden::option_info("timeot").is_none());
/// ```
pub fn option_info(name: &str) -> Option<&'static OptionInfo> {
    OPTIONS
        .iter()
        .find(|o| o.name == name || o.js == name || o.python == name)
}

/// A value given for an option by name ([`LimiterOptions::set`]).
///
/// ```
/// use ratewarden::OptionValue;
/// assert_eq!(OptionValue::from(250u64), OptionValue::Number(250.0));
/// assert_eq!(OptionValue::from("gcra"), OptionValue::Text("gcra".into()));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OptionValue {
    /// A number (integers too).
    Number(f64),
    /// A string; numbers given as text are parsed.
    Text(String),
    /// Bytes (a PEM certificate).
    Bytes(Vec<u8>),
}

impl From<f64> for OptionValue {
    fn from(v: f64) -> Self {
        OptionValue::Number(v)
    }
}

impl From<u64> for OptionValue {
    fn from(v: u64) -> Self {
        OptionValue::Number(v as f64)
    }
}

impl From<u32> for OptionValue {
    fn from(v: u32) -> Self {
        OptionValue::Number(f64::from(v))
    }
}

impl From<&str> for OptionValue {
    fn from(v: &str) -> Self {
        OptionValue::Text(v.to_owned())
    }
}

impl From<String> for OptionValue {
    fn from(v: String) -> Self {
        OptionValue::Text(v)
    }
}

impl From<Vec<u8>> for OptionValue {
    fn from(v: Vec<u8>) -> Self {
        OptionValue::Bytes(v)
    }
}

/// A limiter's options, checked when set by name and again (all together)
/// when the limiter is built. Defaults are those of [`OPTIONS`].
///
/// ```
/// use ratewarden::{Limiter, LimiterOptions};
/// let mut o = LimiterOptions::default();
/// o.set("timeout_ms", 250u64).unwrap();
/// o.set("failureMode", "local").unwrap();
/// assert!(o.set("max_in_flight", 0u64).unwrap_err().is_invalid_argument());
/// assert!(o.set("no_such_option", 1u64).is_err());
/// let l = Limiter::builder("memory://").options(o).build().unwrap();
/// assert_eq!(l.timeout(), std::time::Duration::from_millis(250));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LimiterOptions {
    pub(crate) timeout: Duration,
    pub(crate) key_prefix: String,
    pub(crate) max_in_flight: usize,
    pub(crate) tls: TlsFiles,
    pub(crate) algorithm: Algorithm,
    pub(crate) failure_mode: FailureMode,
    pub(crate) local_share: f64,
    pub(crate) breaker_threshold: u64,
    pub(crate) breaker_open_for: Duration,
    pub(crate) deny_cache: usize,
}

impl Default for LimiterOptions {
    fn default() -> Self {
        LimiterOptions {
            timeout: DEFAULT_TIMEOUT,
            key_prefix: keys::DEFAULT_PREFIX.to_owned(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            tls: TlsFiles::default(),
            algorithm: Algorithm::SlidingWindowLog,
            failure_mode: FailureMode::Error,
            local_share: 1.0,
            breaker_threshold: 3,
            breaker_open_for: Duration::from_millis(500),
            deny_cache: 10_000,
        }
    }
}

fn bad(name: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid_argument(format!("option {name}: {why}"))
}

/// A finite number from a number or numeric text.
fn number(name: &str, v: &OptionValue) -> Result<f64> {
    let n = match v {
        OptionValue::Number(n) => *n,
        OptionValue::Text(t) => t
            .trim()
            .parse::<f64>()
            .map_err(|_| bad(name, format!("expected a number, got {t:?}")))?,
        OptionValue::Bytes(_) => return Err(bad(name, "expected a number, got bytes")),
    };
    if n.is_finite() {
        Ok(n)
    } else {
        Err(bad(name, format!("expected a finite number, got {n}")))
    }
}

fn integer(name: &str, v: &OptionValue, max: u64) -> Result<u64> {
    let n = number(name, v)?;
    if n.fract() != 0.0 || n < 0.0 || n > max as f64 {
        return Err(bad(name, format!("expected a whole number in 0..={max}, got {n}")));
    }
    Ok(n as u64)
}

fn text(name: &str, v: OptionValue) -> Result<String> {
    match v {
        OptionValue::Text(t) => Ok(t),
        OptionValue::Number(n) => Err(bad(name, format!("expected a string, got the number {n}"))),
        OptionValue::Bytes(_) => Err(bad(name, "expected a string, got bytes")),
    }
}

/// A duration from `n` units of `unit_ms` milliseconds (1 or 1000).
fn duration(name: &str, n: f64, unit_ms: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(n * unit_ms / 1000.0)
        .map_err(|_| bad(name, format!("expected a positive duration, got {n}")))
}

/// A duration a binding received as a number of `seconds` (Python) — or,
/// with [`duration_from_ms`], of milliseconds (JavaScript, C): negative,
/// NaN and infinite values are [`InvalidArgument`](crate::ErrorKind::InvalidArgument)
/// naming the argument.
///
/// ```
/// assert_eq!(ratewarden::duration_from_secs("window", 1.5).unwrap().as_millis(), 1500);
/// assert!(ratewarden::duration_from_secs("window", -1.0).unwrap_err().is_invalid_argument());
/// ```
pub fn duration_from_secs(name: &str, seconds: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        Error::invalid_argument(format!(
            "{name} must be a non-negative number of seconds, got {seconds}"
        ))
    })
}

/// See [`duration_from_secs`]; `ms` milliseconds.
pub fn duration_from_ms(name: &str, ms: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| {
        Error::invalid_argument(format!(
            "{name} must be a non-negative number of milliseconds, got {ms}"
        ))
    })
}

fn check_duration(name: &str, d: Duration) -> Result<()> {
    if d < Duration::from_millis(1) || d > Duration::from_secs(3600) {
        return Err(Error::invalid_argument(format!(
            "{name} must be between 1 ms and 1 h, got {d:?}"
        )));
    }
    Ok(())
}

impl LimiterOptions {
    /// Set the option called `name` in any language (see [`OPTIONS`]) from
    /// `value`, checking it now. Unknown names, values of the wrong kind
    /// and values out of range are [`InvalidArgument`](crate::ErrorKind::InvalidArgument).
    ///
    /// ```
    /// let mut o = ratewarden::LimiterOptions::default();
    /// o.set("timeout", 0.25).unwrap(); // Python's name: seconds
    /// o.set("breaker_open_for_ms", "100").unwrap(); // numbers as text (C, CLI)
    /// assert!(o.set("local_share", 1.5).is_err());
    /// ```
    pub fn set(&mut self, name: &str, value: impl Into<OptionValue>) -> Result<()> {
        let info = option_info(name).ok_or_else(|| unknown(Spelling::Rust, name))?;
        self.set_info(info, name, value.into())
    }

    /// [`set`](Self::set) by the option's name in `spelling` only (a
    /// binding's: `timeoutMs` from JavaScript); an unknown name's error lists
    /// the options in that spelling.
    ///
    /// ```
    /// use ratewarden::{LimiterOptions, Spelling};
    /// let mut o = LimiterOptions::default();
    /// o.set_as(Spelling::JavaScript, "maxInFlight", 8u64).unwrap();
    /// let e = o.set_as(Spelling::JavaScript, "timeout", 1u64).unwrap_err();
    /// assert!(e.to_string().contains("timeoutMs"));
    /// ```
    pub fn set_as(&mut self, spelling: Spelling, name: &str, value: impl Into<OptionValue>) -> Result<()> {
        let info = option_info_as(spelling, name).ok_or_else(|| unknown(spelling, name))?;
        self.set_info(info, name, value.into())
    }

    fn set_info(&mut self, info: &OptionInfo, name: &str, value: OptionValue) -> Result<()> {
        // The Python name of a duration counts seconds; the others milliseconds.
        let unit_ms = if name == info.python && info.python != info.name && info.name.ends_with("_ms") {
            1000.0
        } else {
            1.0
        };
        match info.name {
            "timeout_ms" => {
                let d = duration(name, number(name, &value)?, unit_ms)?;
                check_duration("timeout", d)?;
                self.timeout = d;
            }
            "breaker_open_for_ms" => {
                let d = duration(name, number(name, &value)?, unit_ms)?;
                check_duration("breaker_open_for", d)?;
                self.breaker_open_for = d;
            }
            "key_prefix" => {
                let p = text(name, value)?;
                keys::validate_prefix(&p)?;
                self.key_prefix = p;
            }
            "max_in_flight" => {
                let n = integer(name, &value, MAX_IN_FLIGHT as u64)? as usize;
                check_max_in_flight(n)?;
                self.max_in_flight = n;
            }
            "tls_root_cert_pem" | "tls_client_cert_pem" | "tls_client_key_pem" => {
                let pem = match value {
                    OptionValue::Bytes(b) => b,
                    OptionValue::Text(t) => t.into_bytes(),
                    OptionValue::Number(_) => return Err(bad(name, "expected PEM bytes or text")),
                };
                let slot = match name {
                    "tls_root_cert_pem" => &mut self.tls.root_cert,
                    "tls_client_cert_pem" => &mut self.tls.client_cert,
                    _ => &mut self.tls.client_key,
                };
                *slot = Some(pem);
            }
            "algorithm" => self.algorithm = text(name, value)?.parse()?,
            "failure_mode" => self.failure_mode = text(name, value)?.parse()?,
            "local_share" => {
                let share = number(name, &value)?;
                check_local_share(share)?;
                self.local_share = share;
            }
            "breaker_threshold" => {
                let n = integer(name, &value, 1000)?;
                check_breaker_threshold(n)?;
                self.breaker_threshold = n;
            }
            "deny_cache" => self.deny_cache = integer(name, &value, MAX_DENY_CACHE as u64)? as usize,
            other => return Err(Error::Internal(format!("option {other} has no parser"))),
        }
        Ok(())
    }

    /// Every range, checked together (the typed builder methods store
    /// without checking; [`LimiterBuilder::build`](crate::LimiterBuilder::build)
    /// calls this).
    pub fn validate(&self) -> Result<()> {
        check_duration("timeout", self.timeout)?;
        check_max_in_flight(self.max_in_flight)?;
        keys::validate_prefix(&self.key_prefix)?;
        check_local_share(self.local_share)?;
        check_breaker_threshold(self.breaker_threshold)?;
        check_duration("breaker_open_for", self.breaker_open_for)?;
        if self.deny_cache > MAX_DENY_CACHE {
            return Err(Error::invalid_argument(format!(
                "deny_cache must be at most {MAX_DENY_CACHE} entries"
            )));
        }
        Ok(())
    }
}

fn unknown(spelling: Spelling, name: &str) -> Error {
    let known: Vec<&str> = OPTIONS.iter().map(|o| o.name_in(spelling)).collect();
    Error::invalid_argument(format!("unknown option {name:?}; the options are {}", known.join(", ")))
}

fn check_max_in_flight(n: usize) -> Result<()> {
    if n == 0 || n > MAX_IN_FLIGHT {
        return Err(Error::invalid_argument(format!(
            "max_in_flight must be between 1 and {MAX_IN_FLIGHT}, got {n}"
        )));
    }
    Ok(())
}

fn check_local_share(share: f64) -> Result<()> {
    if !(share > 0.0 && share <= 1.0) {
        return Err(Error::invalid_argument(format!(
            "local_share must be in (0, 1], got {share}"
        )));
    }
    Ok(())
}

fn check_breaker_threshold(n: u64) -> Result<()> {
    if !(1..=1000).contains(&n) {
        return Err(Error::invalid_argument(format!(
            "breaker_threshold must be between 1 and 1000, got {n}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_has_a_parser_and_three_distinct_kinds_of_name() {
        for o in OPTIONS {
            let mut opts = LimiterOptions::default();
            let value = match o.kind {
                OptionKind::Text => OptionValue::Text(o.default.into()),
                OptionKind::Bytes => OptionValue::Bytes(b"pem".to_vec()),
                _ => OptionValue::Text(o.default.into()),
            };
            opts.set(o.name, value.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", o.name));
            opts.set(o.js, value).unwrap_or_else(|e| panic!("{}: {e}", o.js));
            assert!(!o.js.contains('_'), "{}", o.js);
        }
    }

    #[test]
    fn the_table_defaults_are_the_defaults() {
        let mut from_table = LimiterOptions::default();
        for o in OPTIONS.iter().filter(|o| !o.default.is_empty()) {
            from_table
                .set(o.name, o.default)
                .unwrap_or_else(|e| panic!("{}: {e}", o.name));
        }
        assert_eq!(from_table, LimiterOptions::default());
    }

    #[test]
    fn units_follow_the_name_used() {
        let mut o = LimiterOptions::default();
        o.set("timeout", 2.5).unwrap();
        assert_eq!(o.timeout, Duration::from_millis(2500));
        o.set("timeoutMs", 40u64).unwrap();
        assert_eq!(o.timeout, Duration::from_millis(40));
        o.set("breaker_open_for", 0.01).unwrap();
        assert_eq!(o.breaker_open_for, Duration::from_millis(10));
        for bad in [0.0, -1.0, f64::NAN, 3_600_001.0] {
            assert!(o.set("timeout_ms", bad).is_err(), "{bad}");
        }
        assert!(o.set("max_in_flight", 1.5).is_err());
        assert!(o.set("max_in_flight", "x").is_err());
        assert!(o.set("key_prefix", 3u64).is_err());
        assert!(o.set("algorithm", "leaky").is_err());
        assert_eq!(o.timeout, Duration::from_millis(40), "a failed set changes nothing");
    }
}
