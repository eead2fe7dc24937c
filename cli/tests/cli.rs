//! The `ratewarden` binary, end to end: exit codes, JSON, both backends.

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn ratewarden(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ratewarden"))
        .args(args)
        .output()
        .expect("run ratewarden");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Server(Child, u16);

impl Server {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(20));
        }
        Server(child, port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn check_on_redis_counts_across_processes_and_prints_json() {
    let server = Server::start();
    let url = format!("redis://127.0.0.1:{}", server.1);
    let args = [
        "check",
        "--url",
        &url,
        "--client",
        "cli",
        "--endpoint",
        "/x",
        "--capacity",
        "2",
        "--rate",
        "1",
        "--json",
    ];
    let (code, out, _) = ratewarden(&args);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("\"allowed\":true") && out.contains("\"remaining\":1"),
        "{out}"
    );
    assert_eq!(ratewarden(&args).0, 0);
    // Third process: denied, exit code 3, Retry-After material present.
    let (code, out, _) = ratewarden(&args);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("\"allowed\":false") && out.contains("\"retry_after_ms\":"),
        "{out}"
    );
}

#[test]
fn check_reports_errors_with_exit_code_1() {
    let (code, _, err) = ratewarden(&[
        "check",
        "--client",
        "",
        "--endpoint",
        "/x",
        "--capacity",
        "1",
        "--rate",
        "1",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid_argument"), "{err}");
    // Nothing listens on this port: a connection error within the deadline.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}");
    let start = Instant::now();
    let (code, out, _) = ratewarden(&[
        "check",
        "--url",
        &url,
        "--client",
        "c",
        "--endpoint",
        "/x",
        "--capacity",
        "1",
        "--rate",
        "1",
        "--json",
        "--timeout",
        "300ms",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("\"kind\":\"connection\"") || out.contains("\"kind\":\"timeout\""),
        "{out}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn memory_check_is_the_default() {
    let (code, out, _) = ratewarden(&[
        "check",
        "--client",
        "c",
        "--endpoint",
        "/x",
        "--capacity",
        "1",
        "--rate",
        "1",
    ]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ALLOWED"), "{out}");
}

#[test]
fn demo_and_bench_run_on_redis() {
    let server = Server::start();
    let url = format!("redis://127.0.0.1:{}", server.1);
    let (code, out, err) = ratewarden(&["demo", "--url", &url, "--duration", "2s", "--instances", "3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("the global limit held across 3 instances"), "{out}");
    let (code, out, err) = ratewarden(&[
        "bench",
        "--url",
        &url,
        "--duration",
        "1s",
        "--keys",
        "100",
        "--concurrency",
        "8",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("library") && out.contains("bare redis") && out.contains("ratio"),
        "{out}"
    );
}

/// `bench` on a Redis Cluster with `--compare` against one Redis: both are
/// measured, each master gets a line with its share, and a ratio is printed.
#[test]
fn bench_on_a_cluster_compared_with_one_redis() {
    let cluster = common::RedisCluster::start_with_node_timeout(3, 0, 5000);
    let single = Server::start();
    let single_url = format!("redis://127.0.0.1:{}", single.1);
    let (code, out, err) = ratewarden(&[
        "bench",
        "--url",
        &cluster.url(),
        "--compare",
        &single_url,
        "--duration",
        "1s",
        "--keys",
        "300",
        "--concurrency",
        "8",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let masters: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with("master ")).collect();
    assert_eq!(masters.len(), 3, "{out}");
    assert!(
        masters.iter().all(|l| !l.contains(" 0 decisions")),
        "a master got no decisions:\n{out}"
    );
    assert!(
        out.contains(&format!("ratio {} / {single_url}", cluster.url())),
        "{out}"
    );
}

/// Read `watch` lines ("<unix ms> <policy>") from a child until `want` shows
/// up; returns the unix ms of that line.
fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, want: &str, within: Duration) -> u128 {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {want:?} line within {within:?}"));
        if let Some((ms, rest)) = line.split_once(' ') {
            if rest == want {
                return ms.parse().expect("unix ms");
            }
        }
    }
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[test]
fn policy_changes_reach_three_running_processes_within_a_second() {
    use std::io::BufRead;
    let server = Server::start();
    let url = format!("redis://127.0.0.1:{}", server.1);
    let (code, _, err) = ratewarden(&[
        "policy",
        "set",
        "--url",
        &url,
        "--endpoint",
        "/users",
        "--capacity",
        "10",
        "--rate",
        "5",
    ]);
    assert_eq!(code, 0, "{err}");
    // Three separate processes, each a limiter watching /users.
    let mut children = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ratewarden"))
            .args([
                "policy",
                "watch",
                "--url",
                &url,
                "--endpoint",
                "/users",
                "--duration",
                "30s",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn watcher");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        children.push(child);
        readers.push(rx);
    }
    for rx in &readers {
        wait_for_line(rx, "capacity=10 rate=5", Duration::from_secs(10));
    }
    // A change through the CLI (notified on pub/sub).
    let t0 = unix_ms();
    let (code, _, err) = ratewarden(&[
        "policy",
        "set",
        "--url",
        &url,
        "--endpoint",
        "/users",
        "--capacity",
        "100",
        "--rate",
        "50",
        "--algorithm",
        "gcra",
    ]);
    assert_eq!(code, 0, "{err}");
    for rx in &readers {
        let seen = wait_for_line(rx, "capacity=100 rate=50 algorithm=gcra", Duration::from_secs(2));
        assert!(
            seen.saturating_sub(t0) <= 1000,
            "seen {} ms after the change",
            seen - t0
        );
    }
    // A change written by hand, without a notification: the periodic
    // version check still brings every instance along.
    let t0 = unix_ms();
    let mut redis = std::net::TcpStream::connect(("127.0.0.1", server.1)).unwrap();
    use std::io::{Read, Write};
    redis
        .write_all(b"HSET ratewarden:{policies} /users \"capacity=7 rate=7\"\r\nINCR ratewarden:{policies}:version\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let _ = redis.read(&mut buf).unwrap();
    for rx in &readers {
        let seen = wait_for_line(rx, "capacity=7 rate=7", Duration::from_secs(2));
        assert!(
            seen.saturating_sub(t0) <= 1000,
            "seen {} ms after the change",
            seen - t0
        );
    }
    // Deleting falls back to the default policy, or to none.
    let (code, _, _) = ratewarden(&["policy", "delete", "--url", &url, "--endpoint", "/users"]);
    assert_eq!(code, 0);
    for rx in &readers {
        wait_for_line(rx, "none", Duration::from_secs(2));
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

#[test]
fn policy_commands_validate_and_list() {
    let (code, _, err) = ratewarden(&["policy", "set", "--endpoint", "/a", "--capacity", "0", "--rate", "1"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = ratewarden(&[
        "policy",
        "set",
        "--endpoint",
        "/a",
        "--capacity",
        "1",
        "--rate",
        "1",
        "--algorithm",
        "x",
    ]);
    assert_eq!(code, 1, "{err}");
    let server = Server::start();
    let url = format!("redis://127.0.0.1:{}", server.1);
    for (e, c) in [("/b", "2"), ("*", "9")] {
        assert_eq!(
            ratewarden(&[
                "policy",
                "set",
                "--url",
                &url,
                "--endpoint",
                e,
                "--capacity",
                c,
                "--rate",
                "1"
            ])
            .0,
            0
        );
    }
    let (_, out, _) = ratewarden(&["policy", "list", "--url", &url]);
    assert_eq!(out, "*: capacity=9 rate=1\n/b: capacity=2 rate=1\n");
    let (_, out, _) = ratewarden(&["policy", "get", "--url", &url, "--endpoint", "/elsewhere"]);
    assert_eq!(out, "/elsewhere: capacity=9 rate=1\n");
}

#[test]
fn quota_notation_peek_and_reset_on_redis() {
    let server = Server::start();
    let url = format!("redis://127.0.0.1:{}", server.1);
    let base = ["--url", url.as_str(), "--client", "q", "--endpoint", "/login"];
    let with = |cmd: &str, extra: &[&str]| {
        let mut a = vec![cmd];
        a.extend_from_slice(&base);
        a.extend_from_slice(extra);
        ratewarden(&a)
    };
    for i in 0..2 {
        let (code, out, err) = with("check", &["--quota", "2/minute", "--json"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("\"remaining\":{}", 1 - i)), "{out}");
    }
    // peek counts nothing, and says "denied" with the check's exit code.
    for _ in 0..3 {
        let (code, out, _) = with("peek", &["--quota", "2/minute", "--json"]);
        assert_eq!(code, 3, "{out}");
        assert!(
            out.contains("\"allowed\":false") && out.contains("\"limit\":2"),
            "{out}"
        );
    }
    let (code, out, _) = with("reset", &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = with("peek", &["--quota", "2/minute", "--json"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"remaining\":1"), "{out}");
    // Bad notation, or both forms: exit 1 with the error naming the part.
    let (code, _, err) = with("check", &["--quota", "10/fortnight"]);
    assert_eq!(code, 1);
    assert!(err.contains("fortnight"), "{err}");
    let (code, _, err) = with("check", &["--quota", "5/minute", "--capacity", "5", "--rate", "5"]);
    assert_eq!(code, 1);
    assert!(err.contains("not both"), "{err}");
    // A policy of several quotas.
    let (code, out, err) = ratewarden(&[
        "policy",
        "set",
        "--url",
        &url,
        "--endpoint",
        "/login",
        "--quota",
        "5/minute;20/hour",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("quota=5/minute;20/hour"), "{out}");
}
