//! Redis-specific behaviour: expiry, memory bounds, script cache loss,
//! restarts, kills, pauses, authentication and TLS, on real servers.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::{FaultProxy, Mode};
use common::RedisServer;
use ratewarden::{ErrorKind, Limiter, Quota};

fn limiter(server: &RedisServer, timeout_ms: u64) -> Limiter {
    Limiter::builder(&server.url())
        .timeout(Duration::from_millis(timeout_ms))
        .build()
        .unwrap()
}

/// Call until a decision succeeds, for at most `within`.
async fn until_ok(l: &Limiter, client: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        match l.is_allowed(client, "/recover", 1_000_000, 1_000_000).await {
            Ok(_) => return start.elapsed(),
            Err(e) => {
                assert!(e.is_retryable(), "unexpected error while recovering: {e}");
                assert!(start.elapsed() < within, "no recovery within {within:?}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_has_a_ttl_and_all_expire_after_traffic() {
    let server = RedisServer::start();
    let l = limiter(&server, 1000);
    for i in 0..20 {
        for _ in 0..3 {
            l.is_allowed(&format!("c{i}"), "/ttl", 10, 10).await.unwrap(); // W = 1 s
        }
        l.is_allowed(&format!("c{i}"), "/ttl-long", 6, 2).await.unwrap(); // W = 3 s
    }
    let mut c = server.conn();
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
    assert_eq!(keys.len(), 40);
    for k in &keys {
        let pttl: i64 = redis::cmd("PTTL").arg(k).query(&mut c).unwrap();
        let long = String::from_utf8_lossy(k).ends_with("ttl-long");
        let max = if long { 4000 } else { 2000 };
        assert!(
            pttl > 0 && pttl <= max,
            "{} has PTTL {pttl}",
            String::from_utf8_lossy(k)
        );
    }
    // Traffic stops: everything is gone once the longest window + 1 s passed.
    let start = Instant::now();
    loop {
        let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        if n == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(8), "{n} keys still alive");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        start.elapsed() >= Duration::from_millis(2500),
        "keys vanished before W + 1 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_per_second_key_stays_under_64_kib() {
    let server = RedisServer::start();
    let l = limiter(&server, 5000);
    let mut handles = Vec::new();
    let admitted = Arc::new(AtomicU64::new(0));
    for _ in 0..50 {
        let (l, admitted) = (l.clone(), admitted.clone());
        handles.push(tokio::spawn(async move {
            for _ in 0..1000 {
                if l.is_allowed("hot", "/big", 1_000_000, 1_000_000).await.unwrap() {
                    admitted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(
        admitted.load(Ordering::Relaxed),
        50_000,
        "50k of a 1M quota must all pass"
    );
    let key = l.redis_key("hot", "/big", Quota::new(1_000_000, 1_000_000)).unwrap();
    let mut c = server.conn();
    let bytes: u64 = redis::cmd("MEMORY").arg("USAGE").arg(&key).query(&mut c).unwrap();
    let entries: u64 = redis::cmd("ZCARD").arg(&key).query(&mut c).unwrap();
    let encoding: String = redis::cmd("OBJECT").arg("ENCODING").arg(&key).query(&mut c).unwrap();
    println!("capacity 1M after 50k requests: {bytes} bytes, {entries} entries, {encoding}");
    assert!(bytes < 64 * 1024, "{bytes} bytes");
    assert!(entries <= 125, "{entries} entries");
    assert_eq!(encoding, "listpack");
}

/// Foreign data at one client's key (a string that is no log, a hash, a
/// sorted set of other members) fails that client's decision with a server
/// error and nothing else: the other decisions sent in the same batches are
/// answered, on the exact log (capacity 10) and the bucketed one (1000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_data_at_a_key_fails_only_its_own_decision() {
    let server = RedisServer::start();
    let l = limiter(&server, 2000);
    let mut c = server.conn();
    for (cap, kind) in [
        (10, "string"),
        (10, "digits"),
        (10, "hash"),
        (1000, "zset"),
        (1000, "string"),
    ] {
        let q = Quota::new(cap, cap);
        let victim = format!("victim-{cap}-{kind}");
        let key = l.redis_key(&victim, "/iso", q).unwrap();
        let _: () = match kind {
            "string" => redis::cmd("SET").arg(&key).arg("not a log at all").query(&mut c),
            // Digits, but not a whole number of 16-digit entries.
            "digits" => redis::cmd("SET").arg(&key).arg("12345").query(&mut c),
            "hash" => redis::cmd("HSET").arg(&key).arg("f").arg("v").query(&mut c),
            _ => redis::cmd("ZADD").arg(&key).arg(1).arg("garbage").query(&mut c),
        }
        .unwrap();
        for round in 0..3 {
            let tasks: Vec<_> = (0..64)
                .map(|i| {
                    let l = l.clone();
                    let client = if i == 17 {
                        victim.clone()
                    } else {
                        format!("ok-{cap}-{kind}-{i}")
                    };
                    tokio::spawn(async move { l.check(&client, "/iso", q, 1).await })
                })
                .collect();
            for (i, t) in tasks.into_iter().enumerate() {
                let r = t.await.unwrap();
                if i == 17 {
                    let e = r.expect_err("a decision on foreign data");
                    assert_eq!(e.kind(), ErrorKind::Server, "{cap} {kind}: {e}");
                } else {
                    let d = r.unwrap_or_else(|e| panic!("{cap} {kind} round {round}: decision {i} failed: {e}"));
                    assert!(d.allowed, "{cap} {kind}: {d:?}");
                }
            }
        }
    }
}

/// A connection that breaks after the script was sent (reset instead of the
/// reply) is an error that says the outcome is unknown — and the script did
/// run: its key is on Redis. A reply that never comes is a timeout saying
/// the same. Each failing call returns within its deadline, and the same
/// limiter recovers once the path is healthy again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_lost_after_sending_says_the_outcome_is_unknown() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(&server.addr());
    let deadline = Duration::from_millis(500);
    let l = Limiter::builder(&proxy.url()).timeout(deadline).build().unwrap();
    let q = Quota::new(10, 10);
    l.check("warm", "/p", q, 1).await.unwrap();
    let mut c = server.conn();
    for (mode, client) in [(Mode::ResetOnReply, "reset"), (Mode::DropReplies, "dropped")] {
        proxy.set(mode);
        let start = Instant::now();
        let e = l.check(client, "/p", q, 1).await.expect_err("no reply");
        assert!(
            start.elapsed() < deadline + Duration::from_millis(250),
            "{mode:?}: {:?}",
            start.elapsed()
        );
        assert!(e.outcome_unknown() && e.is_retryable(), "{mode:?}: {e}");
        match mode {
            Mode::ResetOnReply => assert_eq!(e.kind(), ErrorKind::Connection, "{e}"),
            _ => assert_eq!(e.kind(), ErrorKind::Timeout, "{e}"),
        }
        let key = l.redis_key(client, "/p", q).unwrap();
        let ran: bool = redis::cmd("EXISTS").arg(&key).query(&mut c).unwrap();
        assert!(ran, "{mode:?}: the script ran although its reply was lost");
        proxy.set(Mode::Pass);
        until_ok(&l, "after", Duration::from_secs(5)).await;
    }
    // Refused before anything was sent: retryable, outcome known.
    let closed = Limiter::builder(&format!("redis://127.0.0.1:{}", free_port()))
        .timeout(deadline)
        .build()
        .unwrap();
    let e = closed.check("x", "/p", q, 1).await.expect_err("nothing listens");
    assert!(e.is_retryable() && !e.outcome_unknown(), "{e}");
}

/// One failed batch is one outage for the circuit breaker, however many
/// decisions it carried: 12 decisions whose replies are lost (at most 4
/// batches: one alone, then up to 4 drivers) leave a breaker of threshold 5
/// closed, and the next call goes to Redis again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_batch_does_not_open_the_circuit() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(&server.addr());
    let l = Limiter::builder(&proxy.url())
        .timeout(Duration::from_millis(300))
        .breaker_threshold(5)
        .breaker_open_for(Duration::from_secs(30))
        .build()
        .unwrap();
    let q = Quota::new(10, 10);
    l.check("warm", "/b", q, 1).await.unwrap();
    proxy.set(Mode::DropReplies);
    let calls: Vec<_> = (0..12)
        .map(|i| {
            let l = l.clone();
            tokio::spawn(async move { l.check(&format!("b{i}"), "/b", q, 1).await })
        })
        .collect();
    for c in calls {
        let e = c.await.unwrap().expect_err("replies are lost");
        assert!(e.is_timeout(), "{e}");
    }
    assert!(!l.stats().circuit_open, "one outage opened the circuit");
    proxy.set(Mode::Pass);
    let d = l
        .check("after", "/b", q, 1)
        .await
        .expect("the circuit is closed: Redis answers");
    assert!(d.allowed);
}

/// A limiter that starts while Redis is down (paused: every attempt waits
/// for its deadline) has no policies loaded:
/// `check_policy` answers by its failure mode (not an error after each
/// deadline), stops waiting once the circuit is open, and uses the real
/// policy once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_policy_before_any_policy_loaded_follows_the_failure_mode() {
    use ratewarden::{FailureMode, Policy};
    let server = RedisServer::start();
    let url = server.url();
    server.pause(); // connections are accepted, nothing is answered
    let deadline = Duration::from_millis(300);
    let make = |mode| {
        Limiter::builder(&url)
            .timeout(deadline)
            .failure_mode(mode)
            .breaker_threshold(2)
            .breaker_open_for(Duration::from_millis(400))
            .build()
            .unwrap()
    };
    let error = make(FailureMode::Error);
    let e = error.check_policy("c", "/p", 1).await.expect_err("no policy, no Redis");
    assert!(e.is_retryable(), "{e}");
    for (mode, allowed) in [
        (FailureMode::Allow, true),
        (FailureMode::Local, true),
        (FailureMode::Deny, false),
    ] {
        let l = make(mode);
        for i in 0..4 {
            let start = Instant::now();
            let d = l
                .check_policy("c", "/p", 1)
                .await
                .unwrap_or_else(|e| panic!("{mode}: {e}"));
            assert_eq!(d.allowed, allowed, "{mode} call {i}: {d:?}");
            assert_eq!(d.limit, 0, "{mode}: no quota known");
            if !allowed {
                assert!(d.retry_after > Duration::ZERO, "{d:?}");
            }
            if i >= 2 {
                assert!(
                    start.elapsed() < Duration::from_millis(100),
                    "{mode}: the open circuit still waited"
                );
            }
        }
        assert!(l.stats().fallbacks >= 4, "{mode}");
        assert!(l.stats().circuit_open, "{mode}: two outages open it");
    }
    let l = make(FailureMode::Deny);
    assert!(!l.check_policy("c", "/p", 1).await.unwrap().allowed);
    server.resume();
    Limiter::connect(&url)
        .await
        .unwrap()
        .set_policy("*", Policy::new(7, 7))
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        match l.check_policy("c", "/p", 1).await {
            Ok(d) if d.limit == 7 => break,
            _ if start.elapsed() > Duration::from_secs(5) => panic!("the policy is never used"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A server that accepts the connection and then answers nothing (black
/// hole after the handshake) must not stall reconnection: each connection
/// attempt is bounded by the deadline, so once the path is healthy the next
/// call connects and succeeds, although the first attempt's socket is still
/// open and silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_server_does_not_stall_reconnection() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(&server.addr());
    proxy.set(Mode::BlackHole);
    let deadline = Duration::from_millis(300);
    let l = Limiter::builder(&proxy.url()).timeout(deadline).build().unwrap();
    let q = Quota::new(10, 10);
    for _ in 0..2 {
        let start = Instant::now();
        let e = l.check("bh", "/p", q, 1).await.expect_err("nothing answers");
        assert!(e.is_timeout(), "{e}");
        assert!(
            start.elapsed() < deadline + Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
    }
    proxy.set(Mode::Pass);
    let took = until_ok(&l, "bh", Duration::from_secs(3)).await;
    assert!(took < Duration::from_secs(2), "reconnection stalled for {took:?}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_flush_mid_run_loses_no_decision() {
    let server = RedisServer::start();
    let l = limiter(&server, 2000);
    let stop = Instant::now() + Duration::from_millis(1500);
    let calls = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for i in 0..16 {
        let (l, calls) = (l.clone(), calls.clone());
        handles.push(tokio::spawn(async move {
            while Instant::now() < stop {
                l.is_allowed(&format!("f{i}"), "/flush", 1000, 1000)
                    .await
                    .expect("no failed decision");
                calls.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut c = server.conn();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    }
    for h in handles {
        h.await.unwrap();
    }
    assert!(calls.load(Ordering::Relaxed) > 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_redis_fails_within_deadline_and_the_same_limiter_recovers() {
    let mut server = RedisServer::start();
    let l = limiter(&server, 300);
    assert!(l.is_allowed("k", "/kill", 5, 5).await.unwrap());
    server.kill();
    for _ in 0..3 {
        let start = Instant::now();
        let err = l.is_allowed("k", "/kill", 5, 5).await.unwrap_err();
        let took = start.elapsed();
        assert!(
            matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout),
            "{err}"
        );
        assert!(took < Duration::from_millis(300 + 1000), "error after {took:?}");
    }
    server.restart();
    let took = until_ok(&l, "k", Duration::from_secs(5)).await;
    println!("recovered {took:?} after restart");
    // The restarted server is empty: state starts again, scripts reload.
    assert!(l.is_allowed("k", "/kill", 5, 5).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_under_load_recovers_without_panics() {
    let mut server = RedisServer::start();
    // Every call goes to Redis (refusals are not answered from the deny
    // cache), so calls made while the server is down see it.
    let l = Limiter::builder(&server.url())
        .timeout(Duration::from_millis(250))
        .deny_cache(0)
        .build()
        .unwrap();
    let stop = Instant::now() + Duration::from_secs(3);
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut handles = Vec::new();
    for i in 0..8 {
        let (l, ok, failed) = (l.clone(), ok.clone(), failed.clone());
        handles.push(tokio::spawn(async move {
            let mut last_ok = Instant::now();
            while Instant::now() < stop {
                match l.is_allowed(&format!("r{i}"), "/restart", 100, 100).await {
                    Ok(_) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        last_ok = Instant::now();
                    }
                    Err(e) => {
                        assert!(e.is_retryable(), "{e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            last_ok
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.restart();
    for h in handles {
        let last_ok = h.await.expect("no task may panic");
        assert!(last_ok.elapsed() < Duration::from_millis(500), "a task did not recover");
    }
    assert!(failed.load(Ordering::Relaxed) > 0, "the kill must have been noticed");
    assert!(ok.load(Ordering::Relaxed) > 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_redis_times_out_within_deadline_then_recovers() {
    let server = RedisServer::start();
    let l = limiter(&server, 300);
    assert!(l.is_allowed("p", "/pause", 5, 5).await.unwrap());
    server.pause();
    for _ in 0..3 {
        let start = Instant::now();
        let err = l.is_allowed("p", "/pause", 5, 5).await.unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_millis(1300),
            "{took:?}"
        );
    }
    server.resume();
    until_ok(&l, "p", Duration::from_secs(5)).await;
    // DEBUG SLEEP: the server is busy for longer than the deadline.
    let mut c = server.conn();
    let sleeper = std::thread::spawn(move || redis::cmd("DEBUG").arg("SLEEP").arg("1").query::<()>(&mut c));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = l.is_allowed("p", "/pause", 5, 5).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.outcome_unknown(), "the script was sent: outcome unknown");
    sleeper.join().unwrap().unwrap();
    until_ok(&l, "p", Duration::from_secs(5)).await;
}

/// With every in-flight slot taken (Redis paused), at most 4 ×
/// `max_in_flight` more calls wait for a slot; the rest fail at once, as a timeout that
/// sent nothing, instead of each holding memory until its deadline. The
/// waiting ones fail at their deadline, and after the pause the limiter
/// works again with all its slots (none leaked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_waiting_list_fail_at_once() {
    let server = RedisServer::start();
    let deadline = Duration::from_millis(600);
    let l = Limiter::builder(&server.url())
        .timeout(deadline)
        .max_in_flight(4)
        .build()
        .unwrap();
    let q = Quota::new(1_000_000, 1_000_000);
    l.check("warm", "/w", q, 1).await.unwrap();
    server.pause();
    let start = Instant::now();
    let calls: Vec<_> = (0..100)
        .map(|i| {
            let l = l.clone();
            tokio::spawn(async move {
                let r = l.check(&format!("w{i}"), "/w", q, 1).await;
                (r, start.elapsed())
            })
        })
        .collect();
    let (mut at_once, mut at_deadline) = (0, 0);
    for c in calls {
        let (r, took) = c.await.unwrap();
        let e = r.expect_err("Redis is paused");
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(took < deadline + Duration::from_millis(300), "{took:?}: {e}");
        if took < deadline / 3 {
            assert!(!e.outcome_unknown() && e.to_string().contains("already waiting"), "{e}");
            at_once += 1;
        } else {
            at_deadline += 1;
        }
    }
    // 4 in flight + 16 waiting answer at their deadline (no slot frees
    // before it), 80 at once.
    assert_eq!((at_once, at_deadline), (80, 20));
    server.resume();
    until_ok(&l, "w", Duration::from_secs(5)).await;
    // A burst that fits in the slots and the waiting list is served whole.
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let l = l.clone();
            tokio::spawn(async move { l.check(&format!("after{i}"), "/w", q, 1).await })
        })
        .collect();
    for c in calls {
        assert!(c.await.unwrap().expect("all slots are back").allowed);
    }
}

/// A connection the server closed while it sat idle (Redis `timeout`, a
/// load balancer's idle timeout, `CLIENT KILL`) is not an error for the
/// next call: nothing of that call was sent, so it is sent again on a fresh
/// connection, within the same deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_closed_by_the_server_is_not_an_error() {
    let server = RedisServer::start_with(&["--timeout", "1"]);
    let l = limiter(&server, 1_000);
    let q = Quota::new(1_000, 1_000);
    for round in 0..3 {
        l.check("idle", "/i", q, 1)
            .await
            .unwrap_or_else(|e| panic!("round {round}, after the server closed the idle connection: {e}"));
        tokio::time::sleep(Duration::from_millis(2_200)).await;
    }
    // The same after CLIENT KILL of every client (an operator, a proxy).
    let mut c = server.conn();
    for round in 0..3 {
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .query(&mut c)
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        l.check("killed", "/i", q, 1)
            .await
            .unwrap_or_else(|e| panic!("round {round}, after CLIENT KILL: {e}"));
        c = server.conn();
    }
    assert_eq!(l.stats().errors, 0);
}

/// Every call returns within its deadline + 150 ms, whatever the fault and
/// whatever path it takes: queued behind busy drivers, waiting for an
/// in-flight slot, connecting, sent. Calls arrive staggered over 600 ms
/// (so deadlines differ within a batch and the queue), through the async
/// and the blocking API, under each fault the proxy makes and a paused
/// server; with few slots, so that every path is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_returns_within_its_deadline_under_every_fault() {
    const EPSILON: Duration = Duration::from_millis(150);
    let server = RedisServer::start();
    let proxy = FaultProxy::start(&server.addr());
    let deadline = Duration::from_millis(400);
    for fault in ["DropReplies", "ResetOnReply", "BlackHole", "AfterHandshake", "paused"] {
        // No circuit breaker in the way: every call takes its path.
        let l = Limiter::builder(&proxy.url())
            .timeout(deadline)
            .max_in_flight(6)
            .breaker_threshold(1000)
            .build()
            .unwrap();
        let b = ratewarden::blocking::Limiter::builder(&proxy.url())
            .timeout(deadline)
            .max_in_flight(6)
            .breaker_threshold(1000)
            .build()
            .unwrap();
        l.check("warm", "/d", Quota::new(10, 10), 1).await.unwrap();
        b.check("warm", "/d", Quota::new(10, 10), 1).unwrap();
        match fault {
            "DropReplies" => proxy.set(Mode::DropReplies),
            "ResetOnReply" => proxy.set(Mode::ResetOnReply),
            "BlackHole" => {
                proxy.set(Mode::BlackHole);
                proxy.reset_all(); // reconnect into the black hole
            }
            "AfterHandshake" => {
                proxy.set(Mode::AfterHandshake);
                proxy.reset_all();
            }
            _ => server.pause(),
        }
        let mut calls = Vec::new();
        for i in 0..60u64 {
            let (l, b) = (l.clone(), b.clone());
            calls.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i * 10)).await;
                let start = Instant::now();
                let r = if i % 3 == 0 {
                    tokio::task::spawn_blocking(move || b.check(&format!("d{i}"), "/d", Quota::new(10, 10), 1))
                        .await
                        .unwrap()
                } else {
                    l.check(&format!("d{i}"), "/d", Quota::new(10, 10), 1).await
                };
                (r, start.elapsed())
            }));
        }
        let mut worst = Duration::ZERO;
        for c in calls {
            let (r, took) = c.await.unwrap();
            let e = r.expect_err(fault);
            assert!(e.is_retryable(), "{fault}: {e}");
            assert!(took <= deadline + EPSILON, "{fault}: {took:?}: {e}");
            worst = worst.max(took);
        }
        eprintln!("{fault}: slowest answer {worst:?} (deadline {deadline:?})");
        proxy.set(Mode::Pass);
        server.resume();
        proxy.reset_all();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_and_password_in_the_url() {
    let server = RedisServer::start();
    let mut c = server.conn();
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "warden", "on", ">s3cret", "~*", "+@all"])
        .query(&mut c)
        .unwrap();
    let good = Limiter::connect(&format!("redis://warden:s3cret@127.0.0.1:{}", server.port))
        .await
        .unwrap();
    assert!(good.is_allowed("u", "/auth", 1, 1).await.unwrap());
    let bad = Limiter::connect(&format!("redis://warden:wrong@127.0.0.1:{}", server.port))
        .await
        .unwrap();
    let err = bad.is_allowed("u", "/auth", 1, 1).await.unwrap_err();
    assert!(!err.is_invalid_argument());
    assert!(
        err.to_string().to_lowercase().contains("auth") || err.to_string().contains("WRONGPASS"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_tls_connection() {
    let server = common::TlsRedisServer::start();
    let l = Limiter::connect(&format!("rediss://127.0.0.1:{}/#insecure", server.port))
        .await
        .unwrap();
    assert!(l.is_allowed("tls", "/t", 2, 2).await.unwrap());
    assert!(l.is_allowed("tls", "/t", 2, 2).await.unwrap());
    assert!(!l.is_allowed("tls", "/t", 2, 2).await.unwrap());
    // Verified against the server's own CA: same state.
    let verified = Limiter::builder(&format!("rediss://127.0.0.1:{}", server.port))
        .tls_root_cert_pem(server.ca_pem())
        .build()
        .unwrap();
    assert!(!verified.is_allowed("tls", "/t", 2, 2).await.unwrap());
    assert!(verified.is_allowed("tls", "/other", 2, 2).await.unwrap());
    // The system trust store does not know this CA: refused, not hung.
    let untrusted = Limiter::builder(&format!("rediss://127.0.0.1:{}", server.port))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert!(untrusted.is_allowed("tls", "/t", 2, 2).await.is_err());
    // Plain TCP to the TLS port must fail within the deadline, not hang.
    let plain = Limiter::builder(&format!("redis://127.0.0.1:{}", server.port))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let start = Instant::now();
    assert!(plain.is_allowed("tls", "/t", 2, 2).await.is_err());
    assert!(start.elapsed() < Duration::from_millis(1300));
}

/// A limiter used before fork() keeps working in the child once the child
/// called `after_fork_in_child` (what the Python binding does on its own).
#[test]
fn limiter_used_before_fork_works_in_the_child() {
    let server = RedisServer::start();
    let l = ratewarden::blocking::Limiter::connect(&server.url()).unwrap();
    assert!(l.is_allowed("fork", "/f", 3, 1).unwrap());
    // SAFETY: the child only calls into ratewarden and then _exit()s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        ratewarden::runtime::after_fork_in_child();
        let code = match l.is_allowed("fork", "/f", 3, 1) {
            Ok(true) => 0,
            Ok(false) => 2,
            Err(_) => 3,
        };
        // SAFETY: leave the child without running the test harness's atexit.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child did not exit normally");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "child could not decide (2 = denied, 3 = error)"
    );
    // The parent still works, and the child's admission counted: 1 left.
    let d = l.check("fork", "/f", ratewarden::Quota::new(3, 1), 1).unwrap();
    assert!(d.allowed && d.remaining == 0, "{d:?}");
}

#[test]
fn failure_modes_while_redis_is_down_and_after_it_returns() {
    use ratewarden::{blocking, FailureMode};
    let mut server = RedisServer::start();
    let q = Quota::new(3, 1);
    let make = |mode| {
        blocking::Limiter::builder(&server.url())
            .timeout(Duration::from_millis(200))
            .failure_mode(mode)
            .local_share(0.5)
            .breaker_threshold(2)
            .breaker_open_for(Duration::from_millis(300))
            .build()
            .unwrap()
    };
    let (error, allow, deny, local) = (
        make(FailureMode::Error),
        make(FailureMode::Allow),
        make(FailureMode::Deny),
        make(FailureMode::Local),
    );
    for (i, l) in [&error, &allow, &deny, &local].into_iter().enumerate() {
        assert!(l.check(&format!("fm{i}"), "/up", q, 1).unwrap().allowed);
    }
    server.kill();
    // error: the error, each within the deadline.
    for _ in 0..2 {
        let t = Instant::now();
        let e = error.check("fm", "/down", q, 1).unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(t.elapsed() < Duration::from_millis(700), "{:?}", t.elapsed());
    }
    // The circuit is open now: calls fail at once, without waiting.
    assert!(error.stats().circuit_open);
    let t = Instant::now();
    assert!(error.check("fm", "/down", q, 1).is_err());
    assert!(
        t.elapsed() < Duration::from_millis(50),
        "open circuit still waited {:?}",
        t.elapsed()
    );
    // allow: admits everything; deny: refuses with a retry_after.
    for _ in 0..5 {
        assert!(allow.check("fm", "/down", q, 1).unwrap().allowed);
        let d = deny.check("fm", "/down", q, 1).unwrap();
        assert!(!d.allowed && d.retry_after > Duration::ZERO, "{d:?}");
    }
    // local: an in-process limiter with half the quota (capacity 3 -> 1).
    let admitted = (0..5)
        .filter(|_| local.check("fm", "/down", q, 1).unwrap().allowed)
        .count();
    assert_eq!(admitted, 1);
    for l in [&allow, &deny, &local] {
        let s = l.stats();
        assert!(s.fallbacks >= 5, "{s:?}");
    }
    assert!(error.stats().errors >= 3 && error.stats().fallbacks == 0);
    // Redis returns: after the open period a probe succeeds and every limiter
    // decides on Redis again (the state written before the outage is there).
    server.restart();
    std::thread::sleep(Duration::from_millis(400));
    for (i, l) in [&error, &allow, &deny, &local].into_iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let d = loop {
            match l.check(&format!("fm{i}"), "/up", q, 1) {
                Ok(d) if !l.stats().circuit_open => break d,
                _ => {
                    assert!(Instant::now() < deadline, "no recovery");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        // Redis restarted empty (no persistence): a fresh window of 3.
        assert_eq!((d.limit, d.remaining), (3, 2), "a Redis decision again: {d:?}");
    }
}

#[test]
fn deny_cache_answers_refusals_locally_and_lets_go_on_time() {
    use ratewarden::blocking;
    let server = RedisServer::start();
    let cached = blocking::Limiter::connect(&server.url()).unwrap();
    let uncached = blocking::Limiter::builder(&server.url()).deny_cache(0).build().unwrap();
    let q = Quota::new(2, 10); // W = 200 ms
    let calls = |c: &mut redis::Connection| -> u64 {
        let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("total_commands_processed:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let mut c = server.conn();
    for l in [&cached, &uncached] {
        let client = if std::ptr::eq(l, &cached) {
            "abuser-a"
        } else {
            "abuser-b"
        };
        assert!(l.check(client, "/x", q, 1).unwrap().allowed);
        assert!(l.check(client, "/x", q, 1).unwrap().allowed);
        let first = l.check(client, "/x", q, 1).unwrap();
        assert!(!first.allowed);
        let before = calls(&mut c);
        for _ in 0..200 {
            assert!(!l.check(client, "/x", q, 1).unwrap().allowed);
        }
        let used = calls(&mut c) - before - 1; // minus this INFO
        if std::ptr::eq(l, &cached) {
            assert!(used <= 2, "{used} Redis commands for 200 cached refusals");
            assert!(l.stats().cache_hits >= 200);
        } else {
            assert!(used >= 200, "without the cache every refusal asks Redis ({used})");
        }
        // After retry_after, Redis is asked again and admits.
        std::thread::sleep(first.retry_after + Duration::from_millis(5));
        assert!(l.check(client, "/x", q, 1).unwrap().allowed);
    }
    // A smaller cost is not answered from the cache.
    let q3 = Quota::new(3, 1);
    assert!(cached.check("abuser-c", "/z", q3, 2).unwrap().allowed);
    assert!(!cached.check("abuser-c", "/z", q3, 2).unwrap().allowed); // cached: cost 2
    assert!(cached.check("abuser-c", "/z", q3, 1).unwrap().allowed); // cost 1 fits: asks Redis
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_pause_opens_the_circuit_then_a_probe_closes_it() {
    let server = RedisServer::start();
    let l = limiter(&server, 200);
    assert!(l.is_allowed("cp", "/pause", 5, 5).await.unwrap());
    let _: () = redis::cmd("CLIENT")
        .arg(&["PAUSE", "1500", "ALL"])
        .query(&mut server.conn())
        .unwrap();
    // Three calls wait for their deadline each (and no longer)...
    for _ in 0..3 {
        let start = Instant::now();
        let err = l.is_allowed("cp", "/pause", 5, 5).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(start.elapsed() < Duration::from_millis(700), "{:?}", start.elapsed());
    }
    // ...then the circuit is open: calls fail at once.
    assert!(l.stats().circuit_open);
    let start = Instant::now();
    for _ in 0..50 {
        let err = l.is_allowed("cp", "/pause", 5, 5).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    }
    assert!(start.elapsed() < Duration::from_millis(100), "{:?}", start.elapsed());
    // Once the pause ends, a probe gets through and the circuit closes.
    until_ok(&l, "cp", Duration::from_secs(5)).await;
    assert!(!l.stats().circuit_open);
    assert!(l.stats().errors >= 53);
}
