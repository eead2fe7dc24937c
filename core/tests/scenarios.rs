//! The shared scenario list, run against `memory://` and a real `redis-server`.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::RedisServer;
use ratewarden::{ErrorKind, Limiter, Quota};

enum Target {
    Memory(String),
    Redis(RedisServer),
}

impl Target {
    fn memory(test: &str) -> Self {
        Target::Memory(format!("memory://scenario-{test}"))
    }
    fn redis() -> Self {
        Target::Redis(RedisServer::start())
    }
    fn url(&self) -> String {
        match self {
            Target::Memory(u) => u.clone(),
            Target::Redis(s) => s.url(),
        }
    }
    fn server(&self) -> Option<&RedisServer> {
        match self {
            Target::Memory(_) => None,
            Target::Redis(s) => Some(s),
        }
    }
    fn limiter(&self) -> Limiter {
        Limiter::builder(&self.url()).build().expect("limiter")
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$name(&super::Target::memory(stringify!($name))).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                super::$name(&super::Target::redis()).await
            }
        }
    )*};
}

on_both!(
    exact_first_burst_across_eight_instances,
    sustained_load_never_exceeds_the_rule,
    window_boundary_and_retry_after,
    window_longer_than_a_second,
    cost_is_all_or_nothing,
    ids_cannot_collide_or_inject,
    bad_input_is_rejected_before_any_io,
    blocking_api_from_many_threads,
    policies_decide_and_changes_apply_to_existing_keys,
);

/// Hammer one key from `instances` limiters × `tasks` tasks, `calls` each.
async fn burst(t: &Target, client: &str, quota: Quota, instances: usize, tasks: usize, calls: usize) -> u64 {
    let limiters: Vec<Limiter> = (0..instances).map(|_| t.limiter()).collect();
    let admitted = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for l in &limiters {
        for _ in 0..tasks {
            let l = l.clone();
            let admitted = admitted.clone();
            let client = client.to_owned();
            handles.push(tokio::spawn(async move {
                for _ in 0..calls {
                    if l.check(&client, "/burst", quota, 1).await.expect("decision").allowed {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    for h in handles {
        h.await.expect("task");
    }
    admitted.load(Ordering::Relaxed)
}

async fn exact_first_burst_across_eight_instances(t: &Target) {
    // A 100 s window: no refill can happen during the burst, so exactly 100.
    assert_eq!(burst(t, "burst-long", Quota::new(100, 1), 8, 16, 5).await, 100);
    // capacity == rate: at most 100 in any second; the burst takes far less.
    let start = Instant::now();
    let n = burst(t, "burst-second", Quota::new(100, 100), 8, 16, 5).await;
    let elapsed = start.elapsed();
    if elapsed < Duration::from_millis(900) {
        assert_eq!(n, 100, "burst took {elapsed:?}");
    } else {
        assert!(
            n <= 100 + (100.0 * elapsed.as_secs_f64()).ceil() as u64,
            "{n} in {elapsed:?}"
        );
    }
}

async fn sustained_load_never_exceeds_the_rule(t: &Target) {
    let quota = Quota::new(100, 100); // at most 100 in any sliding second
    let limiters: Vec<Limiter> = (0..8).map(|_| t.limiter()).collect();
    let admitted = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let run_for = Duration::from_secs(3);
    let mut handles = Vec::new();
    for l in &limiters {
        for _ in 0..4 {
            let (l, admitted) = (l.clone(), admitted.clone());
            handles.push(tokio::spawn(async move {
                while start.elapsed() < run_for {
                    if l.check("sustained", "/s", quota, 1).await.expect("decision").allowed {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }));
        }
    }
    // On Redis, snapshot the log every 100 ms: every admission stays in it
    // for a whole second, so the union of snapshots holds them all, with the
    // server's own timestamps.
    let mut seen: BTreeMap<u64, u64> = BTreeMap::new(); // server us -> admissions
    if let Some(server) = t.server() {
        let key = limiters[0].redis_key("sustained", "/s", quota).expect("redis key");
        let mut c = server.conn();
        while start.elapsed() < run_for + Duration::from_millis(200) {
            // The exact log: 16-digit server microseconds, one per admission.
            let log: Option<String> = redis::cmd("GET").arg(&key).query(&mut c).expect("get");
            let log = log.unwrap_or_default();
            assert_eq!(log.len() % 16, 0, "log format");
            let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
            for at in log.as_bytes().chunks(16) {
                let at: u64 = std::str::from_utf8(at).expect("ascii").parse().expect("timestamp");
                *counts.entry(at).or_default() += 1;
            }
            for (at, n) in counts {
                let e = seen.entry(at).or_default();
                *e = (*e).max(n);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for h in handles {
        h.await.expect("task");
    }
    let elapsed = start.elapsed();
    let n = admitted.load(Ordering::Relaxed);
    // The contract's bound for any interval T: capacity + rate * T.
    assert!(
        n as f64 <= 100.0 + 100.0 * elapsed.as_secs_f64(),
        "{n} admitted in {elapsed:?}"
    );
    assert!(
        n >= 250,
        "only {n} admitted in {elapsed:?}: the limiter is refusing too much"
    );
    if t.server().is_some() {
        assert_eq!(
            seen.values().sum::<u64>(),
            n,
            "snapshots must account for every admission"
        );
        // Sliding check on server timestamps: no window (t - 1 s, t] holds > 100.
        let times: Vec<(u64, u64)> = seen.into_iter().collect();
        let mut lo = 0;
        let mut in_window = 0;
        for hi in 0..times.len() {
            in_window += times[hi].1;
            while times[lo].0 + 1_000_000 <= times[hi].0 {
                in_window -= times[lo].1;
                lo += 1;
            }
            assert!(
                in_window <= 100,
                "{in_window} admissions in the second ending at {}",
                times[hi].0
            );
        }
    }
}

async fn window_boundary_and_retry_after(t: &Target) {
    let l = t.limiter();
    let q = Quota::new(5, 5); // W = 1 s
    for i in 0..5 {
        let d = l.check("edge", "/e", q, 1).await.unwrap();
        assert!(d.allowed, "request {i}");
        assert_eq!(d.remaining, 4 - i);
        assert_eq!(d.limit, 5);
        assert_eq!(d.retry_after, Duration::ZERO);
    }
    let d = l.check("edge", "/e", q, 1).await.unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    assert!(
        d.retry_after > Duration::ZERO && d.retry_after <= Duration::from_secs(1),
        "{d:?}"
    );
    assert!(
        d.reset_after >= d.retry_after && d.reset_after <= Duration::from_secs(1),
        "{d:?}"
    );
    // Waiting exactly retry_after (plus a hair for scheduling) frees one slot.
    tokio::time::sleep(d.retry_after + Duration::from_millis(5)).await;
    assert!(l.check("edge", "/e", q, 1).await.unwrap().allowed);
    let d = l.check("edge", "/e", q, 1).await.unwrap();
    // Freed one, took one: refused again unless more entries left meanwhile.
    if !d.allowed {
        assert!(d.retry_after <= Duration::from_secs(1));
    }
}

async fn window_longer_than_a_second(t: &Target) {
    let l = t.limiter();
    let q = Quota::new(4, 2); // W = 2 s
    for _ in 0..4 {
        assert!(l.is_allowed("long", "/l", 4, 2).await.unwrap());
    }
    let d = l.check("long", "/l", q, 1).await.unwrap();
    assert!(!d.allowed);
    assert!(
        d.retry_after > Duration::from_millis(1500) && d.retry_after <= Duration::from_secs(2),
        "{d:?}"
    );
    if let Some(server) = t.server() {
        let key = l.redis_key("long", "/l", q).unwrap();
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut server.conn()).unwrap();
        assert!(pttl > 0 && pttl <= 3000, "PTTL {pttl} must be within W + 1 s");
    }
}

async fn cost_is_all_or_nothing(t: &Target) {
    let l = t.limiter();
    let q = Quota::new(10, 1);
    let d = l.check("cost", "/c", q, 4).await.unwrap();
    assert!(d.allowed && d.remaining == 6);
    assert_eq!(l.check("cost", "/c", q, 4).await.unwrap().remaining, 2);
    let d = l.check("cost", "/c", q, 3).await.unwrap();
    assert!(!d.allowed && d.remaining == 2, "{d:?}");
    // Needs the first 4-unit request to leave: about 10 s away.
    assert!(d.retry_after > Duration::from_secs(9), "{d:?}");
    let d = l.check("cost", "/c", q, 2).await.unwrap();
    assert!(d.allowed && d.remaining == 0);
    assert!(!l.check("cost", "/c", q, 1).await.unwrap().allowed);
}

async fn ids_cannot_collide_or_inject(t: &Target) {
    let l = t.limiter();
    let pairs = [
        ("a:b", "c"),
        ("a", "b:c"),
        ("}{x", "y"),
        ("{x}", "y"),
        ("x", "{y}"),
        ("line\nbreak", "/\r\n"),
        ("клиент", "/конечная-точка"),
        ("emoji🚦", "/🚦"),
        ("1:a", "b"),
        ("1", "a:b"),
    ];
    for (c, e) in pairs {
        assert!(
            l.is_allowed(c, e, 1, 1).await.unwrap(),
            "{c:?} + {e:?} must have its own state"
        );
    }
    for (c, e) in pairs {
        assert!(!l.is_allowed(c, e, 1, 1).await.unwrap(), "{c:?} + {e:?} second call");
    }
    if let Some(server) = t.server() {
        let mut conn = server.conn();
        let n: u64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
        assert_eq!(n, pairs.len() as u64);
        for (c, e) in pairs {
            let exists: u64 = redis::cmd("EXISTS")
                .arg(l.redis_key(c, e, Quota::new(1, 1)).unwrap())
                .query(&mut conn)
                .unwrap();
            assert_eq!(exists, 1);
        }
    }
}

async fn bad_input_is_rejected_before_any_io(t: &Target) {
    let l = t.limiter();
    let long = "x".repeat(513);
    let q = Quota::new(10, 10);
    let cases: Vec<(&str, &str, Quota, u64)> = vec![
        ("", "/e", q, 1),
        ("c", "", q, 1),
        (&long, "/e", q, 1),
        ("c", &long, q, 1),
        ("c", "/e", Quota::new(0, 10), 1),
        ("c", "/e", Quota::new(10, 0), 1),
        ("c", "/e", Quota::new(u64::MAX, 10), 1),
        ("c", "/e", Quota::new(10, u64::MAX), 1),
        ("c", "/e", q, 0),
        ("c", "/e", q, 11),
    ];
    for (c, e, q, cost) in cases {
        let err = l.check(c, e, q, cost).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    assert!(l.is_allowed(&"x".repeat(512), &"y".repeat(512), 1, 1).await.unwrap());
    if let Some(server) = t.server() {
        let n: u64 = redis::cmd("DBSIZE").query(&mut server.conn()).unwrap();
        assert_eq!(n, 1, "only the one valid call may touch Redis");
    }
}

async fn blocking_api_from_many_threads(t: &Target) {
    let url = t.url();
    let l = ratewarden::blocking::Limiter::connect(&url).unwrap();
    let admitted = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (l, admitted) = (l.clone(), admitted.clone());
            std::thread::spawn(move || {
                for _ in 0..20 {
                    if l.is_allowed("threads", "/t", 100, 1).unwrap() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    assert_eq!(admitted.load(Ordering::Relaxed), 100);
    // From this test's own (foreign) runtime, via spawn_blocking: works.
    let l2 = l.clone();
    let d = tokio::task::spawn_blocking(move || l2.check("threads", "/t", Quota::new(100, 1), 1))
        .await
        .unwrap()
        .unwrap();
    assert!(!d.allowed);
    // Directly on a worker of this (foreign) runtime: works, blocking it.
    assert!(!l.is_allowed("threads", "/t", 100, 1).unwrap());
    // On a worker of ratewarden's own runtime it must refuse, not deadlock
    // (a key the deny cache has not seen: it would need Redis).
    let l3 = l.clone();
    let r = ratewarden::runtime::handle()
        .spawn(async move { l3.is_allowed("threads-fresh", "/t", 100, 1) })
        .await
        .unwrap();
    match t {
        Target::Memory(_) => assert!(r.unwrap(), "memory needs no runtime and answers anywhere"),
        Target::Redis(_) => assert_eq!(r.unwrap_err().kind(), ErrorKind::Usage),
    }
}

/// memory:// and Redis take the same decisions for the same sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_and_redis_agree_on_a_sequence() {
    let server = RedisServer::start();
    let mem = Limiter::connect("memory://differential").await.unwrap();
    let red = Limiter::connect(&server.url()).await.unwrap();
    let q = Quota::new(50, 1); // W = 50 s: nothing leaves during the test
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in 0..400 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let cost = 1 + seed % 7;
        let a = mem.check("diff", "/d", q, cost).await.unwrap();
        let b = red.check("diff", "/d", q, cost).await.unwrap();
        assert_eq!(
            (a.allowed, a.remaining),
            (b.allowed, b.remaining),
            "call {i}, cost {cost}"
        );
    }
}

async fn policies_decide_and_changes_apply_to_existing_keys(t: &Target) {
    use ratewarden::{Algorithm, Policy};
    let admin = t.limiter();
    let e = admin.check_policy("p", "/users", 1).await.unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    admin.set_policy("/users", Policy::new(2, 1)).await.unwrap();
    admin
        .set_policy("*", Policy::new(1, 1).algorithm(Algorithm::FixedWindow))
        .await
        .unwrap();
    // A fresh instance loads the policies on first use.
    let l = t.limiter();
    assert!(l.check_policy("p", "/users", 1).await.unwrap().allowed);
    assert!(l.check_policy("p", "/users", 1).await.unwrap().allowed);
    assert!(!l.check_policy("p", "/users", 1).await.unwrap().allowed);
    // Endpoints without a policy use "*", with its algorithm.
    assert!(l.check_policy("p", "/other", 1).await.unwrap().allowed);
    assert!(!l.check_policy("p", "/other", 1).await.unwrap().allowed);
    assert_eq!(
        l.resolved_policy("/other").await.unwrap().algorithm,
        Some(Algorithm::FixedWindow)
    );
    // Raise the limit: the same key, with 2 admissions in its window, now
    // has room for 3 more, on the other instance too (within the refresh).
    admin.set_policy("/users", Policy::new(5, 1)).await.unwrap();
    let start = Instant::now();
    while l.resolved_policy("/users").await.unwrap().first().capacity() != 5 {
        assert!(start.elapsed() < Duration::from_secs(2), "the change did not arrive");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let d = l.check_policy("p", "/users", 1).await.unwrap();
    assert!(d.allowed && d.limit == 5 && d.remaining == 2, "{d:?}");
    let all = admin.policies().await.unwrap();
    assert_eq!(all.len(), 2);
    admin.delete_policy("*").await.unwrap();
    assert_eq!(admin.policies().await.unwrap().len(), 1);
    assert!(admin.set_policy("", Policy::new(1, 1)).await.is_err());
    assert!(admin.set_policy("/x", Policy::new(0, 1)).await.is_err());
}
