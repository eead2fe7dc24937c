//! What web middleware needs, once for every language: the client key of a
//! request ([`ClientIp`]), a route's [`Rule`] and the [`Verdict`] a request
//! gets under it (status, IETF `RateLimit` headers, body), so that the
//! Python, Node and C front doors answer with the same bytes.
//!
//! ```
//! use ratewarden::{blocking::Limiter, http::{ClientIp, Rule}};
//! let limiter = Limiter::connect("memory://doc-http").unwrap();
//! let rule = Rule::new("2/minute", "draft-11").unwrap();
//! let key = ClientIp::default().key("203.0.113.7", None);
//! for _ in 0..2 {
//!     assert_eq!(limiter.check_http(&key, "/login", &rule, 1).unwrap().status, 200);
//! }
//! let v = limiter.check_http(&key, "/login", &rule, 1).unwrap();
//! assert_eq!(v.status, 429);
//! assert_eq!(v.headers[1], ("RateLimit", r#""2/minute";r=0;t=60"#.to_string()));
//! ```

mod client;
mod rule;

pub use client::{ClientIp, ProxyHeader};
pub use rule::{Rule, Verdict};

use crate::algorithm::spec::Op;
use crate::algorithm::{Outcome, Spec};
use crate::error::Result;
use crate::limiter::decide::{Answer, Prepared};
use crate::limiter::limits::MultiDecision;
use crate::limiter::Limiter;
use crate::resilience::FailureMode;

/// Every quota's decision, and whether the failure mode gave them.
pub(crate) struct Checked {
    multi: MultiDecision,
    fallback: Option<FailureMode>,
}

impl Answer for Checked {
    fn from_outcomes(outcomes: &[Outcome], specs: &[Spec]) -> Result<Self> {
        Ok(Checked {
            multi: MultiDecision::from_outcomes(outcomes, specs)?,
            fallback: None,
        })
    }

    fn fell_back(mut self, mode: FailureMode) -> Self {
        self.fallback = Some(mode);
        self
    }
}

impl Checked {
    fn verdict(&self, rule: &Rule) -> Verdict {
        rule.verdict(self.multi.allowed, &self.multi.decisions, self.fallback)
    }
}

impl Limiter {
    fn prepare_http(&self, client_id: &str, scope: &str, rule: &Rule, cost: u64) -> Result<Prepared<Checked>> {
        self.prepare_quotas(client_id, scope, rule.quotas(), cost, self.algorithm(), Op::Check)
    }

    /// Decide an HTTP request of `client_id` (a key, e.g. from
    /// [`ClientIp::key`]) on `scope` (the route, or `"*"` for the whole
    /// app) under `rule`, counting `cost` units, and render the answer.
    ///
    /// Under the `allow`, `deny` and `local` failure modes an unreachable
    /// Redis gives a verdict that says so ([`Verdict::fallback`]); under
    /// `error` it is an error, as for [`check`](Self::check).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use ratewarden::{http::Rule, Limiter};
    /// let limiter = Limiter::connect("memory://doc-check-http").await.unwrap();
    /// let rule = Rule::new("5/minute", "draft-11").unwrap();
    /// let v = limiter.check_http("203.0.113.7", "/login", &rule, 1).await.unwrap();
    /// assert_eq!(v.headers[0], ("RateLimit-Policy", r#""5/minute";q=5;w=60"#.to_string()));
    /// # }
    /// ```
    pub async fn check_http(&self, client_id: &str, scope: &str, rule: &Rule, cost: u64) -> Result<Verdict> {
        let checked = self.prepare_http(client_id, scope, rule, cost)?.run().await?;
        Ok(checked.verdict(rule))
    }

    /// [`check_http`](Self::check_http) with a callback (called on the core
    /// runtime, or at once when the answer needs no I/O).
    ///
    /// ```
    /// use ratewarden::{http::Rule, Limiter};
    /// let limiter = Limiter::builder("memory://doc-http-callback").build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let rule = Rule::new("1/second", "draft-11").unwrap();
    /// limiter.check_http_callback("k", "*", &rule, 1, move |v| tx.send(v).unwrap());
    /// assert!(rx.recv().unwrap().unwrap().allowed);
    /// ```
    pub fn check_http_callback(
        &self,
        client_id: &str,
        scope: &str,
        rule: &Rule,
        cost: u64,
        done: impl FnOnce(Result<Verdict>) + Send + 'static,
    ) {
        match self.prepare_http(client_id, scope, rule, cost) {
            Ok(p) => {
                let rule = rule.clone();
                p.run_then(move |r| done(r.map(|c| c.verdict(&rule))))
            }
            Err(e) => done(Err(e)),
        }
    }
}

impl crate::blocking::Limiter {
    /// See [`crate::Limiter::check_http`].
    ///
    /// ```
    /// use ratewarden::{blocking::Limiter, http::Rule};
    /// let l = Limiter::connect("memory://doc-b-http").unwrap();
    /// let rule = Rule::new("1/minute", "none").unwrap();
    /// assert!(l.check_http("k", "*", &rule, 1).unwrap().allowed);
    /// assert_eq!(l.check_http("k", "*", &rule, 1).unwrap().body.unwrap(), r#"{"error":"rate_limited","retry_after":60}"#);
    /// ```
    pub fn check_http(&self, client_id: &str, scope: &str, rule: &Rule, cost: u64) -> Result<Verdict> {
        let checked = self.finish(self.as_async().prepare_http(client_id, scope, rule, cost)?)?;
        Ok(checked.verdict(rule))
    }
}
