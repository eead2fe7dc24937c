//! A real network partition of a Redis Cluster (root only: network
//! namespaces, veth pairs and a bridge made by the test, see
//! `common/netns.rs`).
//!
//! Six cluster nodes (3 masters + 3 replicas), each in a namespace of its
//! own on one bridge. One master is cut off from the LAN together with a
//! limiter process on its side (a second run of this test binary, started
//! in the master's namespace, running [`side_client`]); a limiter in the
//! test process stays on the majority side. Both send the same clients'
//! decisions — all keys on the isolated master — through the cut, the
//! failover on the majority side, and the heal.
//!
//! What is measured, per run: how long the isolated master kept admitting
//! after the cut, and how many admissions the cluster forgot — admitted by
//! one side or the other but absent from the final counters after the heal
//! (the promoted replica never saw them). Each forgotten admission is one
//! a client can be admitted again for: the over-admission budget. The
//! figures go to the README's data-loss budget.
//!
//! The quota is a fixed window far larger than the traffic (10⁹ per 10⁹ s),
//! so every admission is counted and no client is ever refused: the final
//! counter is exactly the admissions the cluster remembers.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::netns::Lan;
use common::{RedisCluster, RedisServer};
use ratewarden::{Algorithm, Limiter, Quota};

const ENDPOINT: &str = "/partition";
/// Decisions per second each side sends (8 tasks, paced).
const RATE_PER_SIDE: u64 = 1000;
const TASKS: u64 = 8;
const CLIENTS: usize = 100;

fn quota() -> Quota {
    Quota::per(1_000_000_000, Duration::from_secs(1_000_000_000))
}

fn limiter(url: &str) -> Limiter {
    Limiter::builder(url)
        .algorithm(Algorithm::FixedWindow)
        .timeout(Duration::from_millis(500))
        .deny_cache(0)
        .build()
        .expect("limiter")
}

fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// What one side saw: admissions per client and, per 100 ms of wall clock
/// (epoch ms / 100), how many decisions were admitted and how many failed.
#[derive(Default, Debug)]
struct Side {
    admitted: HashMap<String, u64>,
    /// bucket -> (admitted, errors)
    timeline: BTreeMap<u64, (u64, u64)>,
    /// Errors that say the script may have run.
    unknown: u64,
}

impl Side {
    fn merge(&mut self, other: Side) {
        for (c, n) in other.admitted {
            *self.admitted.entry(c).or_default() += n;
        }
        for (b, (a, e)) in other.timeline {
            let t = self.timeline.entry(b).or_default();
            t.0 += a;
            t.1 += e;
        }
        self.unknown += other.unknown;
    }

    fn total(&self) -> u64 {
        self.admitted.values().sum()
    }

    /// Start (ms) of the last 100 ms bucket in `from_ms..to_ms` with an
    /// admission / an error.
    fn last(&self, from_ms: u64, to_ms: u64, admitted: bool) -> Option<u64> {
        self.timeline
            .range(from_ms / 100..to_ms / 100)
            .rev()
            .find(|(_, (a, e))| if admitted { *a > 0 } else { *e > 0 })
            .map(|(b, _)| b * 100)
    }

    fn admitted_between(&self, from_ms: u64, to_ms: u64) -> u64 {
        self.timeline
            .range(from_ms / 100..to_ms / 100)
            .map(|(_, (a, _))| a)
            .sum()
    }

    fn errors_between(&self, from_ms: u64, to_ms: u64) -> u64 {
        self.timeline
            .range(from_ms / 100..to_ms / 100)
            .map(|(_, (_, e))| e)
            .sum()
    }

    /// One line: `PARTITION-RESULT unknown=U admitted=c:n,... timeline=b:a:e,...`
    fn encode(&self) -> String {
        let admitted: Vec<String> = self.admitted.iter().map(|(c, n)| format!("{c}:{n}")).collect();
        let timeline: Vec<String> = self.timeline.iter().map(|(b, (a, e))| format!("{b}:{a}:{e}")).collect();
        format!(
            "PARTITION-RESULT unknown={} admitted={} timeline={}",
            self.unknown,
            admitted.join(","),
            timeline.join(",")
        )
    }

    fn decode(line: &str) -> Option<Side> {
        // (libtest may have printed "test side_client ... " before it)
        let rest = &line[line.find("PARTITION-RESULT ")? + "PARTITION-RESULT ".len()..];
        let mut side = Side::default();
        for field in rest.split(' ') {
            let (name, value) = field.split_once('=')?;
            let items = value.split(',').filter(|s| !s.is_empty());
            match name {
                "unknown" => side.unknown = value.parse().ok()?,
                "admitted" => {
                    for item in items {
                        let (c, n) = item.rsplit_once(':')?;
                        side.admitted.insert(c.to_string(), n.parse().ok()?);
                    }
                }
                "timeline" => {
                    for item in items {
                        let mut parts = item.split(':').map(str::parse::<u64>);
                        let (b, a, e) = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
                        side.timeline.insert(b, (a, e));
                    }
                }
                _ => return None,
            }
        }
        Some(side)
    }
}

/// Paced traffic over `clients` until `stop()` says so.
async fn traffic(l: &Limiter, clients: &[String], stop: impl Fn() -> bool + Clone + Send + 'static) -> Side {
    let interval = Duration::from_micros(1_000_000 * TASKS / RATE_PER_SIDE);
    let mut tasks = Vec::new();
    for t in 0..TASKS as usize {
        let (l, clients, stop) = (l.clone(), clients.to_vec(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut side = Side::default();
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut i = t;
            while !stop() {
                tick.tick().await;
                let client = &clients[i % clients.len()];
                i += TASKS as usize;
                let result = l.check(client, ENDPOINT, quota(), 1).await;
                let bucket = side.timeline.entry(epoch_ms() / 100).or_default();
                match result {
                    Ok(d) => {
                        assert!(d.allowed, "the quota is far above the traffic: {d:?}");
                        bucket.0 += 1;
                        *side.admitted.entry(client.clone()).or_default() += 1;
                    }
                    Err(e) => {
                        bucket.1 += 1;
                        side.unknown += u64::from(e.outcome_unknown());
                    }
                }
            }
            side
        }));
    }
    let mut side = Side::default();
    for t in tasks {
        side.merge(t.await.unwrap());
    }
    side
}

const SIDE_URL: &str = "RATEWARDEN_PARTITION_URL";
const SIDE_CLIENTS: &str = "RATEWARDEN_PARTITION_CLIENTS";
const SIDE_STOP: &str = "RATEWARDEN_PARTITION_STOP";

/// The limiter on the isolated master's side of the partition: run by
/// [`partition`] in the master's namespace, with its URL, clients and a
/// stop file in the environment. Run on its own (no environment), it sends
/// one second of the same traffic to `memory://` and checks the counts.
#[test]
fn side_client() {
    let url = std::env::var(SIDE_URL).unwrap_or_else(|_| "memory://".into());
    let clients: Vec<String> = match std::env::var(SIDE_CLIENTS) {
        Ok(list) => list.split(',').map(str::to_string).collect(),
        Err(_) => (0..10).map(|i| format!("side-{i}")).collect(),
    };
    let stop_file = std::env::var(SIDE_STOP).ok().map(PathBuf::from);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let side = rt.block_on(async {
        let l = limiter(&url);
        let started = Instant::now();
        let stop = move || match &stop_file {
            Some(f) => f.exists() || started.elapsed() > Duration::from_secs(300),
            None => started.elapsed() > Duration::from_secs(1),
        };
        traffic(&l, &clients, stop).await
    });
    println!("{}", side.encode());
    if std::env::var(SIDE_URL).is_err() {
        // memory://: no error, every decision counted, and peek agrees.
        assert_eq!(side.timeline.values().map(|(_, e)| e).sum::<u64>(), 0);
        assert!(side.total() > 100, "{} decisions in a second", side.total());
        let decoded = Side::decode(&side.encode()).unwrap();
        assert_eq!(decoded.admitted, side.admitted);
        assert_eq!(decoded.timeline, side.timeline);
    }
}

/// The node (index) that replicates `master` (index), from `CLUSTER NODES`.
fn replica_of(cluster: &RedisCluster, master: usize) -> usize {
    let mut c = cluster.nodes[master].conn();
    let id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut c).unwrap();
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).unwrap();
    let line = nodes
        .lines()
        .find(|l| l.split(' ').nth(3) == Some(id.as_str()))
        .expect("the master has a replica");
    let addr = line.split(' ').nth(1).unwrap().split('@').next().unwrap();
    cluster
        .nodes
        .iter()
        .position(|n| n.addr() == addr)
        .expect("a node of ours")
}

struct Run {
    label: String,
    node_timeout_ms: u64,
    /// ms after the cut: last admission on the isolated side, failover seen
    /// from the majority side, last majority error before the heal.
    minority_last_ms: Option<u64>,
    failover_ms: u64,
    majority_errors_until_ms: Option<u64>,
    minority_after_cut: u64,
    majority_during_cut: u64,
    majority_errors_during_cut: u64,
    minority_after_heal: u64,
    admitted: u64,
    remembered: u64,
    forgotten: u64,
    unknown: u64,
}

impl Run {
    fn report(&self) {
        eprintln!(
            "partition [{}]: isolated side admitted {} after the cut, the last {} ms after it; \
             failover seen {} ms after the cut; majority: {} admitted and {} errors during the cut \
             (errors until {} ms); isolated side after the heal: {} admitted; \
             {} admitted in all, {} remembered, {} forgotten ({} outcome unknown) at {} decisions/s per side",
            self.label,
            self.minority_after_cut,
            self.minority_last_ms.map_or("-".into(), |v| v.to_string()),
            self.failover_ms,
            self.majority_during_cut,
            self.majority_errors_during_cut,
            self.majority_errors_until_ms.map_or("-".into(), |v| v.to_string()),
            self.minority_after_heal,
            self.admitted,
            self.remembered,
            self.forgotten,
            self.unknown,
            RATE_PER_SIDE,
        );
    }
}

async fn partition_run(node_timeout_ms: u64, min_replicas: bool) -> Run {
    let label = format!(
        "cluster-node-timeout {node_timeout_ms} ms{}",
        if min_replicas {
            ", min-replicas-to-write 1, min-replicas-max-lag 1"
        } else {
            ""
        }
    );
    let lan = Lan::new(6);
    let mut args = RedisCluster::node_args(node_timeout_ms);
    if min_replicas {
        args.extend(["--min-replicas-to-write", "1", "--min-replicas-max-lag", "1"].map(String::from));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nodes = (0..6)
        .map(|i| RedisServer::start_at(Some(&lan.ns(i)), &lan.ip(i), 7001 + i as u16, &args))
        .collect();
    let cluster = RedisCluster::create(nodes, 3, 1);
    // Node 0 seeds the majority's limiter: isolate another master.
    let victim = (1..6)
        .find(|&i| cluster.nodes[i].role(Duration::from_millis(300)).as_deref() == Some("master"))
        .expect("a master besides node 0");
    let replica = replica_of(&cluster, victim);
    let majority = limiter(&format!("redis+cluster://{}", cluster.nodes[0].addr()));
    majority.ping().await.unwrap();

    // Clients whose keys live on the victim.
    let mut seed = cluster.nodes[0].conn();
    let mut clients = Vec::new();
    for i in 0.. {
        let id = format!("pc-{i}");
        let key = majority.redis_key(&id, ENDPOINT, quota()).unwrap();
        let slot: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(&key).query(&mut seed).unwrap();
        if cluster.slot_owner(slot).port == cluster.nodes[victim].port {
            clients.push(id);
            if clients.len() == CLIENTS {
                break;
            }
        }
    }

    // The isolated side: this binary again, in the victim's namespace.
    let stop_file = std::env::temp_dir().join(format!("ratewarden-partition-stop-{}", std::process::id()));
    let _ = std::fs::remove_file(&stop_file);
    let mut side = Command::new("ip")
        .args(["netns", "exec", &lan.ns(victim)])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "side_client", "--nocapture", "--test-threads=1"])
        .env(SIDE_URL, format!("redis+cluster://{}", cluster.nodes[victim].addr()))
        .env(SIDE_CLIENTS, clients.join(","))
        .env(SIDE_STOP, &stop_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run the side client");
    let side_out = side.stdout.take().unwrap();
    let side_result = std::thread::spawn(move || {
        // Read to the end (the child writes more after the result line).
        let lines: Vec<String> = BufReader::new(side_out).lines().map_while(Result::ok).collect();
        lines.iter().find_map(|l| Side::decode(l))
    });

    let stop = Arc::new(AtomicBool::new(false));
    let majority_traffic = {
        let (l, clients, stop) = (majority.clone(), clients.clone(), stop.clone());
        tokio::spawn(async move { traffic(&l, &clients, move || stop.load(Ordering::Relaxed)).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;

    let cut_at = epoch_ms();
    lan.cut(victim);
    // The majority promotes the victim's replica.
    let failover_ms = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if cluster.nodes[replica].role(Duration::from_millis(300)).as_deref() == Some("master") {
            break epoch_ms() - cut_at;
        }
        assert!(
            epoch_ms() - cut_at < 30_000 + node_timeout_ms,
            "[{label}] no failover within 30 s"
        );
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let heal_at = epoch_ms();
    lan.heal(victim);
    cluster.wait_healthy(3, Duration::from_secs(30));
    let healthy_at = epoch_ms();
    // Both sides go on after the heal: the isolated side finds the new
    // master (the old one answers MOVED now).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end_at = epoch_ms();
    stop.store(true, Ordering::Relaxed);
    std::fs::write(&stop_file, b"stop").unwrap();
    let mut majority_side = majority_traffic.await.unwrap();
    let status = side.wait().unwrap();
    let _ = std::fs::remove_file(&stop_file);
    assert!(status.success(), "[{label}] the side client failed: {status}");
    let minority = side_result.join().unwrap().expect("the side client's result line");

    let run = Run {
        minority_last_ms: minority.last(cut_at, heal_at, true).map(|t| t.saturating_sub(cut_at)),
        failover_ms,
        majority_errors_until_ms: majority_side
            .last(cut_at, heal_at, false)
            .map(|t| t.saturating_sub(cut_at)),
        minority_after_cut: minority.admitted_between(cut_at, heal_at),
        majority_during_cut: majority_side.admitted_between(cut_at, heal_at),
        majority_errors_during_cut: majority_side.errors_between(cut_at, heal_at),
        minority_after_heal: minority.admitted_between(healthy_at + 1000, end_at + 1000),
        admitted: minority.total() + majority_side.total(),
        remembered: 0,
        forgotten: 0,
        unknown: minority.unknown + majority_side.unknown,
        label,
        node_timeout_ms,
    };
    // What the cluster remembers, per client, after the heal.
    let mut run = run;
    majority_side.merge(minority);
    for c in &clients {
        let d = majority.peek(c, ENDPOINT, quota()).await.unwrap();
        let remembered = d.limit - d.remaining;
        let admitted = majority_side.admitted.get(c).copied().unwrap_or(0);
        run.remembered += remembered;
        run.forgotten += admitted.saturating_sub(remembered);
    }
    run.report();
    run
}

/// Three partitions: `cluster-node-timeout` 1 s and 3 s, then 3 s with
/// `min-replicas-to-write 1`. The isolated master admits for about the
/// node timeout (or, with min-replicas, until it notices its replica is
/// gone), the cluster forgets exactly those admissions, and both limiters
/// recover after the heal without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition() {
    let mut runs = Vec::new();
    for (node_timeout_ms, min_replicas) in [(1000, false), (3000, false), (3000, true)] {
        let run = partition_run(node_timeout_ms, min_replicas).await;
        let last = run.minority_last_ms.unwrap_or(0);
        // The isolated master stops within the node timeout (+ one
        // failure-report round and scheduling); with min-replicas within
        // the max lag (1 s) + the 1 s replica ping period.
        let bound = if min_replicas { 2500 } else { node_timeout_ms + 1500 };
        assert!(
            last <= bound,
            "[{}] the isolated side admitted {last} ms after the cut",
            run.label
        );
        // It did admit after the cut (this is what the test measures).
        assert!(
            run.minority_after_cut > 0,
            "[{}] nothing admitted after the cut",
            run.label
        );
        // Forgotten admissions are the isolated side's (plus calls whose
        // outcome is unknown, which may have run where nobody remembers).
        assert!(run.forgotten > 0, "[{}] a partition that loses nothing?", run.label);
        assert!(
            run.forgotten <= run.minority_after_cut + run.unknown,
            "[{}] forgot {} but the isolated side admitted only {} after the cut",
            run.label,
            run.forgotten,
            run.minority_after_cut
        );
        // Recovery: the majority stopped failing after the failover, and the
        // isolated side decides again after the heal.
        if !min_replicas {
            let until = run.majority_errors_until_ms.unwrap_or(0);
            assert!(
                until <= run.failover_ms + 3000,
                "[{}] the majority failed until {until} ms, failover at {} ms",
                run.label,
                run.failover_ms
            );
        }
        assert!(
            run.minority_after_heal > 0,
            "[{}] the isolated side did not recover",
            run.label
        );
        assert!(run.node_timeout_ms > 0);
        runs.push(run);
    }
}
