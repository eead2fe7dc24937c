//! Live policies as JavaScript objects.

use napi_derive::napi;

/// A stored policy: its quota and, optionally, its algorithm.
#[napi(object)]
pub struct PolicySpec {
    /// Burst size.
    pub capacity: f64,
    /// Sustained rate per second.
    pub rate_per_second: f64,
    /// The algorithm, or undefined for the deciding limiter's.
    pub algorithm: Option<String>,
}

impl From<&ratewarden::Policy> for PolicySpec {
    fn from(p: &ratewarden::Policy) -> Self {
        PolicySpec {
            capacity: p.capacity as f64,
            rate_per_second: p.rate_per_second as f64,
            algorithm: p.algorithm.map(|a| a.as_str().to_owned()),
        }
    }
}
