//! Live policies as JavaScript objects.

use napi_derive::napi;

/// A stored policy: its quota and, optionally, its algorithm.
#[napi(object)]
pub struct PolicySpec {
    /// Burst size (of the first quota).
    pub capacity: f64,
    /// Sustained rate per second (of the first quota; may be fractional).
    pub rate_per_second: f64,
    /// The period of the first quota in milliseconds.
    pub period_ms: f64,
    /// Every quota, in the notation ("5/minute;100/hour").
    pub quota: String,
    /// The algorithm, or undefined for the deciding limiter's.
    pub algorithm: Option<String>,
}

impl From<&ratewarden::Policy> for PolicySpec {
    fn from(p: &ratewarden::Policy) -> Self {
        PolicySpec {
            capacity: p.first().capacity() as f64,
            rate_per_second: p.first().rate_per_second(),
            period_ms: p.first().period().as_secs_f64() * 1000.0,
            quota: p.quotas.to_string(),
            algorithm: p.algorithm.map(|a| a.as_str().to_owned()),
        }
    }
}
