//! A bounded soak: full speed over many distinct keys for a while, with a
//! line of figures every 10 s (decisions, errors, the slowest call, this
//! process's RSS and, on Redis, the server's `used_memory`). Run by
//! `scripts/soak.sh`, which also restarts Redis in the middle.
//!
//! ```text
//! cargo run --release -p ratewarden --example soak -- URL SECONDS KEYS
//! ```
//!
//! A call is *stuck* if it took longer than the deadline (500 ms) + 250 ms;
//! the run fails (exit status 1) if any was.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratewarden::{Limiter, Quota};

const DEADLINE: Duration = Duration::from_millis(500);
const STUCK: Duration = Duration::from_millis(750);
const TASKS: u64 = 64;

#[derive(Default)]
struct Counters {
    decisions: AtomicU64,
    errors: AtomicU64,
    stuck: AtomicU64,
    slowest_us: AtomicU64,
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// `used_memory` and `DBSIZE` of the Redis behind a `redis://` URL.
fn redis_memory(url: &str) -> Option<(u64, u64)> {
    let client = redis::Client::open(url).ok()?;
    let mut c = client.get_connection_with_timeout(Duration::from_millis(500)).ok()?;
    let info: String = redis::cmd("INFO").arg("memory").query(&mut c).ok()?;
    let used = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())?;
    let keys: u64 = redis::cmd("DBSIZE").query(&mut c).ok()?;
    Some((used, keys))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).cloned().unwrap_or_else(|| "memory://soak".into());
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(600);
    let keys: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let l = Limiter::builder(&url).timeout(DEADLINE).build().expect("limiter");
    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (l, counters) = (l.clone(), counters.clone());
        tasks.push(tokio::spawn(async move {
            // A different walk over the keys per task (an LCG step).
            let mut i = t.wrapping_mul(2_654_435_761) % keys;
            let mut id = String::with_capacity(16);
            while Instant::now() < end {
                i = (i + 7_919 + t * 104_729) % keys;
                id.clear();
                use std::fmt::Write;
                let _ = write!(id, "k{i}");
                let began = Instant::now();
                let result = l.check(&id, "/soak", Quota::per_minute(100), 1).await;
                let took = began.elapsed();
                counters.decisions.fetch_add(1, Ordering::Relaxed);
                if result.is_err() {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
                if took > STUCK {
                    counters.stuck.fetch_add(1, Ordering::Relaxed);
                }
                counters
                    .slowest_us
                    .fetch_max(took.as_micros() as u64, Ordering::Relaxed);
                if result.is_err() {
                    // Redis is away: do not spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }));
    }
    println!("soak: {url}, {seconds} s, {keys} keys, {TASKS} tasks, deadline {DEADLINE:?}");
    println!("  t(s)   decisions/s   errors   slowest(ms)   rss(MiB)   redis used_memory(MiB)   keys");
    let mut last = 0;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(10).min(end.saturating_duration_since(Instant::now()))).await;
        let now = counters.decisions.load(Ordering::Relaxed);
        let errors = counters.errors.swap(0, Ordering::Relaxed);
        let slowest = counters.slowest_us.swap(0, Ordering::Relaxed);
        let memory = if url.starts_with("redis://") {
            let u = url.clone();
            tokio::task::spawn_blocking(move || redis_memory(&u))
                .await
                .ok()
                .flatten()
        } else {
            None
        };
        println!(
            "  {:>4}   {:>11}   {:>6}   {:>11.1}   {:>8.1}   {:>22}   {}",
            start.elapsed().as_secs(),
            (now - last) / 10,
            errors,
            slowest as f64 / 1000.0,
            rss_kib() as f64 / 1024.0,
            memory.map_or("-".into(), |(m, _)| format!("{:.1}", m as f64 / 1048576.0)),
            memory.map_or("-".into(), |(_, k)| k.to_string()),
        );
        last = now;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stuck = counters.stuck.load(Ordering::Relaxed);
    println!(
        "soak done: {} decisions, {} stuck (> {STUCK:?})",
        counters.decisions.load(Ordering::Relaxed),
        stuck
    );
    std::process::exit(i32::from(stuck > 0));
}
