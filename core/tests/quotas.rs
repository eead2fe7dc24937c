//! Quotas over any period and the operations on them — peek, refund, block,
//! reset — on every backend (memory://, one Redis, Cluster, Sentinel) and
//! every algorithm, against real servers.
//!
//! * `"5/minute"`: 5 admitted, the 6th refused with `retry_after` ≈ 60 s
//!   minus the time spent, `limit` 5; the same quota as numbers uses the
//!   same key and gets the same answers.
//! * peek never changes state; refund after an admission gives exactly one
//!   more; block refuses until its end and then admits; reset gives the full
//!   quota back and leaves no key.
//! * every key written by block or refund carries a TTL; bad input writes
//!   nothing; ordinary decisions run no command beyond the script's own.

mod common;

use std::time::{Duration, Instant};

use common::{RedisCluster, RedisServer, SentinelSetup};
use ratewarden::blocking::Limiter;
use ratewarden::{Algorithm, Quota};

/// Every key of one Redis with its TTL in milliseconds.
fn keys_with_ttl(server: &RedisServer) -> Vec<(String, i64)> {
    let mut c = server.conn();
    let keys: Vec<String> = redis::cmd("KEYS").arg("ratewarden:*").query(&mut c).unwrap();
    keys.into_iter()
        .map(|k| {
            let ttl: i64 = redis::cmd("PTTL").arg(&k).query(&mut c).unwrap();
            (k, ttl)
        })
        .collect()
}

fn limiter(url: &str, alg: Algorithm) -> Limiter {
    Limiter::builder(url)
        .algorithm(alg)
        .timeout(Duration::from_secs(2))
        .deny_cache(0)
        .build()
        .unwrap()
}

/// Wait until at least 3 s remain before the next whole minute of the wall
/// clock (the servers' clock here): the fixed window and the counter align
/// their windows to it, and one round of `exercise` must not straddle an edge.
fn away_from_minute_edge() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = Duration::from_micros((now.as_micros() % 60_000_000) as u64);
    if into > Duration::from_secs(57) {
        std::thread::sleep(Duration::from_secs(60) - into + Duration::from_millis(50));
    }
}

/// The operations' promises on one backend, for every algorithm.
fn exercise(url: &str, tag: &str) {
    for alg in Algorithm::ALL {
        away_from_minute_edge();
        let l = limiter(url, alg);
        let client = format!("ops-{tag}-{alg}");

        // "5/minute": 5 admitted, the 6th refused for ~60 s, limit 5.
        let start = Instant::now();
        for i in 0..5 {
            let d = l.check(&client, "/login", "5/minute", 1).unwrap();
            assert!(d.allowed && d.limit == 5, "{tag} {alg} #{i}: {d:?}");
            assert_eq!(d.remaining, 4 - i, "{tag} {alg}");
        }
        let d = l.check(&client, "/login", "5/minute", 1).unwrap();
        let spent = start.elapsed();
        assert!(!d.allowed && d.limit == 5 && d.remaining == 0, "{tag} {alg}: {d:?}");
        if alg == Algorithm::FixedWindow {
            // Until the end of the aligned minute.
            assert!(d.retry_after <= Duration::from_secs(60), "{tag} {alg}: {d:?}");
        } else if alg == Algorithm::SlidingWindowCounter {
            assert!(d.retry_after > Duration::ZERO && d.retry_after <= Duration::from_secs(120));
        } else {
            // Log: the first entry leaves after 60 s; buckets: one token
            // comes back after 60/5 s = 12 s.
            let full = if matches!(alg, Algorithm::TokenBucket | Algorithm::Gcra) {
                12
            } else {
                60
            };
            let want = Duration::from_secs(full);
            assert!(
                d.retry_after <= want && d.retry_after + spent + Duration::from_millis(50) >= want,
                "{tag} {alg}: retry_after {:?} after {spent:?}",
                d.retry_after
            );
        }
        // The same quota as numbers: the same state.
        let same = l
            .check(&client, "/login", Quota::per(5, Duration::from_secs(60)), 1)
            .unwrap();
        assert!(!same.allowed && same.limit == 5, "{tag} {alg}: {same:?}");
        assert_eq!(
            l.redis_key(&client, "/login", "5/minute"),
            l.redis_key(&client, "/login", Quota::per_minute(5))
        );

        // peek counts nothing: 1,000 peeks, then exactly capacity admitted.
        let q = "4/hour";
        for _ in 0..1000 {
            let p = l.peek(&client, "/peek", q).unwrap();
            assert!(p.allowed && p.remaining == 3, "{tag} {alg}: {p:?}");
        }
        let admitted = (0..10)
            .filter(|_| l.check(&client, "/peek", q, 1).unwrap().allowed)
            .count();
        assert_eq!(admitted, 4, "{tag} {alg}");
        let p = l.peek(&client, "/peek", q).unwrap();
        assert!(!p.allowed && p.retry_after > Duration::ZERO, "{tag} {alg}: {p:?}");

        // refund after an admission: exactly one more admission.
        let q = "3/day";
        for _ in 0..3 {
            assert!(l.check(&client, "/refund", q, 1).unwrap().allowed);
        }
        assert!(!l.check(&client, "/refund", q, 1).unwrap().allowed);
        let r = l.refund(&client, "/refund", q, 1).unwrap();
        assert!(r.allowed, "{tag} {alg}: after refund {r:?}");
        assert!(l.check(&client, "/refund", q, 1).unwrap().allowed, "{tag} {alg}");
        assert!(
            !l.check(&client, "/refund", q, 1).unwrap().allowed,
            "{tag} {alg}: only one more"
        );
        // Never below empty: a big refund of a fresh key leaves a full quota.
        l.refund(&client, "/refund-fresh", q, 3).unwrap();
        let admitted = (0..5)
            .filter(|_| l.check(&client, "/refund-fresh", q, 1).unwrap().allowed)
            .count();
        assert_eq!(admitted, 3, "{tag} {alg}");

        // block refuses until the duration passes, then admits.
        let q = "100/second";
        let b = l.block(&client, "/block", q, Duration::from_millis(400)).unwrap();
        assert!(
            !b.allowed && b.retry_after == Duration::from_millis(400),
            "{tag} {alg}: {b:?}"
        );
        let d = l.check(&client, "/block", q, 1).unwrap();
        assert!(
            !d.allowed && d.retry_after <= Duration::from_millis(400),
            "{tag} {alg}: {d:?}"
        );
        assert!(!l.peek(&client, "/block", q).unwrap().allowed);
        std::thread::sleep(d.retry_after + Duration::from_millis(20));
        let d = l.check(&client, "/block", q, 1).unwrap();
        assert!(d.allowed && d.remaining == 99, "{tag} {alg}: after the block {d:?}");

        // reset: the full quota back, on every quota and algorithm of the pair.
        for _ in 0..5 {
            l.check(&client, "/login", "5/minute;20/hour", 1).unwrap();
        }
        let other = if alg == Algorithm::Gcra {
            Algorithm::FixedWindow
        } else {
            Algorithm::Gcra
        };
        l.check_with(&client, "/login", "2/minute", 2, other).unwrap();
        assert!(!l.check(&client, "/login", "5/minute;20/hour", 1).unwrap().allowed);
        l.reset(&client, "/login").unwrap();
        let d = l.check(&client, "/login", "5/minute;20/hour", 1).unwrap();
        assert!(d.allowed && d.remaining == 4, "{tag} {alg}: after reset {d:?}");
        assert!(l.check_with(&client, "/login", "2/minute", 2, other).unwrap().allowed);
    }
}

/// The bucketed log (capacity above the exact range) under every
/// operation: counts, refunds of part of a bucket and of several, block,
/// the same on every backend.
fn exercise_bucketed_log(url: &str, tag: &str) {
    let l = limiter(url, Algorithm::SlidingWindowLog);
    let c = format!("swlb-{tag}");
    let q = "300/hour";
    for left in [200, 100, 0] {
        let d = l.check(&c, "/b", q, 100).unwrap();
        assert!(d.allowed && d.remaining == left, "{tag}: {d:?}");
    }
    let d = l.check(&c, "/b", q, 1).unwrap();
    assert!(!d.allowed && d.retry_after > Duration::from_secs(3590), "{tag}: {d:?}");
    assert_eq!(l.peek(&c, "/b", q).unwrap().remaining, 0);
    let r = l.refund(&c, "/b", q, 1).unwrap();
    assert!(r.allowed && r.remaining == 0, "{tag}: {r:?}");
    assert!(l.check(&c, "/b", q, 1).unwrap().allowed);
    assert!(!l.check(&c, "/b", q, 1).unwrap().allowed);
    l.refund(&c, "/b", q, 150).unwrap(); // more than the newest bucket holds
    let d = l.check(&c, "/b", q, 150).unwrap();
    assert!(d.allowed && d.remaining == 0, "{tag}: {d:?}");
    assert!(!l.check(&c, "/b", q, 1).unwrap().allowed);
    l.refund(&c, "/b", q, 300).unwrap();
    assert_eq!(l.peek(&c, "/b", q).unwrap().remaining, 299, "{tag}: all given back");
    let b = l.block(&c, "/b", q, Duration::from_millis(400)).unwrap();
    assert!(!b.allowed, "{tag}: {b:?}");
    assert!(!l.check(&c, "/b", q, 1).unwrap().allowed, "{tag}: blocked");
    std::thread::sleep(Duration::from_millis(450));
    let d = l.check(&c, "/b", q, 1).unwrap();
    assert!(d.allowed && d.remaining == 299, "{tag}: after the block {d:?}");
}

/// Keys of the bucketed log written by earlier versions (head `"#<end>:<count>"`
/// with the total only in its score, or `"#"` without an open bucket) are
/// read with their counts, and the next admission rewrites the head in the
/// current layout (`"#<end>:<count>:<total>"`); an admission into the open
/// bucket keeps the expiry the bucket set, one that opens a bucket extends it.
#[test]
fn bucketed_log_reads_older_heads_and_keeps_its_expiry() {
    let server = RedisServer::start();
    let l = limiter(&server.url(), Algorithm::SlidingWindowLog);
    let q = "300/hour";
    let mut c = server.conn();
    let time: Vec<u64> = redis::cmd("TIME").query(&mut c).unwrap();
    let now = time[0] * 1_000_000 + time[1];
    let head = |key: &[u8], c: &mut redis::Connection| -> String {
        let z: Vec<String> = redis::cmd("ZRANGE").arg(key).arg(0).arg(0).query(c).unwrap();
        z[0].clone()
    };

    // Two-field head: 120 in all, 50 of them in the open bucket ending in 10 s.
    let key = l.redis_key("old2", "/b", q).unwrap();
    let open = now + 10_000_000;
    let _: () = redis::pipe()
        .cmd("ZADD")
        .arg(&key)
        .arg(-120)
        .arg(format!("#{open}:50"))
        .arg(now - 100_000_000)
        .arg(format!("{}:70", now - 100_000_000))
        .cmd("PEXPIRE")
        .arg(&key)
        .arg(3_700_000)
        .query(&mut c)
        .unwrap();
    let d = l.check("old2", "/b", q, 1).unwrap();
    assert!(d.allowed && d.remaining == 179, "{d:?}");
    assert_eq!(head(&key, &mut c), format!("#{open}:51:121"));
    let d = l.check("old2", "/b", q, 179).unwrap();
    assert!(d.allowed && d.remaining == 0, "{d:?}");
    assert!(!l.check("old2", "/b", q, 1).unwrap().allowed);

    // "#": no open bucket, 100 in one closed bucket 50 s old.
    let key = l.redis_key("old1", "/b", q).unwrap();
    let _: () = redis::pipe()
        .cmd("ZADD")
        .arg(&key)
        .arg(-100)
        .arg("#")
        .arg(now - 50_000_000)
        .arg(format!("{}:100", now - 50_000_000))
        .query(&mut c)
        .unwrap();
    assert_eq!(
        l.peek("old1", "/b", q).unwrap().remaining,
        199,
        "peek: as if one more were admitted"
    );
    let d = l.check("old1", "/b", q, 1).unwrap();
    assert!(d.allowed && d.remaining == 199, "{d:?}");
    let h = head(&key, &mut c);
    assert!(h.starts_with('#') && h.ends_with(":1:101"), "{h}");

    // The current layout: admissions into the open bucket leave the expiry
    // alone, the one that opens the next bucket (30 s later) sets it again.
    let key = l.redis_key("ttl", "/b", q).unwrap();
    assert!(l.check("ttl", "/b", q, 1).unwrap().allowed);
    let _: () = redis::cmd("PEXPIRE").arg(&key).arg(3_000_000).query(&mut c).unwrap();
    assert!(l.check("ttl", "/b", q, 1).unwrap().allowed);
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut c).unwrap();
    assert!(
        ttl > 0 && ttl <= 3_000_000,
        "the open bucket's admission rewrote the expiry: {ttl}"
    );
    assert_eq!(head(&key, &mut c).split(':').skip(1).collect::<Vec<_>>(), ["2", "2"]);
}

#[test]
fn operations_on_memory() {
    exercise("memory://ops", "memory");
    exercise_bucketed_log("memory://ops", "memory");
}

#[test]
fn operations_on_redis_keep_ttls_and_write_nothing_on_bad_input() {
    let server = RedisServer::start();
    exercise(&server.url(), "redis");
    exercise_bucketed_log(&server.url(), "redis");
    let keys = keys_with_ttl(&server);
    assert!(!keys.is_empty());
    for (k, ttl) in &keys {
        // -2: expired between KEYS and PTTL; -1 would be a key without TTL.
        assert!(*ttl > 0 || *ttl == -2, "{k} has no TTL ({ttl})");
    }

    // Several quotas of one endpoint have their own keys.
    let mut c = server.conn();
    redis::cmd("FLUSHALL").query::<()>(&mut c).unwrap();
    let l = limiter(&server.url(), Algorithm::SlidingWindowLog);
    l.check("mq", "/api", "10/second;1000/hour", 1).unwrap();
    let mut keys: Vec<String> = keys_with_ttl(&server).into_iter().map(|(k, _)| k).collect();
    keys.sort();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys[0].contains(":swl:") && keys[1].contains(":swlb:"), "{keys:?}");
    l.check("mq", "/api", "10/second;20/minute", 1).unwrap();
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(
        n,
        3,
        "the 20/minute quota ranks second on swl: {:?}",
        keys_with_ttl(&server)
    );
    l.reset("mq", "/api").unwrap();
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 0);

    // Bad input: the invalid-argument error naming the bad part, no key.
    let bad_quotas = ["0/minute", "10/fortnight", "-1/s", "1e99/day", "", "5/", "/minute"];
    for text in bad_quotas {
        for e in [
            l.check("bad", "/x", text, 1).unwrap_err(),
            l.peek("bad", "/x", text).unwrap_err(),
            l.refund("bad", "/x", text, 1).unwrap_err(),
            l.block("bad", "/x", text, Duration::from_secs(1)).unwrap_err(),
        ] {
            assert!(e.is_invalid_argument(), "{text:?}: {e}");
        }
    }
    let e = l.refund("bad", "/x", "5/minute", 0).unwrap_err();
    assert!(e.is_invalid_argument() && e.to_string().contains("refund"), "{e}");
    let e = l.refund("bad", "/x", "5/minute", 6).unwrap_err();
    assert!(e.is_invalid_argument() && e.to_string().contains("capacity"), "{e}");
    let e = l.block("bad", "/x", "5/minute", Duration::ZERO).unwrap_err();
    assert!(e.is_invalid_argument() && e.to_string().contains("block"), "{e}");
    let e = l
        .block("bad", "/x", "5/minute", Duration::from_secs(u64::MAX / 4))
        .unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    let e = l.reset("", "/x").unwrap_err();
    assert!(e.is_invalid_argument());
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 0, "bad input wrote {:?}", keys_with_ttl(&server));
}

/// An ordinary decision is the script's GET and SET (and TIME): peek,
/// refund and block added no command to it.
#[test]
fn ordinary_decisions_run_no_extra_command() {
    let server = RedisServer::start();
    let l = limiter(&server.url(), Algorithm::SlidingWindowLog);
    let mut c = server.conn();
    redis::cmd("CONFIG").arg("RESETSTAT").query::<()>(&mut c).unwrap();
    for i in 0..50 {
        l.check(&format!("c{i}"), "/a", "10/minute", 1).unwrap();
    }
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut c).unwrap();
    let calls = |name: &str| -> u64 {
        info.lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .and_then(|l| l.split("calls=").nth(1))
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(calls("get"), 50, "{info}");
    assert_eq!(calls("set"), 50, "{info}");
    for other in ["exists", "del", "pexpire", "zadd", "zrange", "hget"] {
        assert_eq!(calls(other), 0, "{other}: {info}");
    }
}

#[test]
fn operations_on_cluster() {
    let cluster = RedisCluster::start(3, 0);
    exercise(&cluster.url(), "cluster");
    // Reset reaches the client's slot: no key of the pair is left anywhere.
    let l = limiter(&cluster.url(), Algorithm::SlidingWindowLog);
    l.check("rc", "/e", "3/minute;9/hour", 1).unwrap();
    let key = l.redis_key("rc", "/e", "3/minute").unwrap();
    let owner = cluster.owner(&key);
    let count = |s: &RedisServer| -> usize {
        let mut c = s.conn();
        let keys: Vec<String> = redis::cmd("KEYS").arg("ratewarden:*:rc:/e").query(&mut c).unwrap();
        keys.len()
    };
    assert_eq!(count(owner), 2);
    l.reset("rc", "/e").unwrap();
    assert_eq!(count(owner), 0);
}

#[test]
fn operations_on_sentinel() {
    let setup = SentinelSetup::start();
    exercise(&setup.url(), "sentinel");
}
