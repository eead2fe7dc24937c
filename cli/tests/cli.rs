//! The `ratewarden` binary, end to end: exit codes, JSON, both backends.

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
