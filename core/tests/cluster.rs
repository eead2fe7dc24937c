//! Redis Cluster and Sentinel on real local processes: a 3-master +
//! 3-replica cluster (`redis-cli --cluster create`) and a master + replica
//! watched by three Sentinels. Faults: a master killed mid-traffic, a slot
//! migrated mid-traffic (all at once, and key by key under batched
//! decisions of several slots), `SCRIPT FLUSH` on every master and in the
//! middle of a pipeline, a Sentinel failover (manual, then by killing the
//! master).
//!
//! The tests of this file run one at a time (each starts 6 servers).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{RedisCluster, SentinelSetup};
use ratewarden::{Algorithm, Limit, Limiter, Policy, Quota};

/// Held for a whole test (each test has its own runtime).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn cluster_limiter(c: &RedisCluster) -> Limiter {
    Limiter::builder(&c.url())
        .timeout(Duration::from_millis(1000))
        .build()
        .unwrap()
}

/// Without the deny cache: every refusal asks Redis, so admissions that a
/// failover lost show up as clients admitted again.
fn measuring_limiter(url: &str) -> Limiter {
    Limiter::builder(url)
        .timeout(Duration::from_millis(1000))
        .deny_cache(0)
        .build()
        .unwrap()
}

fn keys_on(server: &common::RedisServer) -> u64 {
    let mut c = server.conn();
    redis::cmd("DBSIZE").query(&mut c).unwrap()
}

/// `CLUSTER SETSLOT slot state node_id` on the node of `c`.
fn setslot(c: &mut redis::Connection, slot: u16, state: &str, node_id: &str) {
    let _: () = redis::cmd("CLUSTER")
        .arg("SETSLOT")
        .arg(slot)
        .arg(state)
        .arg(node_id)
        .query(c)
        .unwrap();
}

fn script_calls(server: &common::RedisServer) -> u64 {
    let mut c = server.conn();
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut c).unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_exact_per_client_and_spread_over_every_master() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start(3, 1);
    let l = cluster_limiter(&cluster);
    l.ping().await.unwrap();
    // 300 clients, capacity 5 in a 50 s window, 12 attempts each from 6
    // concurrent tasks: exactly 5 admitted per client.
    let admitted: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (l, admitted) = (l.clone(), admitted.clone());
        tasks.push(tokio::spawn(async move {
            let mut calls = Vec::new();
            for _round in 0..2 {
                for i in 0..300 {
                    let client = format!("client-{i}");
                    let (l, admitted) = (l.clone(), admitted.clone());
                    calls.push(tokio::spawn(async move {
                        let d = l.check(&client, "/x", Quota::new(5, 1), 1).await.unwrap();
                        if d.allowed {
                            *admitted.lock().unwrap().entry(client).or_default() += 1;
                        }
                    }));
                }
            }
            for c in calls {
                c.await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let admitted = std::mem::take(&mut *admitted.lock().unwrap());
    assert_eq!(admitted.len(), 300);
    assert!(admitted.values().all(|&n| n == 5), "{admitted:?}");

    // Every master holds some of the clients and ran scripts.
    let masters = cluster.masters();
    assert_eq!(masters.len(), 3);
    let spread: Vec<(u64, u64)> = masters.iter().map(|m| (keys_on(m), script_calls(m))).collect();
    eprintln!("keys and script calls per master: {spread:?}");
    assert!(
        spread.iter().all(|&(keys, calls)| keys >= 50 && calls > 0),
        "{spread:?}"
    );
    assert_eq!(spread.iter().map(|s| s.0).sum::<u64>(), 300);

    // Multi-limit decisions (one slot per client) and live policies work.
    let limits = [
        Limit::new("/a", Quota::new(3, 1)),
        Limit::new("*", Quota::new(2, 1)).algorithm(Algorithm::Gcra),
    ];
    let mut ok = 0;
    for _ in 0..5 {
        if l.check_all("multi", &limits).await.unwrap().allowed {
            ok += 1;
        }
    }
    assert_eq!(ok, 2);
    l.set_policy("/p", Policy::new(2, 1)).await.unwrap();
    let other = cluster_limiter(&cluster);
    let got: Vec<bool> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(other.check_policy("pc", "/p", 1).await.unwrap().allowed);
        }
        v
    };
    assert_eq!(got, [true, true, false]);
    assert!(l.policies().await.unwrap().contains_key("/p"));
}

/// `rediss+cluster://`: every node TLS-only (client port, cluster bus and
/// replication) and requiring a client certificate (mutual TLS),
/// certificates from a throwaway CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_cluster_is_exact_over_every_master_and_verifies_certificates() {
    let _serial = SERIAL.lock().await;
    let ca = common::TestCa::new();
    let cluster = RedisCluster::start_tls(&ca, 3, 1);
    let url = format!("rediss+cluster://{}", cluster.nodes[0].addr());
    let (cert, key) = ca.client_pem();
    let l = Limiter::builder(&url)
        .tls_root_cert_pem(ca.ca_pem())
        .tls_client_cert_pem(cert.clone(), key.clone())
        .timeout(Duration::from_millis(1000))
        .build()
        .unwrap();
    l.ping().await.unwrap();
    let mut admitted = HashMap::new();
    for attempt in 0..5 {
        for c in 0..60 {
            let d = l.check(&format!("tls-{c}"), "/tls", Quota::new(3, 1), 1).await.unwrap();
            *admitted.entry(c).or_insert(0) += u32::from(d.allowed);
            assert_eq!(d.allowed, attempt < 3, "client {c}, attempt {attempt}: {d:?}");
        }
    }
    assert!(admitted.values().all(|&n| n == 3));
    let masters = cluster.masters();
    assert_eq!(masters.len(), 3);
    assert!(masters.iter().all(|m| keys_on(m) > 0), "keys on every master");

    // `#insecure` skips verification; the system roots do not know the CA.
    let insecure = Limiter::builder(&format!("{url}#insecure"))
        .tls_client_cert_pem(cert.clone(), key.clone())
        .build()
        .unwrap();
    insecure.ping().await.unwrap();
    // Without a client certificate the nodes refuse the connection.
    let anonymous = Limiter::builder(&url)
        .tls_root_cert_pem(ca.ca_pem())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = anonymous.ping().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(e.kind(), ratewarden::ErrorKind::Connection, "{e}");
    let untrusted = Limiter::builder(&url)
        .tls_client_cert_pem(cert.clone(), key.clone())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = untrusted.ping().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(e.kind(), ratewarden::ErrorKind::Connection, "{e}");
    // Plain text to a TLS-only node fails too (within the deadline).
    let plain = Limiter::builder(&format!("redis+cluster://{}", cluster.nodes[0].addr()))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert!(plain.ping().await.is_err());
    // A CA or a client certificate with a plain-text scheme is a
    // configuration mistake.
    let plain = format!("redis+cluster://{}", cluster.nodes[0].addr());
    let e = Limiter::builder(&plain)
        .tls_root_cert_pem(ca.ca_pem())
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ratewarden::ErrorKind::Config);
    let e = Limiter::builder(&plain)
        .tls_client_cert_pem(cert, key)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ratewarden::ErrorKind::Config, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_flush_on_every_master_mid_run_fails_no_decision() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start(3, 1);
    let l = cluster_limiter(&cluster);
    let stop = Arc::new(AtomicBool::new(false));
    let admitted = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (l, stop, admitted) = (l.clone(), stop.clone(), admitted.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // 200 clients, capacity 20 each in a 100 s window
                let client = format!("c{}", (i * 8 + t) % 200);
                i += 1;
                let d = l.check(&client, "/flush", Quota::new(20, 1), 1).await;
                match d {
                    Ok(d) if d.allowed => {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(e) => panic!("decision failed during SCRIPT FLUSH: {e}"),
                }
            }
        }));
    }
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for m in cluster.masters() {
            let mut c = m.conn();
            let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(admitted.load(Ordering::Relaxed), 200 * 20);
}

/// Move the slot of one client from its master to another while 6 tasks
/// hammer that client on ever new endpoints: decisions follow ASK (keys not
/// migrated yet) and MOVED (after the slot changed owner), none fails, and
/// each endpoint admits exactly its capacity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_migration_mid_traffic_follows_ask_and_moved() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start(3, 0);
    let l = cluster_limiter(&cluster);
    let quota = Quota::new(3, 1);
    let key = l.redis_key("mover", "/e0", quota).unwrap();
    let source = cluster.owner(&key);
    let target = cluster.masters().into_iter().find(|m| m.port != source.port).unwrap();
    let mut src = source.conn();
    let mut dst = target.conn();
    let slot: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(&key).query(&mut src).unwrap();
    let id = |c: &mut redis::Connection| -> String { redis::cmd("CLUSTER").arg("MYID").query(c).unwrap() };
    let (src_id, dst_id) = (id(&mut src), id(&mut dst));

    let stop = Arc::new(AtomicBool::new(false));
    let endpoint = Arc::new(AtomicU64::new(0));
    let admitted: Arc<Mutex<HashMap<u64, u64>>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (l, stop, endpoint, admitted) = (l.clone(), stop.clone(), endpoint.clone(), admitted.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let e = endpoint.load(Ordering::Relaxed);
                let d = l.check("mover", &format!("/e{e}"), quota, 1).await;
                match d {
                    Ok(d) if d.allowed => *admitted.lock().unwrap().entry(e).or_default() += 1,
                    Ok(_) => {}
                    Err(e) => panic!("decision failed during the migration: {e}"),
                }
            }
        }));
    }
    let step = || async { tokio::time::sleep(Duration::from_millis(150)).await };
    let next_endpoint = || {
        endpoint.fetch_add(1, Ordering::Relaxed);
    };
    step().await;
    setslot(&mut dst, slot, "IMPORTING", &src_id);
    setslot(&mut src, slot, "MIGRATING", &dst_id);
    // New endpoints now: their keys are not on the source, so it answers ASK.
    for _ in 0..3 {
        next_endpoint();
        step().await;
    }
    // Move the keys, then the slot.
    loop {
        let keys: Vec<Vec<u8>> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(100)
            .query(&mut src)
            .unwrap();
        if keys.is_empty() {
            break;
        }
        let mut migrate = redis::cmd("MIGRATE");
        migrate
            .arg("127.0.0.1")
            .arg(target.port)
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS");
        for k in &keys {
            migrate.arg(k);
        }
        let _: () = migrate.query(&mut src).unwrap();
    }
    for m in cluster.masters() {
        let mut c = m.conn();
        setslot(&mut c, slot, "NODE", &dst_id);
    }
    for _ in 0..3 {
        next_endpoint();
        step().await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(cluster.owner(&key).port, target.port, "the slot moved");
    let admitted = admitted.lock().unwrap();
    assert_eq!(admitted.len(), 7, "{admitted:?}");
    assert!(admitted.values().all(|&n| n == 3), "{admitted:?}");
    assert_eq!(keys_on(source), 0);
    // Decisions for keys not migrated yet went to the target after ASKING.
    let mut c = target.conn();
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut c).unwrap();
    assert!(
        stats.contains("cmdstat_asking:calls="),
        "no ASKING seen by the target:\n{stats}"
    );
}

/// A slot migrates key by key while batched decisions for it are in
/// flight: 24 tasks send decisions of one client ("mover", single-limit and
/// two-limit, on ever new endpoints) mixed with those of 20 other clients of
/// the same master, so each of the master's calls carries decisions of
/// several slots, the moving one among them. Keys still on the source are
/// decided there in the shared call; keys not there (migrated, or new) are
/// answered "not here" and sent again declared (`ASK`, `TRYAGAIN` for a
/// two-limit decision whose keys are split, then `MOVED`). No decision
/// fails, and every endpoint admits exactly its capacity: no state is lost
/// or decided twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_migrating_under_batched_decisions_loses_and_fails_none() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start(3, 0);
    let l = Limiter::builder(&cluster.url())
        .timeout(Duration::from_secs(2))
        .deny_cache(0)
        .build()
        .unwrap();
    let one = Quota::new(5, 1);
    let two = ratewarden::Quotas::parse("5/minute;8/hour").unwrap();
    let key = l.redis_key("mover", "/e0", one).unwrap();
    let source = cluster.owner(&key);
    let target = cluster.masters().into_iter().find(|m| m.port != source.port).unwrap();
    let mut src = source.conn();
    let mut dst = target.conn();
    let slot_of =
        |k: &[u8], c: &mut redis::Connection| -> u16 { redis::cmd("CLUSTER").arg("KEYSLOT").arg(k).query(c).unwrap() };
    let slot = slot_of(&key, &mut src);
    let others: Vec<String> = (0..)
        .map(|i| format!("bg{i}"))
        .filter(|c| {
            let k = l.redis_key(c, "/bg", one).unwrap();
            std::ptr::eq(cluster.owner(&k), source) && slot_of(&k, &mut src) != slot
        })
        .take(20)
        .collect();
    let id = |c: &mut redis::Connection| -> String { redis::cmd("CLUSTER").arg("MYID").query(c).unwrap() };
    let (src_id, dst_id) = (id(&mut src), id(&mut dst));
    // Script calls before the traffic (connection warm-up, other tests).
    let calls_before: u64 = cluster.masters().into_iter().map(script_calls).sum();

    let stop = Arc::new(AtomicBool::new(false));
    let endpoint = Arc::new(AtomicU64::new(0));
    let turn = Arc::new(AtomicU64::new(0));
    let decided = Arc::new(AtomicU64::new(0));
    let admitted: Arc<Mutex<HashMap<(String, String), u64>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let (l, stop, endpoint, turn, decided, admitted, errors, others, two) = (
            l.clone(),
            stop.clone(),
            endpoint.clone(),
            turn.clone(),
            decided.clone(),
            admitted.clone(),
            errors.clone(),
            others.clone(),
            two,
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                // 10 turns of 30 for the mover (single, then two limits),
                // 20 for the other clients.
                let n = turn.fetch_add(1, Ordering::Relaxed);
                let t = n % 30;
                // Any endpoint so far: the old ones keep being decided (and
                // refused) while their keys move.
                let e = (n / 30) % (endpoint.load(Ordering::Relaxed) + 1);
                let (client, path, r) = if t < 5 {
                    let path = format!("/e{e}");
                    let r = l.check("mover", &path, one, 1).await;
                    ("mover".to_string(), path, r)
                } else if t < 10 {
                    let path = format!("/two{e}");
                    let r = l.check("mover", &path, &two, 1).await;
                    ("mover".to_string(), path, r)
                } else {
                    let c = others[(t - 10) as usize].clone();
                    let r = l.check(&c, "/bg", one, 1).await;
                    (c, "/bg".to_string(), r)
                };
                decided.fetch_add(1, Ordering::Relaxed);
                match r {
                    Ok(d) if d.allowed => *admitted.lock().unwrap().entry((client, path)).or_default() += 1,
                    Ok(_) => {}
                    Err(e) => errors.lock().unwrap().push(format!("{client} {path}: {e}")),
                }
            }
        }));
    }
    let step = |ms| tokio::time::sleep(Duration::from_millis(ms));
    let next_endpoint = || {
        endpoint.fetch_add(1, Ordering::Relaxed);
    };
    // 5 endpoints of each quota before the migration: 15 keys to move.
    for _ in 0..4 {
        step(100).await;
        next_endpoint();
    }
    step(100).await;
    setslot(&mut dst, slot, "IMPORTING", &src_id);
    setslot(&mut src, slot, "MIGRATING", &dst_id);
    next_endpoint();
    step(150).await;
    // The keys one by one, with traffic in between: a two-limit decision
    // may find one key here and the other there.
    let mut moved = 0;
    loop {
        let keys: Vec<Vec<u8>> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(1)
            .query(&mut src)
            .unwrap();
        let Some(k) = keys.first() else { break };
        let _: () = redis::cmd("MIGRATE")
            .arg("127.0.0.1")
            .arg(target.port)
            .arg(k)
            .arg(0)
            .arg(5000)
            .query(&mut src)
            .unwrap();
        moved += 1;
        if moved % 3 == 0 {
            next_endpoint();
        }
        step(40).await;
    }
    for m in cluster.masters() {
        setslot(&mut m.conn(), slot, "NODE", &dst_id);
    }
    for _ in 0..2 {
        next_endpoint();
        step(150).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let errors = errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{} decisions failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert_eq!(cluster.owner(&key).port, target.port, "the slot moved");
    assert!(moved >= 15, "only {moved} keys were migrated");
    let admitted = admitted.lock().unwrap();
    let endpoints = endpoint.load(Ordering::Relaxed) + 1;
    eprintln!(
        "{moved} keys migrated one by one, {endpoints} endpoints per quota, {} decisions",
        decided.load(Ordering::Relaxed)
    );
    for e in 0..endpoints {
        for path in [format!("/e{e}"), format!("/two{e}")] {
            let n = admitted.get(&("mover".to_string(), path.clone())).copied().unwrap_or(0);
            assert_eq!(n, 5, "mover {path}: {n} admitted, capacity 5");
        }
    }
    for c in &others {
        assert_eq!(admitted.get(&(c.clone(), "/bg".to_string())), Some(&5), "{c}");
    }
    assert_eq!(admitted.len() as u64, 2 * endpoints + 20, "{admitted:?}");
    assert_eq!(keys_on(source), 20, "the other clients' keys stay; none of the mover's");
    // Batched: far fewer script calls than decisions.
    let calls: u64 = cluster.masters().into_iter().map(script_calls).sum::<u64>() - calls_before;
    let decided = decided.load(Ordering::Relaxed);
    eprintln!("{decided} decisions in {calls} script calls");
    assert!(calls * 2 < decided, "{decided} decisions in {calls} script calls");
    // Keys not on the source went to the target after ASKING.
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut dst).unwrap();
    assert!(
        stats.contains("cmdstat_asking:calls="),
        "no ASKING seen by the target:\n{stats}"
    );
}

/// `CLUSTER FAILOVER` on a replica mid-traffic: the old master stays up as
/// a replica and answers `MOVED`; decisions follow at once, none fails and
/// admission stays exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_cluster_failover_mid_traffic_fails_no_decision() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start(3, 1);
    // Refusals go to Redis too: traffic reaches the masters all along.
    let l = measuring_limiter(&cluster.url());
    l.ping().await.unwrap();
    let old = cluster.masters()[0].port;
    let replica = cluster
        .nodes
        .iter()
        .find(|n| {
            let mut c = n.conn();
            let info: String = redis::cmd("INFO").arg("replication").query(&mut c).unwrap();
            info.contains("role:slave") && info.contains(&format!("master_port:{old}"))
        })
        .expect("a replica of the first master");
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let (l, stop) = (l.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut admitted: HashMap<u64, u64> = HashMap::new();
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                let c = i % 300;
                i += 8;
                match l.check(&format!("mf-{c}"), "/mf", Quota::new(20, 1), 1).await {
                    Ok(d) if d.allowed => *admitted.entry(c).or_default() += 1,
                    Ok(_) => {}
                    Err(e) => panic!("decision failed during a manual failover: {e}"),
                }
            }
            admitted
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _: () = redis::cmd("CLUSTER")
        .arg("FAILOVER")
        .query(&mut replica.conn())
        .unwrap();
    let start = Instant::now();
    while cluster.masters().iter().any(|m| m.port == old) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the manual failover did not happen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("manual cluster failover took {:?}", start.elapsed());
    // Traffic goes on against the new master for a while.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut admitted: HashMap<u64, u64> = HashMap::new();
    for t in tasks {
        for (c, n) in t.await.unwrap() {
            *admitted.entry(c).or_default() += n;
        }
    }
    assert_eq!(admitted.len(), 300);
    assert!(admitted.values().all(|&n| n == 20), "{admitted:?}");
    assert!(cluster.masters().iter().any(|m| m.port == replica.port));
}

/// A master that stops answering (SIGSTOP, shorter than the cluster's node
/// timeout, so no failover): calls for its clients fail within the deadline
/// and then fast (its circuit opens), calls for the other masters' clients
/// go on as before; after it resumes, its clients are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_master_fails_only_its_own_clients_within_the_deadline() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start_with_node_timeout(3, 0, 10_000);
    let deadline = Duration::from_millis(250);
    let l = Limiter::builder(&cluster.url()).timeout(deadline).build().unwrap();
    l.ping().await.unwrap();
    let quota = Quota::new(1_000_000, 1);
    let paused = cluster.masters()[0];
    let (mine, others): (Vec<String>, Vec<String>) = (0..60)
        .map(|i| format!("p{i}"))
        .partition(|c| cluster.owner(&l.redis_key(c, "/p", quota).unwrap()).port == paused.port);
    assert!(
        !mine.is_empty() && others.len() >= 20,
        "{} / {}",
        mine.len(),
        others.len()
    );
    paused.pause();
    for c in mine.iter().cycle().take(6) {
        let t = Instant::now();
        let e = l.check(c, "/p", quota, 1).await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(t.elapsed() < deadline + Duration::from_millis(200), "{:?}", t.elapsed());
    }
    assert!(l.stats().circuit_open);
    let t = Instant::now();
    for _ in 0..3 {
        for c in &others {
            l.check(c, "/p", quota, 1).await.unwrap();
        }
    }
    let per_call = t.elapsed() / (3 * others.len() as u32);
    assert!(
        per_call < deadline / 2,
        "calls to the other masters slowed to {per_call:?}"
    );
    paused.resume();
    let t = Instant::now();
    loop {
        match l.check(&mine[0], "/p", quota, 1).await {
            Ok(_) => break,
            Err(e) => {
                assert!(t.elapsed() < Duration::from_secs(5), "no recovery: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    for c in &mine {
        l.check(c, "/p", quota, 1).await.unwrap();
    }
}

/// Traffic measured through a master failure: what failed, when, and how
/// many admissions were lost (admitted again after the failover).
struct FailoverRun {
    /// Failed decisions, and when (since the kill).
    errors: Vec<Duration>,
    /// Clients admitted more than their capacity, summed over clients.
    over_admitted: u64,
    /// Timeouts after the script was sent (may have been admitted).
    unknown: u64,
    admitted: u64,
    decisions: u64,
}

impl FailoverRun {
    fn report(&self, what: &str) {
        eprintln!(
            "{what}: {} decisions, {} admitted, {} unknown, {} errors between {:?} and {:?} after the kill, over-admitted {}",
            self.decisions,
            self.admitted,
            self.unknown,
            self.errors.len(),
            self.errors.first(),
            self.errors.last(),
            self.over_admitted
        );
    }
}

/// `clients` clients with `capacity` each in a 100 s window, 8 tasks; `kill`
/// is called `kill_after` into the run, the run lasts `total` — and longer
/// (up to 3 × `total`) until every client could have used its whole quota,
/// so that a slow (shared, loaded) machine does not decide the result.
async fn traffic_through(
    l: &Limiter,
    clients: u64,
    capacity: u64,
    kill_after: Duration,
    total: Duration,
    kill: impl FnOnce(),
) -> FailoverRun {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let settled = Arc::new(AtomicU64::new(0)); // admitted + outcome unknown
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let (l, stop, killed_at, settled) = (l.clone(), stop.clone(), killed_at.clone(), settled.clone());
        tasks.push(tokio::spawn(async move {
            let mut admitted: HashMap<u64, u64> = HashMap::new();
            let mut errors = Vec::new();
            let mut unknown = 0;
            let mut decisions = 0;
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                let c = i % clients;
                i += 7919; // visit the clients in a scattered order
                decisions += 1;
                match l
                    .check(&format!("fo-{c}"), "/fo", Quota::new(capacity, capacity / 100), 1)
                    .await
                {
                    Ok(d) if d.allowed => {
                        *admitted.entry(c).or_default() += 1;
                        settled.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        unknown += u64::from(e.outcome_unknown());
                        settled.fetch_add(u64::from(e.outcome_unknown()), Ordering::Relaxed);
                        let at = killed_at.lock().unwrap().map_or(Duration::ZERO, |k| k.elapsed());
                        errors.push(at);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            (admitted, errors, unknown, decisions)
        }));
    }
    tokio::time::sleep(kill_after).await;
    *killed_at.lock().unwrap() = Some(Instant::now());
    kill();
    tokio::time::sleep(total.saturating_sub(start.elapsed())).await;
    while settled.load(Ordering::Relaxed) < clients * capacity && start.elapsed() < 3 * total {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut admitted: HashMap<u64, u64> = HashMap::new();
    let mut run = FailoverRun {
        errors: Vec::new(),
        over_admitted: 0,
        unknown: 0,
        admitted: 0,
        decisions: 0,
    };
    for t in tasks {
        let (a, e, u, d) = t.await.unwrap();
        run.unknown += u;
        for (c, n) in a {
            *admitted.entry(c).or_default() += n;
        }
        run.errors.extend(e);
        run.decisions += d;
    }
    run.errors.sort();
    run.admitted = admitted.values().sum();
    run.over_admitted = admitted.values().map(|&n| n.saturating_sub(capacity)).sum();
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_killed_mid_traffic_fails_over_and_the_same_limiter_recovers() {
    let _serial = SERIAL.lock().await;
    let mut cluster = RedisCluster::start(3, 1);
    let l = measuring_limiter(&cluster.url());
    l.ping().await.unwrap();
    let victim = cluster.masters()[1].port;
    let (clients, capacity) = (500, 100);
    let run = {
        let victim_server = cluster.nodes.iter_mut().find(|n| n.port == victim).unwrap();
        let kill = move || victim_server.kill();
        traffic_through(
            &l,
            clients,
            capacity,
            Duration::from_millis(1000),
            Duration::from_secs(10),
            kill,
        )
        .await
    };
    let last_error = run.errors.last().copied().unwrap_or_default();
    run.report(&format!("cluster failover ({capacity} per client)"));
    // Failures only during the failover, then normal decisions again.
    assert!(!run.errors.is_empty(), "killing a master went unnoticed");
    assert!(
        last_error < Duration::from_secs(6),
        "errors went on {last_error:?} after the kill"
    );
    cluster.wait_healthy(3, Duration::from_secs(20));
    for i in 0..100 {
        l.check(&format!("after-{i}"), "/fo", Quota::new(5, 1), 1)
            .await
            .unwrap();
    }
    assert_eq!(cluster.masters().len(), 3);
    assert!(cluster.masters().iter().all(|m| m.port != victim));
    // Replication is asynchronous: the replica may miss the last writes
    // acknowledged by the killed master. Bound it loosely here; the closing
    // note and the README report measured values.
    assert!(
        run.over_admitted <= run.admitted / 100 + 50,
        "over-admitted {} of {}",
        run.over_admitted,
        run.admitted
    );
    // Every client got its whole quota (the run lasted long enough), but
    // for calls that timed out after the script was sent.
    assert!(
        run.admitted + run.unknown >= clients * capacity,
        "{} admitted, {} unknown",
        run.admitted,
        run.unknown
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_is_followed_manual_and_by_kill() {
    let _serial = SERIAL.lock().await;
    let mut setup = SentinelSetup::start();
    let l = measuring_limiter(&setup.url());
    l.ping().await.unwrap();
    let first = setup.master_port().unwrap();
    // The whole quota of a 100 s window, spent before the failovers.
    let before = Quota::new(100, 1);
    assert!(l.check("s", "/before", before, 100).await.unwrap().allowed);
    assert!(!l.check("s", "/before", before, 1).await.unwrap().allowed);

    // 1. Manual failover: the old master stays up and is demoted (it answers
    //    READONLY); the limiter must ask the Sentinels again.
    {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}", setup.sentinels[0].port)).unwrap();
        let mut c = c.get_connection().unwrap();
        let _: () = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg("mymaster")
            .query(&mut c)
            .unwrap();
    }
    let start = Instant::now();
    loop {
        if setup.master_port() != Some(first) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no manual failover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = setup.master_port().unwrap();
    // Until the old master has been told to follow the new one, it still
    // takes writes (which its resync then discards): wait for that, so the
    // next calls meet a demoted master that answers READONLY.
    let start = Instant::now();
    loop {
        // Sentinel's reconfiguration kills client connections: a failed
        // INFO is asked again.
        let repl: String = setup
            .server(first)
            .try_conn()
            .and_then(|mut c| redis::cmd("INFO").arg("replication").query(&mut c))
            .unwrap_or_default();
        if repl.contains("role:slave") && repl.contains("master_link_status:up") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the old master was not demoted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut errors = 0;
    let start = Instant::now();
    let mut after = 0;
    while after < 50 {
        match l.check("s", "/after-manual", Quota::new(1_000_000, 1), 1).await {
            Ok(_) => after += 1,
            Err(e) => {
                eprintln!("during the manual failover: {e}");
                errors += 1;
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "not following the manual failover"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    eprintln!("Sentinel manual failover: {errors} failed calls before the new master answered");
    {
        let key = l.redis_key("s", "/after-manual", Quota::new(1_000_000, 1)).unwrap();
        let mut c = setup.server(second).conn();
        let exists: bool = redis::cmd("EXISTS").arg(&key).query(&mut c).unwrap();
        assert!(exists, "decisions go to the new master");
    }
    // The state came along: the client is still refused on /before.
    assert!(!l.check("s", "/before", before, 1).await.unwrap().allowed);

    // 2. The new master is killed; the Sentinels promote the old one back.
    setup.wait_ready(Duration::from_secs(20));
    let run = {
        let victim = setup.server_mut(second);
        let kill = move || victim.kill();
        traffic_through(&l, 500, 100, Duration::from_millis(1000), Duration::from_secs(10), kill).await
    };
    run.report("Sentinel failover by kill");
    assert!(!run.errors.is_empty());
    assert!(
        run.errors.last().unwrap() < &Duration::from_secs(7),
        "errors went on too long"
    );
    assert_eq!(setup.master_port(), Some(first));
    for i in 0..50 {
        l.check(&format!("late-{i}"), "/late", Quota::new(5, 1), 1)
            .await
            .unwrap();
    }
    assert!(
        run.over_admitted <= run.admitted / 100 + 50,
        "over-admitted {}",
        run.over_admitted
    );
}

/// `rediss+sentinel://`: Sentinels, master, replica and replication all
/// TLS-only; a killed master's failover is followed over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_sentinel_follows_a_failover() {
    let _serial = SERIAL.lock().await;
    let ca = common::TestCa::new();
    let mut setup = SentinelSetup::start_tls(&ca);
    assert!(setup.url().starts_with("rediss+sentinel://"));
    let (cert, key) = ca.client_pem();
    let l = Limiter::builder(&setup.url())
        .tls_root_cert_pem(ca.ca_pem())
        .tls_client_cert_pem(cert.clone(), key.clone())
        .timeout(Duration::from_millis(1000))
        .deny_cache(0)
        .build()
        .unwrap();
    l.ping().await.unwrap();
    let q = Quota::new(10, 1);
    assert!(l.check("t", "/tls", q, 10).await.unwrap().allowed);
    assert!(!l.check("t", "/tls", q, 1).await.unwrap().allowed);
    // Without the CA the master's certificate is not trusted; without the
    // client certificate the Sentinels refuse the client.
    let untrusted = Limiter::builder(&setup.url())
        .tls_client_cert_pem(cert, key)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert_eq!(
        untrusted.ping().await.unwrap_err().kind(),
        ratewarden::ErrorKind::Connection
    );
    let anonymous = Limiter::builder(&setup.url())
        .tls_root_cert_pem(ca.ca_pem())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert_eq!(
        anonymous.ping().await.unwrap_err().kind(),
        ratewarden::ErrorKind::Connection
    );
    // Let the replica catch up, then kill the master.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = setup.master_port().unwrap();
    setup.server_mut(first).kill();
    let start = Instant::now();
    loop {
        if setup.master_port().is_some_and(|p| p != first) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no failover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The same limiter follows it: the spent quota survived (replicated).
    let start = Instant::now();
    let d = loop {
        match l.check("t", "/tls", q, 1).await {
            Ok(d) => break d,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(15), "not followed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert!(!d.allowed, "the replica had the spent quota");
    assert!(l.check("u", "/tls", q, 1).await.unwrap().allowed);
}

/// Sentinel names a master that takes the handshake and then answers
/// nothing (the client's `ROLE` check included). Each connection attempt
/// gives up at its deadline instead of holding the single-flight connect
/// until TCP gives up: every call fails within its deadline, and once the
/// master answers again the next call connects and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_master_silent_after_the_handshake_does_not_stall_reconnection() {
    use common::proxy::{FaultProxy, Mode};
    let proxy = std::cell::OnceCell::new();
    let setup = SentinelSetup::start_watching(&|m| proxy.get_or_init(|| FaultProxy::start(&m.addr())).port());
    let proxy = proxy.get().expect("the master's proxy");
    // The Sentinels' own links are up already and keep relaying.
    proxy.set(Mode::AfterHandshake);
    let deadline = Duration::from_millis(400);
    let l = Limiter::builder(&setup.url()).timeout(deadline).build().unwrap();
    let q = Quota::new(10, 10);
    for i in 0..3 {
        let start = Instant::now();
        let e = l
            .check("silent", "/s", q, 1)
            .await
            .expect_err("the master answers nothing");
        assert!(e.is_timeout(), "call {i}: {e}");
        assert!(
            start.elapsed() < deadline + Duration::from_millis(250),
            "call {i}: {:?}",
            start.elapsed()
        );
    }
    proxy.set(Mode::Pass);
    let start = Instant::now();
    loop {
        match l.check("silent", "/s", q, 1).await {
            Ok(d) => break assert!(d.allowed),
            Err(e) => assert!(start.elapsed() < Duration::from_secs(3), "no reconnection: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "reconnection stalled for {:?}",
        start.elapsed()
    );
}

/// A pipeline of per-slot calls meets `SCRIPT FLUSH` halfway (the proxy in
/// front of one master runs it between the pipeline's halves), and the
/// reload after `NOSCRIPT` fails (the proxy resets the connection on
/// `SCRIPT LOAD`). The calls of the first half ran: they get their
/// decisions. Those of the second half never ran: they get the error. So a
/// decision is answered exactly when its key exists on the master.
///
/// Such a pipeline carries decisions sent again with declared keys: here 30
/// clients whose (empty) slots were given to master `m` behind the
/// limiter's back. Their master of record answers "non local key" in its
/// one call, then `MOVED` to each declared call, and the 30 queue on `m`
/// behind a call held by `DEBUG SLEEP`: they go out as one pipeline of one
/// call per slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_script_reload_fails_only_the_calls_that_did_not_run() {
    use common::proxy::{FaultProxy, Mode};
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start(3, 0);
    let masters = cluster.masters();
    let (m, seed, x) = (masters[0], masters[1], masters[2]);
    let q = Quota::new(10, 10);
    // Found before `m` is announced through the proxy: a client of `m`'s
    // (to hold its driver) and 30 clients of distinct slots of `x`'s.
    let probe = cluster_limiter(&cluster);
    let key_of = |c: &str| probe.redis_key(c, "/r", q).unwrap();
    let slot_of = |k: &[u8]| -> u16 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(k)
            .query(&mut m.conn())
            .unwrap()
    };
    let holder = (0..)
        .map(|i| format!("h{i}"))
        .find(|c| std::ptr::eq(cluster.owner(&key_of(c)), m))
        .unwrap();
    let warm_x = (0..)
        .map(|i| format!("w{i}"))
        .find(|c| std::ptr::eq(cluster.owner(&key_of(c)), x))
        .unwrap();
    let mut slots = std::collections::HashSet::new();
    let movers: Vec<String> = (0..)
        .map(|i| format!("c{i}"))
        .filter(|c| std::ptr::eq(cluster.owner(&key_of(c)), x) && slots.insert(slot_of(&key_of(c))))
        .take(30)
        .collect();
    let proxy = FaultProxy::start(&m.addr());
    {
        let mut c = m.conn();
        let bus = (m.port + 10_000).to_string();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("cluster-announce-bus-port")
            .arg(&bus)
            .query(&mut c)
            .unwrap();
        let port = proxy.port().to_string();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("cluster-announce-port")
            .arg(&port)
            .query(&mut c)
            .unwrap();
    }
    // Every node names the proxy for `m`'s slots.
    let start = Instant::now();
    while !masters.iter().all(|n| {
        let slots: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut n.conn())
            .unwrap_or_default();
        slots.contains(&format!("127.0.0.1:{}@", proxy.port()))
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the new address did not spread"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let l = Limiter::builder(&format!("redis+cluster://{}", seed.addr()))
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    assert!(l.check("warm", "/warm", q, 1).await.unwrap().allowed);
    let mut c = m.conn();
    let key = |client: &str| l.redis_key(client, "/r", q).unwrap();
    assert!(l.check(&holder, "/r", q, 1).await.unwrap().allowed, "through the proxy");
    let _: () = redis::cmd("DEL").arg(key(&holder)).query(&mut c).unwrap();
    // Every master's connection is warm before the slots move.
    assert!(l.check(&warm_x, "/r", q, 1).await.unwrap().allowed);
    // The movers' slots go to `m`, `m` first (so it takes them at once); the
    // limiter still says `x`.
    let m_id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut c).unwrap();
    for node in [m, x, seed] {
        let mut nc = node.conn();
        for slot in &slots {
            setslot(&mut nc, *slot, "NODE", &m_id);
        }
    }
    proxy.set(Mode::FlushMidPipeline);
    let sleeper = std::thread::spawn({
        let mut c = m.conn();
        move || redis::cmd("DEBUG").arg("SLEEP").arg("0.5").query::<()>(&mut c)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let first = {
        let (l, client) = (l.clone(), holder.clone());
        tokio::spawn(async move { l.check(&client, "/r", q, 1).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let calls: Vec<_> = movers
        .iter()
        .map(|client| {
            let (l, client) = (l.clone(), client.clone());
            tokio::spawn(async move { (client.clone(), l.check(&client, "/r", q, 1).await) })
        })
        .collect();
    sleeper.join().unwrap().unwrap();
    assert!(first.await.unwrap().unwrap().allowed, "sent alone, before the flush");
    let (mut ran, mut failed) = (0, 0);
    for call in calls {
        let (client, r) = call.await.unwrap();
        let exists: bool = redis::cmd("EXISTS").arg(key(&client)).query(&mut c).unwrap();
        match r {
            Ok(d) => {
                assert!(d.allowed && exists, "{client}: answered, so its script ran");
                ran += 1;
            }
            Err(e) => {
                assert!(!exists, "{client}: ran, yet answered with an error: {e}");
                failed += 1;
            }
        }
    }
    eprintln!("pipeline cut by SCRIPT FLUSH: {ran} calls ran and were answered, {failed} failed with the reload");
    assert!(
        ran > 0 && failed > 0,
        "the pipeline was not cut: {ran} ran, {failed} failed"
    );
    assert_eq!(keys_on(x), 1, "nothing of the movers was written on their old master");
    // And the limiter goes on.
    assert!(l.check("after", "/r", q, 1).await.unwrap().allowed);
}

/// A decision redirected by `MOVED` keeps its first deadline, and is
/// answered by it even when the node it is redirected to has every driver
/// busy with a batch of a later deadline. Here: the limiter's slot map says
/// master A for client r's slot, which was given to B behind its back; A is
/// busy (`DEBUG SLEEP`) when r's call reaches it, B is paused and already
/// waits for a call sent 0.3 s after r's. A's `MOVED` puts r's call behind
/// that batch on B: it must still fail by its own deadline (+ 150 ms), not at
/// the batch's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_call_is_answered_by_its_own_deadline() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start(3, 0);
    let deadline = Duration::from_secs(1);
    let l = Limiter::builder(&cluster.url()).timeout(deadline).build().unwrap();
    let q = Quota::new(10, 10);
    let masters = cluster.masters();
    let (a, b) = (masters[0], masters[1]);
    let on = |m: &common::RedisServer, prefix: &str| -> String {
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .find(|c| std::ptr::eq(cluster.owner(&l.redis_key(c, "/m", q).unwrap()), m))
            .unwrap()
    };
    let (r, x) = (on(a, "r"), on(b, "x"));
    // Every master's connection and the slot map are warm.
    for m in &masters {
        assert!(l.check(&on(m, "warm"), "/m", q, 1).await.unwrap().allowed);
    }
    // Give r's (empty) slot to B on every master; the limiter still says A.
    let slot: u16 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(l.redis_key(&r, "/m", q).unwrap())
        .query(&mut a.conn())
        .unwrap();
    let b_id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut b.conn()).unwrap();
    for m in [b, a, masters[2]] {
        setslot(&mut m.conn(), slot, "NODE", &b_id);
    }
    let sleeper = std::thread::spawn({
        let mut c = a.conn();
        move || redis::cmd("DEBUG").arg("SLEEP").arg("0.5").query::<()>(&mut c)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    let redirected = {
        let (l, r) = (l.clone(), r.clone());
        tokio::spawn(async move {
            let out = l.check(&r, "/m", q, 1).await;
            (out, start.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.pause();
    let later = {
        let l = l.clone();
        tokio::spawn(async move { l.check(&x, "/m", q, 1).await })
    };
    let (out, took) = redirected.await.unwrap();
    let e = out.expect_err("B is paused");
    eprintln!("redirected call answered after {took:?}: {e}");
    assert!(e.is_timeout(), "{e}");
    assert!(
        took <= deadline + Duration::from_millis(150),
        "answered {took:?} after the call, deadline {deadline:?}: {e}"
    );
    assert!(later.await.unwrap().is_err());
    b.resume();
    sleeper.join().unwrap().unwrap();
}
