//! `ratewarden demo`: several limiter instances (as if in several processes)
//! share the traffic of a few clients; the limit holds globally.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratewarden::{Limiter, Quota};

struct Profile {
    client: &'static str,
    endpoint: &'static str,
    quota: Quota,
    /// Requests per second the client sends, in total over all instances.
    sends_per_sec: u64,
    /// Sends in bursts every this many ms instead of evenly.
    burst_every_ms: Option<u64>,
}

const PROFILES: [Profile; 4] = [
    Profile {
        client: "alice",
        endpoint: "GET /search",
        quota: Quota::new(10, 10),
        sends_per_sec: 8,
        burst_every_ms: None,
    },
    Profile {
        client: "bob",
        endpoint: "GET /search",
        quota: Quota::new(10, 10),
        sends_per_sec: 200,
        burst_every_ms: None,
    },
    Profile {
        client: "bob",
        endpoint: "POST /upload",
        quota: Quota::new(5, 1),
        sends_per_sec: 20,
        burst_every_ms: None,
    },
    Profile {
        client: "carol",
        endpoint: "POST /upload",
        quota: Quota::new(5, 1),
        sends_per_sec: 10,
        burst_every_ms: Some(2000),
    },
];

#[derive(Default)]
struct Row {
    admitted: AtomicU64,
    denied: AtomicU64,
    errors: AtomicU64,
}

pub(crate) fn run(url: &str, duration: Duration, instances: usize) -> Result<(), ratewarden::Error> {
    let instances = instances.clamp(1, 64);
    let limiters = (0..instances)
        .map(|_| Limiter::builder(url).build())
        .collect::<Result<Vec<_>, _>>()?;
    let handle = ratewarden::runtime::handle();
    handle.block_on(async { limiters[0].ping().await })?;
    // A fresh namespace per run so earlier runs on the same Redis don't count.
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros())
    );
    println!(
        "ratewarden demo on {url}: {instances} limiter instances share the traffic of {} client/endpoint pairs for {duration:?}",
        PROFILES.len()
    );
    for p in &PROFILES {
        println!(
            "  {:<6} {:<13} sends {:>3}/s{}  limit: capacity {} at {}/s",
            p.client,
            p.endpoint,
            p.sends_per_sec,
            if p.burst_every_ms.is_some() { " in bursts" } else { "" },
            p.quota.capacity(),
            p.quota.rate_per_second()
        );
    }

    let rows: Arc<Vec<Row>> = Arc::new(PROFILES.iter().map(|_| Row::default()).collect());
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::new();
    for (pi, p) in PROFILES.iter().enumerate() {
        for (ii, limiter) in limiters.iter().enumerate() {
            let limiter = limiter.clone();
            let rows = rows.clone();
            let client = format!("{}-{run_id}", p.client);
            let per_instance = (p.sends_per_sec as f64 / instances as f64).max(0.5);
            let burst = p.burst_every_ms;
            tasks.push(handle.spawn(async move {
                let p = &PROFILES[pi];
                // Stagger instances so their requests interleave.
                let gap = Duration::from_secs_f64(1.0 / per_instance);
                tokio::time::sleep(gap.mul_f64(ii as f64 / instances as f64)).await;
                while Instant::now() < end {
                    let n = match burst {
                        Some(ms) => (per_instance * ms as f64 / 1000.0).round().max(1.0) as u64,
                        None => 1,
                    };
                    for _ in 0..n {
                        match limiter.check(&client, p.endpoint, p.quota, 1).await {
                            Ok(d) if d.allowed => rows[pi].admitted.fetch_add(1, Ordering::Relaxed),
                            Ok(_) => rows[pi].denied.fetch_add(1, Ordering::Relaxed),
                            Err(_) => rows[pi].errors.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                    let wait = burst.map_or(gap, Duration::from_millis);
                    tokio::time::sleep(wait.min(end.saturating_duration_since(Instant::now()))).await;
                }
            }));
        }
    }

    let mut last: Vec<(u64, u64, u64)> = vec![(0, 0, 0); PROFILES.len()];
    let mut second = 0;
    while Instant::now() < end {
        second += 1;
        let tick = start + Duration::from_secs(second);
        std::thread::sleep(
            tick.saturating_duration_since(Instant::now())
                .min(end.saturating_duration_since(Instant::now())),
        );
        println!("\n  t={second:>2}s  client endpoint        admitted  denied  errors");
        for (pi, p) in PROFILES.iter().enumerate() {
            let now = snapshot(&rows[pi]);
            let prev = std::mem::replace(&mut last[pi], now);
            println!(
                "         {:<6} {:<13} {:>9} {:>7} {:>7}",
                p.client,
                p.endpoint,
                now.0 - prev.0,
                now.1 - prev.1,
                now.2 - prev.2
            );
        }
    }
    for t in tasks {
        let _ = handle.block_on(t);
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!("\ntotals over {elapsed:.1}s (bound: capacity + rate x T for any interval T):");
    let mut held = true;
    for (pi, p) in PROFILES.iter().enumerate() {
        let (a, d, e) = snapshot(&rows[pi]);
        let bound = p.quota.capacity() as f64 + p.quota.rate_per_second() * elapsed;
        let ok = a as f64 <= bound;
        held &= ok;
        println!(
            "  {:<6} {:<13} admitted {:>5} (bound {:>6.0}) denied {:>6} errors {:>4}  {}",
            p.client,
            p.endpoint,
            a,
            bound,
            d,
            e,
            if ok { "held" } else { "EXCEEDED" }
        );
    }
    if held {
        println!("the global limit held across {instances} instances");
        Ok(())
    } else {
        Err(ratewarden::Error::Internal("a limit was exceeded".into()))
    }
}

fn snapshot(r: &Row) -> (u64, u64, u64) {
    (
        r.admitted.load(Ordering::Relaxed),
        r.denied.load(Ordering::Relaxed),
        r.errors.load(Ordering::Relaxed),
    )
}
