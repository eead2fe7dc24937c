//! Every algorithm, replayed on random arrival schedules at exact server
//! times (the hidden `__check_all_at` test hook), on Redis and on memory://:
//!
//! * both backends give the same answer to every request (same admission,
//!   remaining, retry_after and reset_after);
//! * the admitted requests keep the algorithm's promise on every prefix:
//!   at most `capacity + rate × T` in any interval of length T (the sliding
//!   log: at most `capacity` in any trailing window; the fixed window: at
//!   most `capacity` per aligned window);
//! * a refused request retried exactly `retry_after` later (with nothing
//!   admitted in between) is admitted.
//!
//! Schedules mix bursts (many requests in the same microsecond), gaps that
//! land just before, on and just after window edges, long idle gaps, and
//! costs above 1. Multi-limit checks are replayed the same way, and checked
//! to be all or nothing.

mod common;

use common::RedisServer;
use ratewarden::blocking::Limiter;
use ratewarden::{Algorithm, Limit, Quota};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const T0: u64 = 1_700_000_000_000_000;

fn window_us(q: Quota) -> u64 {
    q.period().as_micros() as u64
}

/// The gap before the next request.
fn gap(rng: &mut Rng, w: u64) -> u64 {
    match rng.below(10) {
        0..=2 => 0,                       // same microsecond
        3..=4 => rng.below(50),           // burst
        5 => w.saturating_sub(1),         // just before a window edge
        6 => w,                           // on it
        7 => w + 1,                       // just after
        8 => rng.below(w.max(1)),         // anywhere in a window
        _ => rng.below(3 * w.max(1)) + 1, // idle
    }
}

/// The promise, checked on every pair of admitted requests.
fn check_bound(alg: Algorithm, q: Quota, admitted: &[(u64, u64)]) {
    let w = window_us(q);
    for j in 0..admitted.len() {
        let mut sum = 0u128;
        for i in (0..=j).rev() {
            sum += u128::from(admitted[i].1);
            let t = u128::from(admitted[j].0 - admitted[i].0);
            let cap = u128::from(q.capacity());
            let ok = match alg {
                // At most `capacity` in any trailing window (t - W, t].
                Algorithm::SlidingWindowLog => t >= u128::from(w) || sum <= cap,
                // At most `capacity` per aligned window; an interval of
                // length T meets at most ceil(T / W) + 1 of them.
                Algorithm::FixedWindow => {
                    let windows = u128::from(admitted[j].0 / w - admitted[i].0 / w) + 1;
                    sum <= cap * windows
                }
                // capacity + capacity * T / period.
                _ => sum * u128::from(w) <= cap * u128::from(w) + cap * t,
            };
            assert!(
                ok,
                "{alg}: {sum} units admitted between {} and {} (T = {t} us) breaks the promise of {q:?}",
                admitted[i].0, admitted[j].0
            );
        }
    }
}

fn replay(redis: &Limiter, memory: &Limiter, alg: Algorithm, q: Quota, seed: u64, steps: usize) {
    let mut rng = Rng(seed);
    let w = window_us(q);
    let client = format!("prop-{alg}-{q}-{seed}");
    let mut t = T0 + rng.below(w.max(1));
    let mut admitted: Vec<(u64, u64)> = Vec::new();
    let mut retry: Option<(u64, u64)> = None; // (time, cost) a refusal promised
    for step in 0..steps {
        let promised = retry.take().filter(|_| rng.below(3) == 0);
        let (at, cost) = match promised {
            Some(r) => r,
            None => {
                t += gap(&mut rng, w);
                let cost = if rng.below(4) == 0 {
                    1 + rng.below(q.capacity().min(4))
                } else {
                    1
                };
                (t, cost)
            }
        };
        t = t.max(at);
        let limit = [Limit::new("/p", q).cost(cost).algorithm(alg)];
        let a = redis.__check_all_at(at, &client, &limit).expect("redis decision");
        let b = memory.__check_all_at(at, &client, &limit).expect("memory decision");
        assert_eq!(
            a, b,
            "{alg} {q:?} step {step} at {at} cost {cost}: Redis and memory:// disagree"
        );
        let d = a.decisions[0];
        if promised.is_some() {
            assert!(
                d.allowed,
                "{alg} {q:?} step {step}: refused at the promised retry time {at}: {d:?}"
            );
        }
        if d.allowed {
            admitted.push((at, cost));
        } else {
            let wait = d.retry_after.as_micros() as u64;
            assert!(wait > 0, "{alg}: a refusal must say when to retry: {d:?}");
            retry = Some((at + wait, cost));
        }
    }
    check_bound(alg, q, &admitted);
    assert!(!admitted.is_empty());
}

fn pair(server: &RedisServer, name: &str) -> (Limiter, Limiter) {
    (
        Limiter::connect(&server.url()).expect("redis limiter"),
        Limiter::connect(&format!("memory://{name}")).expect("memory limiter"),
    )
}

/// The decision at `at` on both backends, which must be the same.
fn agreed(
    redis: &Limiter,
    memory: &Limiter,
    at: u64,
    client: &str,
    limits: &[Limit<'_>],
    what: &str,
) -> ratewarden::MultiDecision {
    let a = redis.__check_all_at(at, client, limits).unwrap();
    let b = memory.__check_all_at(at, client, limits).unwrap();
    assert_eq!(a, b, "{what}: Redis and memory:// disagree");
    a
}

#[test]
fn every_algorithm_matches_memory_and_keeps_its_promise() {
    let server = RedisServer::start();
    let (redis, memory) = pair(&server, "prop-single");
    let quotas = [
        Quota::new(1, 1),
        Quota::new(3, 3),
        Quota::new(10, 2),
        Quota::new(7, 1000),
        Quota::new(127, 50),
        Quota::new(1000, 400),
    ];
    for alg in Algorithm::ALL {
        for (i, q) in quotas.into_iter().enumerate() {
            replay(&redis, &memory, alg, q, 0x9e37_79b9 + i as u64, 400);
        }
    }
}

/// A server clock that steps back (a failover to a replica whose clock is
/// behind, an NTP step) never admits more: 5 admissions 10 us after a window
/// edge, then calls 10 us before it — and in between — are refused, by every
/// algorithm, with the same answers on Redis and memory://; the stored
/// window keeps counting until it has passed.
#[test]
fn a_clock_stepping_back_admits_no_more() {
    let server = RedisServer::start();
    let (redis, memory) = pair(&server, "clock-back");
    let q = Quota::new(5, 5); // 5 per second
    let w = window_us(q);
    let edge = (T0 / w + 10) * w;
    for alg in Algorithm::ALL {
        let client = format!("back-{alg}");
        let limit = [Limit::new("/b", q).algorithm(alg)];
        let at = |t: u64| agreed(&redis, &memory, t, &client, &limit, &format!("{alg} at {t}")).decisions[0];
        for i in 0..5 {
            let d = at(edge + 10);
            assert!(d.allowed, "{alg}: admission {i} {d:?}");
        }
        for t in [edge - 10, edge - 1, edge, edge + 5, edge + 10] {
            let d = at(t);
            assert!(!d.allowed, "{alg}: admitted at {t} after 5 at {}: {d:?}", edge + 10);
            assert!(d.retry_after > std::time::Duration::ZERO, "{alg}: {d:?}");
        }
        // Once the counted admissions are a window old, admissions resume.
        let d = at(edge + 2 * w + 10);
        assert!(d.allowed, "{alg}: still refused two windows later: {d:?}");
    }
}

/// A quota changed on a live key (a policy edit) — smaller, larger, at the
/// same microsecond and just after — gives the same answers on Redis and
/// memory:// and never panics (debug builds check every subtraction).
#[test]
fn quota_changes_on_a_live_key_match_memory() {
    let server = RedisServer::start();
    let (redis, memory) = pair(&server, "quota-change");
    let t = (T0 / 1_000_000 + 20) * 1_000_000 + 123;
    let quotas = [
        Quota::new(10, 10),
        Quota::new(3, 3),
        Quota::new(1, 1),
        Quota::new(10, 1),
        Quota::new(3, 30),
    ];
    for alg in Algorithm::ALL {
        let client = format!("change-{alg}");
        let mut step = 0;
        for (i, q) in quotas.iter().chain(quotas.iter().rev()).enumerate() {
            for (dt, cost) in [(0, 1), (0, 2), (1, 1), (0, 1)] {
                let at = t + (i as u64 / 2) * 10 + dt; // two quotas per microsecond
                let cost = cost.min(q.capacity());
                let limit = [Limit::new("/c", *q).cost(cost).algorithm(alg)];
                agreed(
                    &redis,
                    &memory,
                    at,
                    &client,
                    &limit,
                    &format!("{alg} step {step}: {q:?} cost {cost} at {at}"),
                );
                step += 1;
            }
        }
    }
}

/// Periods from a millisecond to a year, in the notation, with capacities
/// that do not divide them (fractional emission intervals), and the longest
/// period at the largest capacity.
#[test]
fn periods_from_milliseconds_to_a_year_match_memory() {
    let server = RedisServer::start();
    let (redis, memory) = pair(&server, "prop-periods");
    let quotas = [
        "3/1ms",
        "7/13ms",
        "5/minute",
        "7/15 minutes",
        "100/hour",
        "130/hour",
        "1000/day",
        "999999937/day",
        "11/365 days",
    ];
    for alg in Algorithm::ALL {
        for (i, text) in quotas.into_iter().enumerate() {
            let q: Quota = text.parse().unwrap();
            replay(&redis, &memory, alg, q, 0x5eed + i as u64, 200);
        }
    }
}

/// Several quotas on one endpoint and algorithm ("10/second;100/minute"):
/// separate state per quota, all or nothing, the same on both backends, and
/// every quota's promise kept over the admitted requests.
#[test]
fn multi_quota_strings_match_memory_and_keep_every_promise() {
    let server = RedisServer::start();
    let (redis, memory) = pair(&server, "prop-multi-quota");
    for alg in Algorithm::ALL {
        for text in ["3/second;10/minute", "5/100ms;20/second;50/minute"] {
            let quotas = ratewarden::Quotas::parse(text).unwrap();
            let limits: Vec<Limit<'_>> = quotas
                .as_slice()
                .iter()
                .map(|q| Limit::new("/mq", *q).algorithm(alg))
                .collect();
            let client = format!("mq-{alg}-{text}");
            let mut rng = Rng(7);
            let mut t = T0;
            let mut admitted = Vec::new();
            for step in 0..500 {
                t += match rng.below(5) {
                    0 => 0,
                    1 => rng.below(1000),
                    2 => rng.below(100_000),
                    3 => rng.below(1_000_000),
                    _ => rng.below(20_000_000),
                };
                let a = redis.__check_all_at(t, &client, &limits).unwrap();
                let b = memory.__check_all_at(t, &client, &limits).unwrap();
                assert_eq!(a, b, "{alg} {text} step {step} at {t}");
                if a.allowed {
                    admitted.push((t, 1));
                }
            }
            for q in quotas.as_slice() {
                check_bound(alg, *q, &admitted);
            }
            assert!(!admitted.is_empty());
        }
    }
}

#[test]
fn retry_after_is_honoured_exactly() {
    let server = RedisServer::start();
    let (redis, memory) = pair(&server, "prop-retry");
    for alg in Algorithm::ALL {
        for l in [&redis, &memory] {
            let q = Quota::new(4, 3);
            let client = format!("retry-{alg}");
            let lim = [Limit::new("/r", q).algorithm(alg).cost(2)];
            let mut t = T0;
            // Fill, then get refused.
            let refused = loop {
                let d = l.__check_all_at(t, &client, &lim).unwrap();
                if !d.allowed {
                    break d.decisions[0];
                }
                t += 1;
            };
            let wait = refused.retry_after.as_micros() as u64;
            assert!(
                !l.__check_all_at(t + wait - 1, &client, &lim).unwrap().allowed,
                "{alg}: 1 us early"
            );
            assert!(
                l.__check_all_at(t + wait, &client, &lim).unwrap().allowed,
                "{alg}: on time"
            );
        }
    }
}

#[test]
fn multi_limit_checks_are_all_or_nothing_on_both_backends() {
    let server = RedisServer::start();
    let (redis, memory) = pair(&server, "prop-multi");
    let mut rng = Rng(42);
    let limits = [
        Limit::new("/search", Quota::new(5, 5)),
        Limit::new("*", Quota::new(8, 2)).algorithm(Algorithm::Gcra),
        Limit::new("*", Quota::new(20, 20)).algorithm(Algorithm::FixedWindow),
    ];
    let mut t = T0;
    let mut admitted: Vec<(u64, u64)> = Vec::new();
    for step in 0..600 {
        t += match rng.below(4) {
            0 => 0,
            1 => rng.below(1000),
            2 => rng.below(300_000),
            _ => rng.below(2_000_000),
        };
        let a = redis.__check_all_at(t, "multi", &limits).unwrap();
        let b = memory.__check_all_at(t, "multi", &limits).unwrap();
        assert_eq!(a, b, "step {step} at {t}");
        assert_eq!(a.allowed, a.decisions.iter().all(|d| d.allowed));
        if a.allowed {
            admitted.push((t, 1));
        }
    }
    // Admitted requests were counted in every limit: each limit's promise
    // holds over the same sequence.
    check_bound(Algorithm::SlidingWindowLog, Quota::new(5, 5), &admitted);
    check_bound(Algorithm::Gcra, Quota::new(8, 2), &admitted);
    check_bound(Algorithm::FixedWindow, Quota::new(20, 20), &admitted);
    // And nothing was counted for a refused check: replaying the admitted
    // sequence alone gives the same admissions.
    let fresh = Limiter::connect("memory://prop-multi-replay").unwrap();
    for &(at, _) in &admitted {
        assert!(fresh.__check_all_at(at, "multi", &limits).unwrap().allowed);
    }
}

#[test]
fn multi_limit_under_concurrency_spends_nothing_on_refusal() {
    // 8 threads race on a client limited to 10 per endpoint and 12 overall
    // across two endpoints: exactly 12 pass in total, and each endpoint's
    // own count shows no unit spent by a refused check.
    let server = RedisServer::start();
    let l = Limiter::connect(&server.url()).unwrap();
    let passed = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for i in 0..8 {
            let (l, passed) = (&l, &passed);
            s.spawn(move || {
                let endpoint = if i % 2 == 0 { "/a" } else { "/b" };
                let limits = [
                    Limit::new(endpoint, Quota::new(10, 1)),
                    Limit::new("*", Quota::new(12, 1)),
                ];
                for _ in 0..20 {
                    if l.check_all("racer", &limits).unwrap().allowed {
                        passed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(passed.load(std::sync::atomic::Ordering::Relaxed), 12);
    let a = l.check("racer", "/a", Quota::new(10, 1), 1).unwrap();
    let b = l.check("racer", "/b", Quota::new(10, 1), 1).unwrap();
    // a + b counted 12 (plus these two probes, if admitted).
    let used = (10 - a.remaining - u64::from(a.allowed)) + (10 - b.remaining - u64::from(b.allowed));
    assert_eq!(used, 12, "{a:?} {b:?}");
}

#[test]
fn no_decision_is_lost_while_drivers_come_and_go() {
    // Sequential callers on many threads keep the batch queue hovering
    // around empty, so drivers start and leave all the time; a job queued
    // just as the last driver leaves must still be sent (a lost one would
    // surface as a timeout: nothing else here can be slow).
    let server = RedisServer::start();
    let l = ratewarden::blocking::Limiter::builder(&server.url())
        .timeout(std::time::Duration::from_millis(500))
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for i in 0..12 {
            let l = &l;
            s.spawn(move || {
                let mut rng = Rng(i + 1);
                for n in 0..1500 {
                    l.check(&format!("churn-{i}"), "/c", Quota::new(1_000_000, 1_000_000), 1)
                        .unwrap_or_else(|e| panic!("thread {i} call {n}: {e}"));
                    if rng.below(8) == 0 {
                        std::thread::sleep(std::time::Duration::from_micros(rng.below(300)));
                    }
                }
            });
        }
    });
}
