//! `ratewarden bench`: throughput and latency of the library, and on Redis the
//! same script sent through a bare multiplexed redis-rs client in the same run
//! as the ceiling the library is measured against. On a Redis Cluster, the
//! split of decisions and Redis CPU across the masters; with `--compare`, a
//! second backend (e.g. one Redis against the cluster) in the same run.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratewarden::{Algorithm, Limiter, Quota};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// memory:// (single-thread loop), redis://host:port,
    /// redis+cluster://host:port[,...] or redis+sentinel://host:port/name.
    #[arg(long, default_value = "memory://bench")]
    url: String,
    /// A second Redis URL measured the same way in the same run, rounds
    /// alternating with --url's (e.g. one Redis next to a cluster).
    #[arg(long)]
    compare: Option<String>,
    /// Calls in flight at once (Redis).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Length of each measured phase.
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    duration: Duration,
    /// Number of distinct clients the calls are spread over.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    #[arg(long, default_value_t = 100)]
    capacity: u64,
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Skip the bare-client ceiling phase.
    #[arg(long)]
    no_baseline: bool,
    /// Algorithm to measure, or "all" for a table of every algorithm (Redis:
    /// decisions/s, p99, Redis time per decision, and MEMORY USAGE of one
    /// key at capacity = rate = 100 and 100,000).
    #[arg(long, default_value = "sliding_window_log")]
    algorithm: String,
    /// Turn the local deny cache off (to measure what it saves, e.g. with
    /// --keys 1 for a flood from one abusive client).
    #[arg(long)]
    no_deny_cache: bool,
    /// Print the limiter's counters in the Prometheus text format at the end.
    #[arg(long)]
    prometheus: bool,
    /// Also measure the floor a Redis script of this shape cannot go below:
    /// per key, GET + SET PX of a 160-byte string (the exact log's two
    /// commands) and ZRANGE + ZREM + ZADD + PEXPIRE (the bucketed log's four),
    /// 36 keys per call, as Redis time per decision in the same run.
    #[arg(long)]
    floor: bool,
}

struct Phase {
    name: &'static str,
    calls: u64,
    allowed: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    /// Redis script time per decision (commandstats).
    redis_usec_per_call: Option<f64>,
    /// Redis process CPU per decision (INFO cpu, I/O included).
    redis_cpu_per_call: Option<f64>,
    /// Decisions per script call.
    batch: Option<f64>,
    /// Per cluster master: address, decisions, script calls, CPU seconds.
    nodes: Vec<NodeSplit>,
    /// CPU seconds this process (the client: library or bare redis-rs, and
    /// the bench loop) used during the phase.
    client_cpu_secs: f64,
}

#[derive(Clone, Default)]
struct NodeSplit {
    addr: String,
    decisions: u64,
    script_calls: u64,
    cpu_secs: f64,
}

impl Phase {
    /// Combine rounds: calls and time add up; Redis figures are averaged
    /// per call.
    fn merge(rounds: Vec<Phase>) -> Phase {
        let calls: u64 = rounds.iter().map(|p| p.calls).sum();
        let weighted = |f: &dyn Fn(&Phase) -> Option<f64>| {
            let parts: Vec<(f64, u64)> = rounds.iter().filter_map(|p| f(p).map(|v| (v, p.calls))).collect();
            let n: u64 = parts.iter().map(|x| x.1).sum();
            (n > 0).then(|| parts.iter().map(|(v, c)| v * *c as f64).sum::<f64>() / n as f64)
        };
        let redis_usec_per_call = weighted(&|p| p.redis_usec_per_call);
        let redis_cpu_per_call = weighted(&|p| p.redis_cpu_per_call);
        let batch = weighted(&|p| p.batch);
        let mut nodes: Vec<NodeSplit> = Vec::new();
        for n in rounds.iter().flat_map(|p| &p.nodes) {
            match nodes.iter_mut().find(|m| m.addr == n.addr) {
                Some(m) => {
                    m.decisions += n.decisions;
                    m.script_calls += n.script_calls;
                    m.cpu_secs += n.cpu_secs;
                }
                None => nodes.push(n.clone()),
            }
        }
        let mut latencies_us: Vec<u32> = rounds.iter().flat_map(|p| p.latencies_us.iter().copied()).collect();
        latencies_us.sort_unstable();
        Phase {
            client_cpu_secs: rounds.iter().map(|p| p.client_cpu_secs).sum(),
            name: rounds.first().map_or("", |p| p.name),
            calls,
            allowed: rounds.iter().map(|p| p.allowed).sum(),
            elapsed: rounds.iter().map(|p| p.elapsed).sum(),
            latencies_us,
            redis_usec_per_call,
            redis_cpu_per_call,
            batch,
            nodes,
        }
    }

    fn per_sec(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    /// Client CPU per decision, microseconds.
    fn client_cpu_us(&self) -> f64 {
        self.client_cpu_secs * 1e6 / self.calls.max(1) as f64
    }

    fn pct(&self, p: f64) -> u32 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i]
    }

    fn print(&self) {
        print!(
            "{:<10} {:>10.0} decisions/s  p50 {:>5} us  p99 {:>5} us  p99.9 {:>6} us  ({} calls, {:.1}% allowed)",
            self.name,
            self.per_sec(),
            self.pct(0.50),
            self.pct(0.99),
            self.pct(0.999),
            self.calls,
            100.0 * self.allowed as f64 / self.calls.max(1) as f64
        );
        print!(
            "\n           client CPU {:.2} us/decision (this process)",
            self.client_cpu_us()
        );
        if let Some(u) = self.redis_usec_per_call {
            print!("\n           Redis: script {u:.2} us/decision (commandstats)");
        }
        if let Some(c) = self.redis_cpu_per_call {
            print!(", process CPU {c:.2} us/decision (INFO cpu, incl. I/O)");
        }
        if let Some(b) = self.batch {
            print!(", {b:.1} decisions per script call");
        }
        println!();
        let total: u64 = self.nodes.iter().map(|n| n.decisions).sum();
        for n in &self.nodes {
            println!(
                "           master {:<21} {:>9} decisions ({:>4.1}%), {:>8} script calls, {:>6.2} s Redis CPU",
                n.addr,
                n.decisions,
                100.0 * n.decisions as f64 / total.max(1) as f64,
                n.script_calls,
                n.cpu_secs
            );
        }
    }
}

pub(crate) fn run(args: Args) -> Result<(), ratewarden::Error> {
    let quota = Quota::new(args.capacity, args.rate);
    quota.validate()?;
    if args.keys == 0 || args.concurrency == 0 {
        return Err(ratewarden::Error::invalid_argument(
            "--keys and --concurrency must be at least 1",
        ));
    }
    if args.algorithm == "all" {
        return bench_all(&args, quota);
    }
    let algorithm: Algorithm = args.algorithm.parse()?;
    if args.url.starts_with("memory://") {
        return bench_memory(&args, quota, algorithm);
    }
    let clients: Arc<Vec<String>> = Arc::new((0..args.keys).map(|i| format!("bench-client-{i}")).collect());
    println!(
        "ratewarden bench on {}{}: concurrency {}, {} keys, capacity {} rate {}/s, {:?} per phase",
        args.url,
        args.compare.as_ref().map_or(String::new(), |c| format!(" and {c}")),
        args.concurrency,
        args.keys,
        args.capacity,
        args.rate,
        args.duration
    );
    let main = Target::new(&args, &args.url, algorithm, quota, &clients)?;
    let limiter = main.limiter.clone();
    let compare = match &args.compare {
        Some(url) => Some(Target::new(&args, url, algorithm, quota, &clients)?),
        None => None,
    };
    let stats = &main.stats;
    let lib_op = main.op.clone();
    let bare_op = if args.no_baseline || !main.single {
        None
    } else {
        let conn = bare_connection(&args.url)?;
        let script = redis::Script::new(ratewarden::__bench::script());
        let sha: Arc<str> = script.get_hash().into();
        let keys: Arc<Vec<Vec<u8>>> = Arc::new(
            clients
                .iter()
                .map(|c| limiter.redis_key(c, "/bench", quota).unwrap_or_default())
                .collect(),
        );
        let argv: Arc<Vec<u64>> = ratewarden::__bench::single_args(limiter.algorithm(), quota, 1).into();
        Some(move |i: usize| {
            let mut conn = conn.clone();
            let keys = keys.clone();
            let sha = sha.clone();
            let argv = argv.clone();
            async move {
                let r: Vec<redis::Value> = redis::cmd("EVALSHA")
                    .arg(&*sha)
                    .arg(1)
                    .arg(&keys[i % keys.len()])
                    .arg(&argv[..])
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| ratewarden::Error::Server {
                        message: e.to_string(),
                        source: None,
                    })?;
                Ok(r.first() == Some(&redis::Value::Int(1)))
            }
        })
    };

    // Warm-up (untimed): connections, script cache, and every key created,
    // so both measured paths see the same steady state.
    measure("warm-up", args.concurrency, Duration::from_secs(1), as_fn(&lib_op))?;
    if let Some(c) = &compare {
        measure("warm-up", args.concurrency, Duration::from_secs(1), as_fn(&c.op))?;
    }
    // Alternate the paths in short rounds so drift on a shared machine hits
    // them alike.
    let rounds = 4u32;
    let slice = args.duration / rounds;
    let (mut lib, mut bare, mut other) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        lib.push(main.measure(args.concurrency, slice)?);
        if let Some(op) = &bare_op {
            bare.push(measure_redis(
                stats,
                "bare redis",
                args.concurrency,
                slice,
                op.clone(),
                None,
            )?);
        }
        if let Some(c) = &compare {
            other.push(c.measure(args.concurrency, slice)?);
        }
    }
    let lib = Phase::merge(lib);
    println!("{}:", args.url);
    lib.print();
    let stats = limiter.stats();
    println!(
        "           limiter: {} allowed, {} denied, {} answered by the deny cache, {} errors",
        stats.allowed, stats.denied, stats.cache_hits, stats.errors
    );
    if args.prometheus {
        print!("{}", stats.to_prometheus("ratewarden"));
    }
    if !bare.is_empty() {
        let bare = Phase::merge(bare);
        bare.print();
        println!(
            "ratio library / bare client: {:.3} (throughput), p99 {} us vs {} us",
            lib.per_sec() / bare.per_sec(),
            lib.pct(0.99),
            bare.pct(0.99)
        );
    } else if !args.no_baseline && !main.single {
        println!("           (no bare-client ceiling: one EVALSHA per decision cannot be routed on a cluster or through Sentinel)");
    }
    if args.floor && main.single {
        for (name, body) in [("floor GET+SET", FLOOR_STRING), ("floor 4 zset", FLOOR_ZSET)] {
            let f = floor(&args, &main.stats, name, body)?;
            println!(
                "{name:<14} Redis: script {:.2} us/decision, process CPU {:.2} us/decision ({} keys per call); library / floor: {:.2}x script time",
                f.redis_usec_per_call.unwrap_or(f64::NAN),
                f.redis_cpu_per_call.unwrap_or(f64::NAN),
                FLOOR_BATCH,
                lib.redis_usec_per_call.unwrap_or(f64::NAN) / f.redis_usec_per_call.unwrap_or(f64::NAN)
            );
        }
    }
    if let (Some(c), false) = (&compare, other.is_empty()) {
        let other = Phase::merge(other);
        println!("{}:", c.url);
        other.print();
        println!(
            "ratio {} / {}: {:.3} (throughput), p99 {} us vs {} us",
            args.url,
            c.url,
            lib.per_sec() / other.per_sec(),
            lib.pct(0.99),
            other.pct(0.99)
        );
        if let (Some(a), Some(b)) = (lib.redis_cpu_per_call, other.redis_cpu_per_call) {
            println!(
                "ratio {} / {}: {:.2}x Redis process CPU per decision, {:.2}x script time per decision",
                args.url,
                c.url,
                a / b,
                lib.redis_usec_per_call.unwrap_or(f64::NAN) / other.redis_usec_per_call.unwrap_or(f64::NAN)
            );
        }
    }
    Ok(())
}

/// Keys per call of the floor scripts: the library's batch size at 64 in flight.
const FLOOR_BATCH: usize = 36;

/// The exact log's two commands per decision, nothing else.
const FLOOR_STRING: &str = r"
for i = 1, #KEYS do
  redis.call('GET', KEYS[i])
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
return #KEYS";

/// The bucketed log's four sorted-set calls per admission, nothing else.
const FLOOR_ZSET: &str = r"
for i = 1, #KEYS do
  local k = KEYS[i]
  redis.call('ZRANGE', k, 0, 2, 'WITHSCORES')
  redis.call('ZREM', k, ARGV[3])
  redis.call('ZADD', k, ARGV[4], ARGV[5], ARGV[6], ARGV[3])
  redis.call('PEXPIRE', k, ARGV[2])
end
return #KEYS";

/// A plain multiplexed redis-rs connection to `url`, made on the core runtime.
fn bare_connection(url: &str) -> Result<redis::aio::MultiplexedConnection, ratewarden::Error> {
    let handle = ratewarden::runtime::handle();
    let client = redis::Client::open(url).map_err(|e| ratewarden::Error::Config {
        message: e.to_string(),
        source: None,
    })?;
    handle
        .block_on(handle.spawn(async move { client.get_multiplexed_async_connection().await }))
        .map_err(|e| ratewarden::Error::Internal(e.to_string()))?
        .map_err(|e| ratewarden::Error::Connection {
            message: e.to_string(),
            source: None,
            outcome_unknown: false,
        })
}

/// Redis time per key of `body` (one of the floor scripts) over
/// `FLOOR_BATCH` keys per call, through a bare multiplexed client.
fn floor(args: &Args, stats: &RedisStats, name: &'static str, body: &'static str) -> Result<Phase, ratewarden::Error> {
    let handle = ratewarden::runtime::handle();
    let conn = bare_connection(&args.url)?;
    let sha: Arc<str> = redis::Script::new(body).get_hash().into();
    {
        let mut c = conn.clone();
        let body = body.to_owned();
        handle
            .block_on(handle.spawn(async move {
                redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(body)
                    .query_async::<String>(&mut c)
                    .await
            }))
            .map_err(|e| ratewarden::Error::Internal(e.to_string()))?
            .map_err(server_error)?;
    }
    let keys: Arc<Vec<String>> = Arc::new(
        (0..args.keys)
            .map(|i| format!("bench-floor-{}:{{{i}}}", body.len()))
            .collect(),
    );
    let op = move |i: usize| {
        let mut conn = conn.clone();
        let keys = keys.clone();
        let sha = sha.clone();
        async move {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(&*sha).arg(FLOOR_BATCH);
            for j in 0..FLOOR_BATCH {
                cmd.arg(&keys[(i * FLOOR_BATCH + j) % keys.len()]);
            }
            // A 160-byte value (10 log entries), a TTL, and the zset members.
            cmd.arg("0".repeat(160)).arg(2000).arg("#9:1").arg(1).arg("1:1").arg(-2);
            let _: i64 = cmd.query_async(&mut conn).await.map_err(server_error)?;
            Ok(true)
        }
    };
    let concurrency = (args.concurrency / FLOOR_BATCH).max(2);
    measure("warm-up", concurrency, Duration::from_secs(1), op.clone())?;
    let mut p = measure_redis(stats, name, concurrency, args.duration / 4, op, None)?;
    let per = FLOOR_BATCH as f64;
    p.redis_usec_per_call = p.redis_usec_per_call.map(|v| v / per);
    p.redis_cpu_per_call = p.redis_cpu_per_call.map(|v| v / per);
    Ok(p)
}

/// One backend measured through the library.
struct Target {
    url: String,
    limiter: Limiter,
    stats: RedisStats,
    /// One server (`redis://`, `rediss://`): the bare-client ceiling applies.
    single: bool,
    /// Per cluster master (in `stats` order), decisions sent to it.
    per_node: Arc<Vec<AtomicU64>>,
    op: Op,
}

type OpFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, ratewarden::Error>> + Send>>;
type Op = Arc<dyn Fn(usize) -> OpFuture + Send + Sync>;

fn as_fn(op: &Op) -> impl Fn(usize) -> OpFuture + Send + Sync + Clone + 'static {
    let op = op.clone();
    move |i| op(i)
}

impl Target {
    fn new(
        args: &Args,
        url: &str,
        algorithm: Algorithm,
        quota: Quota,
        clients: &Arc<Vec<String>>,
    ) -> Result<Self, ratewarden::Error> {
        let limiter = Limiter::builder(url)
            .algorithm(algorithm)
            .deny_cache(if args.no_deny_cache { 0 } else { 10_000 })
            .build()?;
        ratewarden::runtime::handle().block_on(limiter.ping())?;
        let stats = RedisStats::new(url)?;
        // Which master each client's key lives on (cluster only).
        let node_of: Option<Arc<Vec<usize>>> = stats.slot_owners.as_ref().map(|owners| {
            Arc::new(
                clients
                    .iter()
                    .map(|c| {
                        let key = limiter.redis_key(c, "/bench", quota).unwrap_or_default();
                        owners[usize::from(ratewarden::__bench::slot(&key))]
                    })
                    .collect(),
            )
        });
        let per_node: Arc<Vec<AtomicU64>> = Arc::new(stats.nodes.iter().map(|_| AtomicU64::new(0)).collect());
        let op: Op = {
            let (limiter, clients, per_node) = (limiter.clone(), clients.clone(), per_node.clone());
            Arc::new(move |i: usize| {
                let (limiter, clients, per_node, node_of) =
                    (limiter.clone(), clients.clone(), per_node.clone(), node_of.clone());
                Box::pin(async move {
                    let at = i % clients.len();
                    let d = limiter.check(&clients[at], "/bench", quota, 1).await?;
                    if let Some(n) = node_of.as_ref().and_then(|n| per_node.get(n[at])) {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(d.allowed)
                })
            })
        };
        Ok(Target {
            url: url.to_owned(),
            limiter,
            single: url.starts_with("redis://") || url.starts_with("rediss://"),
            stats,
            per_node,
            op,
        })
    }

    fn measure(&self, concurrency: usize, duration: Duration) -> Result<Phase, ratewarden::Error> {
        measure_redis(
            &self.stats,
            "library",
            concurrency,
            duration,
            as_fn(&self.op),
            Some(&self.per_node),
        )
    }
}

fn measure_redis<F, Fut>(
    stats: &RedisStats,
    name: &'static str,
    concurrency: usize,
    duration: Duration,
    op: F,
    per_node: Option<&Arc<Vec<AtomicU64>>>,
) -> Result<Phase, ratewarden::Error>
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<bool, ratewarden::Error>> + Send + 'static,
{
    let before = stats.per_node()?;
    let decided_before: Vec<u64> =
        per_node.map_or(Vec::new(), |p| p.iter().map(|n| n.load(Ordering::Relaxed)).collect());
    let mut phase = measure(name, concurrency, duration, op)?;
    let after = stats.per_node()?;
    let (b, a) = (EvalStats::sum(&before), EvalStats::sum(&after));
    phase.redis_usec_per_call = a.usec_per_decision_since(&b, phase.calls);
    phase.redis_cpu_per_call = a.cpu_per_decision_since(&b, phase.calls);
    phase.batch = a.batch_since(&b, phase.calls);
    if let (Some(per_node), true) = (per_node, stats.slot_owners.is_some()) {
        phase.nodes = stats
            .nodes
            .iter()
            .enumerate()
            .map(|(i, (addr, _))| NodeSplit {
                addr: addr.clone(),
                decisions: per_node[i].load(Ordering::Relaxed) - decided_before[i],
                script_calls: after[i].calls.saturating_sub(before[i].calls),
                cpu_secs: after[i].cpu_secs - before[i].cpu_secs,
            })
            .collect();
    }
    Ok(phase)
}

/// Run `concurrency` tasks on the core runtime, each calling `op(i)` in a
/// loop for `duration`, with a progress line every second.
fn measure<F, Fut>(
    name: &'static str,
    concurrency: usize,
    duration: Duration,
    op: F,
) -> Result<Phase, ratewarden::Error>
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<bool, ratewarden::Error>> + Send + 'static,
{
    let handle = ratewarden::runtime::handle();
    let calls = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = process_cpu_secs();
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let op = op.clone();
            let calls = calls.clone();
            let stop = stop.clone();
            handle.spawn(async move {
                let mut lat = Vec::with_capacity(1 << 16);
                let mut allowed = 0u64;
                let mut i = t.wrapping_mul(7919);
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    if op(i).await? {
                        allowed += 1;
                    }
                    lat.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    calls.fetch_add(1, Ordering::Relaxed);
                    i = i.wrapping_add(concurrency);
                }
                Ok::<_, ratewarden::Error>((lat, allowed))
            })
        })
        .collect();
    let mut last = 0;
    while start.elapsed() < duration {
        std::thread::sleep(Duration::from_secs(1).min(duration.saturating_sub(start.elapsed())));
        let now = calls.load(Ordering::Relaxed);
        eprint!(
            "\r{name}: {:>4.1}s  {:>9} calls  {:>8} /s   ",
            start.elapsed().as_secs_f64(),
            now,
            now - last
        );
        let _ = std::io::stderr().flush();
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut allowed = 0;
    for t in tasks {
        let (lat, a) = handle
            .block_on(t)
            .map_err(|e| ratewarden::Error::Internal(e.to_string()))??;
        latencies.extend(lat);
        allowed += a;
    }
    let elapsed = start.elapsed();
    let client_cpu_secs = process_cpu_secs() - cpu_before;
    eprint!("\r{:<70}\r", "");
    latencies.sort_unstable();
    Ok(Phase {
        client_cpu_secs,
        name,
        calls: latencies.len() as u64,
        allowed,
        elapsed,
        latencies_us: latencies,
        redis_usec_per_call: None,
        redis_cpu_per_call: None,
        batch: None,
        nodes: Vec::new(),
    })
}

/// User + system CPU time of this process so far (every thread), seconds.
fn process_cpu_secs() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn bench_memory(args: &Args, quota: Quota, algorithm: Algorithm) -> Result<(), ratewarden::Error> {
    let limiter = ratewarden::blocking::Limiter::builder(&args.url)
        .algorithm(algorithm)
        .build()?;
    let clients: Vec<String> = (0..args.keys).map(|i| format!("bench-client-{i}")).collect();
    println!(
        "ratewarden bench on {}: one thread, {} keys, capacity {} rate {}/s, {:?}",
        args.url, args.keys, args.capacity, args.rate, args.duration
    );
    let start = Instant::now();
    let mut calls = 0u64;
    let mut allowed = 0u64;
    let mut next_report = Duration::from_secs(1);
    'outer: loop {
        for c in &clients {
            if limiter.check(c, "/bench", quota, 1)?.allowed {
                allowed += 1;
            }
            calls += 1;
            if calls.is_multiple_of(4096) {
                let e = start.elapsed();
                if e >= args.duration {
                    break 'outer;
                }
                if e >= next_report {
                    eprint!("\rmemory: {:>4.1}s {calls:>11} calls", e.as_secs_f64());
                    next_report += Duration::from_secs(1);
                }
            }
        }
    }
    let elapsed = start.elapsed();
    eprint!("\r{:<60}\r", "");
    println!(
        "memory     {:>10.0} decisions/s on one thread ({:.0} ns/decision, {calls} calls, {:.1}% allowed)",
        calls as f64 / elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / calls as f64,
        100.0 * allowed as f64 / calls as f64
    );
    Ok(())
}

/// `INFO commandstats` / `INFO cpu` reader for Redis-side cost: the one
/// server of a `redis://` URL, or every master of a cluster (none through
/// Sentinel).
struct RedisStats {
    nodes: Vec<(String, redis::Client)>,
    /// Cluster: per slot, the index in `nodes` of its master.
    slot_owners: Option<Vec<usize>>,
}

struct EvalStats {
    calls: u64,
    usec: u64,
    cpu_secs: f64,
}

impl EvalStats {
    fn sum(all: &[EvalStats]) -> EvalStats {
        EvalStats {
            calls: all.iter().map(|s| s.calls).sum(),
            usec: all.iter().map(|s| s.usec).sum(),
            cpu_secs: all.iter().map(|s| s.cpu_secs).sum(),
        }
    }

    /// Redis process CPU per decision (`decisions` made since `before`).
    fn cpu_per_decision_since(&self, before: &EvalStats, decisions: u64) -> Option<f64> {
        (decisions > 0).then(|| (self.cpu_secs - before.cpu_secs) * 1e6 / decisions as f64)
    }

    /// Script time per decision: one script call may carry a batch.
    fn usec_per_decision_since(&self, before: &EvalStats, decisions: u64) -> Option<f64> {
        let usec = self.usec.checked_sub(before.usec)?;
        (decisions > 0).then(|| usec as f64 / decisions as f64)
    }

    fn batch_since(&self, before: &EvalStats, decisions: u64) -> Option<f64> {
        let calls = self.calls.checked_sub(before.calls)?;
        (calls > 0).then(|| decisions as f64 / calls as f64)
    }
}

impl RedisStats {
    fn new(url: &str) -> Result<Self, ratewarden::Error> {
        let open = |url: &str| {
            redis::Client::open(url).map_err(|e| ratewarden::Error::Config {
                message: e.to_string(),
                source: None,
            })
        };
        // (Server-side statistics over TLS multi-host URLs are not read yet.)
        if url.starts_with("redis+sentinel://") || url.starts_with("rediss+") {
            return Ok(RedisStats {
                nodes: Vec::new(),
                slot_owners: None,
            });
        }
        let Some(rest) = url.strip_prefix("redis+cluster://") else {
            return Ok(RedisStats {
                nodes: vec![(url.to_owned(), open(url)?)],
                slot_owners: None,
            });
        };
        let (auth, hosts) = match rest.rsplit_once('@') {
            Some((a, h)) => (format!("{a}@"), h),
            None => (String::new(), rest),
        };
        let seed = hosts.split([',', '/']).next().unwrap_or_default();
        let mut c = connect(&open(&format!("redis://{auth}{seed}"))?)?;
        let slots: Vec<(u16, u16, (String, u16))> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query::<Vec<redis::Value>>(&mut c)
            .map_err(server_error)?
            .into_iter()
            .filter_map(|r| match r {
                redis::Value::Array(items) if items.len() >= 3 => {
                    let int = |v: &redis::Value| match v {
                        redis::Value::Int(i) => u16::try_from(*i).ok(),
                        _ => None,
                    };
                    let redis::Value::Array(node) = &items[2] else {
                        return None;
                    };
                    let host = match node.first()? {
                        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                        _ => return None,
                    };
                    Some((int(&items[0])?, int(&items[1])?, (host, int(node.get(1)?)?)))
                }
                _ => None,
            })
            .collect();
        let mut nodes: Vec<(String, redis::Client)> = Vec::new();
        let mut owners = vec![0usize; 16384];
        for (start, end, (host, port)) in slots {
            let addr = format!("{host}:{port}");
            let i = match nodes.iter().position(|(a, _)| *a == addr) {
                Some(i) => i,
                None => {
                    nodes.push((addr.clone(), open(&format!("redis://{auth}{addr}"))?));
                    nodes.len() - 1
                }
            };
            for o in &mut owners[usize::from(start)..=usize::from(end)] {
                *o = i;
            }
        }
        Ok(RedisStats {
            nodes,
            slot_owners: Some(owners),
        })
    }

    /// Script calls, script time and process CPU of every node.
    fn per_node(&self) -> Result<Vec<EvalStats>, ratewarden::Error> {
        self.nodes.iter().map(|(_, c)| Self::evalsha(c)).collect()
    }

    fn evalsha(client: &redis::Client) -> Result<EvalStats, ratewarden::Error> {
        let mut c = client
            .get_connection_with_timeout(Duration::from_secs(2))
            .map_err(|e| ratewarden::Error::Connection {
                message: e.to_string(),
                source: None,
                outcome_unknown: false,
            })?;
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .arg("cpu")
            .query(&mut c)
            .map_err(server_error)?;
        let mut s = EvalStats {
            calls: 0,
            usec: 0,
            cpu_secs: 0.0,
        };
        for line in info.lines() {
            if let Some(v) = line
                .strip_prefix("used_cpu_user:")
                .or_else(|| line.strip_prefix("used_cpu_sys:"))
            {
                s.cpu_secs += v.trim().parse::<f64>().unwrap_or(0.0);
            }
        }
        for line in info
            .lines()
            .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        {
            for field in line.split_once(':').map_or("", |x| x.1).split(',') {
                match field.split_once('=') {
                    Some(("calls", v)) => s.calls += v.parse::<u64>().unwrap_or(0),
                    Some(("usec", v)) => s.usec += v.parse::<u64>().unwrap_or(0),
                    _ => {}
                }
            }
        }
        Ok(s)
    }
}

/// Every algorithm on one Redis in one run: throughput, latency, Redis time
/// per decision, and the memory one key costs at two sizes.
fn bench_all(args: &Args, quota: Quota) -> Result<(), ratewarden::Error> {
    if args.url.starts_with("memory://") {
        for a in Algorithm::ALL {
            println!("== {a}");
            bench_memory(args, quota, a)?;
        }
        return Ok(());
    }
    let stats = RedisStats::new(&args.url)?;
    let handle = ratewarden::runtime::handle();
    let clients: Arc<Vec<String>> = Arc::new((0..args.keys).map(|i| format!("bench-client-{i}")).collect());
    println!(
        "ratewarden bench --algorithm all on {}: concurrency {}, {} keys, capacity {} rate {}/s, {:?} per algorithm",
        args.url, args.concurrency, args.keys, args.capacity, args.rate, args.duration
    );
    let mut rows = Vec::new();
    for a in Algorithm::ALL {
        let limiter = Limiter::builder(&args.url).algorithm(a).build()?;
        handle.block_on(limiter.ping())?;
        let op = {
            let clients = clients.clone();
            move |i: usize| {
                let limiter = limiter.clone();
                let clients = clients.clone();
                async move {
                    let d = limiter.check(&clients[i % clients.len()], "/bench", quota, 1).await?;
                    Ok(d.allowed)
                }
            }
        };
        measure("warm-up", args.concurrency, Duration::from_secs(1), op.clone())?;
        let phase = measure_redis(&stats, a.as_str(), args.concurrency, args.duration, op, None)?;
        let small = key_memory(&args.url, a, Quota::new(100, 100), 100)?;
        let large = key_memory(&args.url, a, Quota::new(100_000, 100_000), 100_000)?;
        rows.push((a, phase, small, large));
    }
    println!(
        "\n| algorithm | decisions/s | p50 us | p99 us | Redis script us/decision | Redis CPU us/decision | client CPU us/decision | MEMORY USAGE per key, 100/s full | 100,000/s full |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (a, p, small, large) in rows {
        println!(
            "| {a} | {:.0} | {} | {} | {:.1} | {:.1} | {:.1} | {small} B | {large} B |",
            p.per_sec(),
            p.pct(0.5),
            p.pct(0.99),
            p.redis_usec_per_call.unwrap_or(f64::NAN),
            p.redis_cpu_per_call.unwrap_or(f64::NAN),
            p.client_cpu_us(),
        );
    }
    Ok(())
}

/// Fill one key of `algorithm` with `admissions` requests at `quota`, then
/// read `MEMORY USAGE` of it.
fn key_memory(url: &str, algorithm: Algorithm, quota: Quota, admissions: u64) -> Result<u64, ratewarden::Error> {
    let limiter = Limiter::builder(url).algorithm(algorithm).build()?;
    let client = format!("bench-memory-{}-{}", algorithm.as_str(), std::process::id());
    let handle = ratewarden::runtime::handle();
    let l = limiter.clone();
    let c = client.clone();
    handle.block_on(async move {
        // Batches of concurrent calls: the key's state as it is under load.
        let mut left = admissions;
        while left > 0 {
            let n = left.min(256);
            let calls: Vec<_> = (0..n)
                .map(|_| {
                    let (l, c) = (l.clone(), c.clone());
                    async move { l.check(&c, "/mem", quota, 1).await }
                })
                .collect();
            for r in futures_join(calls).await {
                r?;
            }
            left -= n;
        }
        Ok::<_, ratewarden::Error>(())
    })?;
    let key = limiter
        .redis_key(&client, "/mem", quota)
        .ok_or_else(|| ratewarden::Error::Internal("no Redis key".into()))?;
    let mut conn = redis::Client::open(url)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .map_err(|e| ratewarden::Error::Connection {
            message: e.to_string(),
            source: None,
            outcome_unknown: false,
        })?;
    let bytes: Option<u64> = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(&key)
        .query(&mut conn)
        .map_err(|e| ratewarden::Error::Server {
            message: e.to_string(),
            source: None,
        })?;
    Ok(bytes.unwrap_or(0))
}

/// Await every future (spawned on the core runtime) and collect the results.
async fn futures_join<F, T>(futs: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs
        .into_iter()
        .map(|f| ratewarden::runtime::handle().spawn(f))
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

fn connect(client: &redis::Client) -> Result<redis::Connection, ratewarden::Error> {
    client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|e| ratewarden::Error::Connection {
            message: e.to_string(),
            source: None,
            outcome_unknown: false,
        })
}

fn server_error(e: redis::RedisError) -> ratewarden::Error {
    ratewarden::Error::Server {
        message: e.to_string(),
        source: None,
    }
}
