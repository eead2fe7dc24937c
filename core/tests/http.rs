//! `check_http` against a real Redis: the verdict's headers count down
//! across two limiters (two processes' worth), several quotas are
//! all-or-nothing, the deny cache answers repeated refusals, and a stopped
//! Redis gives a verdict that says the failure mode decided — no counts.

mod common;

use std::time::{Duration, Instant};

use common::RedisServer;
use ratewarden::http::{ClientIp, Rule};
use ratewarden::{blocking::Limiter, FailureMode};

#[test]
fn verdicts_on_redis_count_down_across_limiters_and_say_so_on_fallback() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let build = |mode: FailureMode| {
        Limiter::builder(&url)
            .timeout(Duration::from_millis(300))
            .failure_mode(mode)
            .breaker_open_for(Duration::from_millis(100))
            .build()
            .unwrap()
    };
    let (a, b) = (build(FailureMode::Allow), build(FailureMode::Deny));
    let rule = Rule::new("3/minute", "draft-11").unwrap();
    let key = ClientIp::default().key("203.0.113.9", None);
    let mut seen = Vec::new();
    for i in 0..4 {
        let l = if i % 2 == 0 { &a } else { &b };
        let v = l.check_http(&key, "/login", &rule, 1).unwrap();
        assert_eq!(v.headers[0], ("RateLimit-Policy", r#""3/minute";q=3;w=60"#.to_string()));
        assert_eq!(v.fallback, None);
        seen.push((v.status, v.headers[1].1.clone()));
    }
    let state = |r| format!(r#""3/minute";r={r};t=60"#);
    assert_eq!(
        seen,
        [(200, state(2)), (200, state(1)), (200, state(0)), (429, state(0))]
    );
    // a repeated refusal comes from the deny cache, the same verdict
    let again = b.check_http(&key, "/login", &rule, 1).unwrap();
    assert_eq!((again.status, again.headers.len()), (429, 3));
    assert!(b.stats().cache_hits >= 1, "{:?}", b.stats());

    // several quotas: refused by one, nothing spent on the other
    let multi = Rule::new("1/second;10/minute", "draft-11").unwrap();
    assert!(a.check_http(&key, "/multi", &multi, 1).unwrap().allowed);
    let v = a.check_http(&key, "/multi", &multi, 1).unwrap();
    assert_eq!(v.status, 429);
    assert_eq!(v.decisions[1].remaining, 9);

    redis.kill();
    let start = Instant::now();
    let allowed = a.check_http(&key, "/down", &rule, 1).unwrap();
    let denied = b.check_http(&key, "/down", &rule, 1).unwrap();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!((allowed.status, allowed.fallback), (200, Some(FailureMode::Allow)));
    assert_eq!(allowed.headers.len(), 1, "only the policy: {:?}", allowed.headers);
    assert_eq!((denied.status, denied.fallback), (503, Some(FailureMode::Deny)));
    assert_eq!(
        denied.headers.iter().map(|h| h.0).collect::<Vec<_>>(),
        ["RateLimit-Policy", "Retry-After"]
    );
    let erring = build(FailureMode::Error);
    assert!(erring.check_http(&key, "/down", &rule, 1).is_err());

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = a.check_http(&key, "/back", &rule, 1).unwrap();
        if v.fallback.is_none() {
            assert_eq!(v.headers[1].1, state(2));
            break;
        }
        assert!(Instant::now() < deadline, "did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
}
