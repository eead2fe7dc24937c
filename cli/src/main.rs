//! `ratewarden`: run a demo, take one decision, or benchmark a backend.
//!
//! Exit codes of `check`: 0 allowed, 3 denied, 1 error, 2 bad usage.

mod bench;
mod demo;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ratewarden::{Quota, Quotas};

/// A quota on the command line: `--quota 5/minute` (or several:
/// `--quota "10/second;1000/hour"`), or `--capacity N --rate R`.
#[derive(Args, Clone)]
struct QuotaArgs {
    /// The quota in the notation: 5/minute, "10 per second", "5/15 minutes",
    /// "10/second;1000/hour".
    #[arg(long)]
    quota: Option<String>,
    /// Burst size (with --rate).
    #[arg(long)]
    capacity: Option<u64>,
    /// Sustained rate per second (with --capacity).
    #[arg(long)]
    rate: Option<u64>,
}

impl QuotaArgs {
    fn quotas(&self) -> Result<Quotas, ratewarden::Error> {
        Quotas::from_parts(self.quota.as_deref(), self.capacity, self.rate, None)
    }
}

#[derive(Parser)]
#[command(name = "ratewarden", version, about = "Exact distributed rate limiting on Redis")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Several limiter instances and clients hammer a few endpoints; prints
    /// admitted/denied per second and shows the global limit holding.
    Demo {
        /// Backend URL: memory://, redis://host:port, rediss://...
        #[arg(long, default_value = "memory://")]
        url: String,
        /// How long to run.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        duration: Duration,
        /// Number of limiter instances (each with its own connection).
        #[arg(long, default_value_t = 4)]
        instances: usize,
    },
    /// Take one decision and print it.
    Check {
        #[arg(long, default_value = "memory://")]
        url: String,
        #[arg(long)]
        client: String,
        #[arg(long)]
        endpoint: String,
        #[command(flatten)]
        quota: QuotaArgs,
        #[arg(long, default_value_t = 1)]
        cost: u64,
        /// Print the decision as one JSON object.
        #[arg(long)]
        json: bool,
        /// Per-call deadline.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        timeout: Duration,
        /// sliding_window_log (default), sliding_window_counter, fixed_window,
        /// token_bucket, gcra or leaky_bucket.
        #[arg(long, default_value = "sliding_window_log")]
        algorithm: String,
    },
    /// Print the decision a cost-1 check would get now, counting nothing.
    /// Exit code as for check.
    Peek {
        #[arg(long, default_value = "memory://")]
        url: String,
        #[arg(long)]
        client: String,
        #[arg(long)]
        endpoint: String,
        #[command(flatten)]
        quota: QuotaArgs,
        /// Print the decision as one JSON object.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        timeout: Duration,
        #[arg(long, default_value = "sliding_window_log")]
        algorithm: String,
    },
    /// Forget all state of a client on an endpoint (every algorithm and quota).
    Reset {
        #[arg(long, default_value = "memory://")]
        url: String,
        #[arg(long)]
        client: String,
        #[arg(long)]
        endpoint: String,
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Live limits: named policies stored in Redis (or memory://), seen by
    /// every running limiter within 1 s.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Replay one bursty arrival schedule on every algorithm (memory://, exact
    /// simulated time) and print CSV: algorithm,t_ms,admitted. Feeds
    /// scripts/plot-algorithms.py.
    Simulate {
        /// Burst size.
        #[arg(long, default_value_t = 10)]
        capacity: u64,
        /// Sustained rate per second.
        #[arg(long, default_value_t = 5)]
        rate: u64,
    },
    /// Decisions/s and latency percentiles; on Redis also the same script
    /// through a bare redis-rs client as the ceiling, and Redis CPU per call.
    Bench(bench::Args),
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Store a policy (endpoint "*" is the default for endpoints without one).
    Set {
        #[arg(long, default_value = "memory://")]
        url: String,
        #[arg(long)]
        endpoint: String,
        #[command(flatten)]
        quota: QuotaArgs,
        /// Algorithm; the deciding limiter's when omitted.
        #[arg(long)]
        algorithm: Option<String>,
        #[arg(long, default_value = ratewarden::DEFAULT_PREFIX)]
        key_prefix: String,
    },
    /// Print the policy an endpoint resolves to.
    Get {
        #[arg(long, default_value = "memory://")]
        url: String,
        #[arg(long)]
        endpoint: String,
        #[arg(long, default_value = ratewarden::DEFAULT_PREFIX)]
        key_prefix: String,
    },
    /// Print every policy.
    List {
        #[arg(long, default_value = "memory://")]
        url: String,
        #[arg(long, default_value = ratewarden::DEFAULT_PREFIX)]
        key_prefix: String,
    },
    /// Remove a policy.
    Delete {
        #[arg(long, default_value = "memory://")]
        url: String,
        #[arg(long)]
        endpoint: String,
        #[arg(long, default_value = ratewarden::DEFAULT_PREFIX)]
        key_prefix: String,
    },
    /// Print a line (unix ms and the policy) whenever the policy an endpoint
    /// resolves to changes, as a running instance sees it; stops after
    /// --duration.
    Watch {
        #[arg(long, default_value = "memory://")]
        url: String,
        #[arg(long)]
        endpoint: String,
        #[arg(long, default_value = ratewarden::DEFAULT_PREFIX)]
        key_prefix: String,
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        duration: Duration,
    },
}

fn policy(cmd: PolicyCommand) -> Result<(), ratewarden::Error> {
    use ratewarden::blocking::Limiter;
    let limiter = |url: &str, prefix: &str| Limiter::builder(url).key_prefix(prefix).build();
    match cmd {
        PolicyCommand::Set {
            url,
            endpoint,
            quota,
            algorithm,
            key_prefix,
        } => {
            let mut p = ratewarden::Policy::quota(quota.quotas()?)?;
            if let Some(a) = algorithm {
                p = p.algorithm(a.parse()?);
            }
            limiter(&url, &key_prefix)?.set_policy(&endpoint, p)?;
            println!("{endpoint}: {p}");
        }
        PolicyCommand::Get {
            url,
            endpoint,
            key_prefix,
        } => {
            let l = limiter(&url, &key_prefix)?;
            println!("{endpoint}: {}", l.resolved_policy(&endpoint)?);
        }
        PolicyCommand::List { url, key_prefix } => {
            let mut all: Vec<_> = limiter(&url, &key_prefix)?.policies()?.into_iter().collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, p) in all {
                println!("{name}: {p}");
            }
        }
        PolicyCommand::Delete {
            url,
            endpoint,
            key_prefix,
        } => {
            limiter(&url, &key_prefix)?.delete_policy(&endpoint)?;
            println!("{endpoint}: deleted");
        }
        PolicyCommand::Watch {
            url,
            endpoint,
            key_prefix,
            duration,
        } => {
            use std::io::Write;
            let l = limiter(&url, &key_prefix)?;
            let stop = std::time::Instant::now() + duration;
            let mut last: Option<String> = None;
            while std::time::Instant::now() < stop {
                let now = match l.resolved_policy(&endpoint) {
                    Ok(p) => p.to_string(),
                    Err(e) if e.is_invalid_argument() => "none".to_owned(),
                    Err(e) => return Err(e),
                };
                if last.as_deref() != Some(now.as_str()) {
                    let ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis();
                    println!("{ms} {now}");
                    let _ = std::io::stdout().flush();
                    last = Some(now);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    Ok(())
}

/// Parse `10s`, `500ms`, `2m` or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let v: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return Err(format!("unknown unit in {s:?}; use ms, s or m")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(format!("duration out of range: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RATEWARDEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo {
            url,
            duration,
            instances,
        } => demo::run(&url, duration, instances),
        Command::Check {
            url,
            client,
            endpoint,
            quota,
            cost,
            json,
            timeout,
            algorithm,
        } => {
            return check(
                &url,
                &client,
                &endpoint,
                (quota.quotas(), Some(cost), &algorithm),
                json,
                timeout,
            )
        }
        Command::Peek {
            url,
            client,
            endpoint,
            quota,
            json,
            timeout,
            algorithm,
        } => {
            return check(
                &url,
                &client,
                &endpoint,
                (quota.quotas(), None, &algorithm),
                json,
                timeout,
            )
        }
        Command::Reset {
            url,
            client,
            endpoint,
            timeout,
        } => ratewarden::blocking::Limiter::builder(&url)
            .timeout(timeout)
            .build()
            .and_then(|l| l.reset(&client, &endpoint))
            .map(|()| println!("{client} {endpoint}: reset")),
        Command::Simulate { capacity, rate } => simulate(Quota::new(capacity, rate)),
        Command::Policy(cmd) => policy(cmd),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `check` (with a cost) or `peek` (without), printed; the exit code says
/// allowed (0) or denied (3).
fn check(
    url: &str,
    client: &str,
    endpoint: &str,
    (quota, cost, algorithm): (Result<Quotas, ratewarden::Error>, Option<u64>, &str),
    json: bool,
    timeout: Duration,
) -> ExitCode {
    let decision = quota.and_then(|quota| {
        let a = algorithm.parse::<ratewarden::Algorithm>()?;
        let l = ratewarden::blocking::Limiter::builder(url)
            .timeout(timeout)
            .algorithm(a)
            .build()?;
        match cost {
            Some(cost) => l.check(client, endpoint, quota, cost),
            None => l.peek(client, endpoint, quota),
        }
    });
    let d = match decision {
        Ok(d) => d,
        Err(e) => {
            if json {
                println!(
                    "{{\"error\":{{\"kind\":\"{}\",\"message\":{}}}}}",
                    e.kind(),
                    json_string(&e.to_string())
                );
            } else {
                eprintln!("error ({}): {e}", e.kind());
            }
            return ExitCode::FAILURE;
        }
    };
    if json {
        println!(
            "{{\"allowed\":{},\"limit\":{},\"remaining\":{},\"retry_after_ms\":{},\"reset_after_ms\":{}}}",
            d.allowed,
            d.limit,
            d.remaining,
            d.retry_after.as_millis(),
            d.reset_after.as_millis()
        );
    } else {
        println!(
            "{} {client} {endpoint}: limit={} remaining={} retry_after={:?} reset_after={:?}",
            if d.allowed { "ALLOWED" } else { "DENIED" },
            d.limit,
            d.remaining,
            d.retry_after,
            d.reset_after
        );
    }
    if d.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The schedule behind the README's plot: bursts at and around window edges,
/// a steady stream above the rate, idle time, and a final burst. One request
/// per (time, ms) entry; times in milliseconds.
fn schedule() -> Vec<u64> {
    let mut t = Vec::new();
    t.extend(std::iter::repeat_n(0, 30)); // a burst at the start
    t.extend(std::iter::repeat_n(1_990, 20)); // just before a 2 s window edge
    t.extend(std::iter::repeat_n(2_000, 20)); // on it
    t.extend((0..150).map(|i| 3_000 + i * 20)); // 50/s for 3 s
    t.extend(std::iter::repeat_n(9_000, 30)); // after an idle stretch
    t.extend((0..100).map(|i| 10_000 + i * 30)); // 33/s for 3 s
    t
}

fn simulate(quota: Quota) -> Result<(), ratewarden::Error> {
    println!("algorithm,t_ms,admitted");
    for a in ratewarden::Algorithm::ALL {
        let l = ratewarden::blocking::Limiter::connect(&format!("memory://simulate-{a}"))?;
        let limit = [ratewarden::Limit::new("/sim", quota).algorithm(a)];
        // Far from zero, so that every algorithm starts mid-window alike.
        let base = 1_700_000_000_000_000u64;
        for (i, ms) in schedule().into_iter().enumerate() {
            // Requests sharing a millisecond are a microsecond apart.
            let at = base + ms * 1000 + (i as u64 % 1000);
            let d = l.__check_all_at(at, "sim", &limit)?;
            println!("{a},{ms},{}", u8::from(d.allowed));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn json_strings_escape() {
        assert_eq!(json_string("a\"b\\\n"), "\"a\\\"b\\\\\\u000a\"");
    }
}
