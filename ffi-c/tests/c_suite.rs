//! Builds the C programs in tests/c with the system compiler against
//! include/ratewarden.h and both libratewarden.so and libratewarden.a, and
//! runs them against real redis-server processes (and once under valgrind).

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::RedisServer;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Directory holding the libraries cargo built for this test run.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let deps = exe.parent().expect("deps dir").to_path_buf();
    for dir in [deps.clone(), deps.join("..")] {
        if dir.join("libratewarden.so").exists() && dir.join("libratewarden.a").exists() {
            return dir;
        }
    }
    panic!(
        "libratewarden.so/.a not found next to {}; run `cargo build -p ratewarden-ffi` first",
        exe.display()
    );
}

fn out_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("ratewarden-c-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("out dir");
    d
}

fn compile(compiler: &str, std: &str, src: &str, out: &Path, link_static: bool) {
    let mut cmd = Command::new(compiler);
    cmd.args(["-Wall", "-Wextra", "-Werror", "-g", std]);
    if compiler == "c++" {
        cmd.arg("-pedantic");
    }
    cmd.arg("-I")
        .arg(repo().join("include"))
        .arg(repo().join(src))
        .arg("-o")
        .arg(out);
    if link_static {
        cmd.arg(lib_dir().join("libratewarden.a"))
            .args(["-lpthread", "-ldl", "-lm"]);
    } else {
        cmd.arg("-L").arg(lib_dir()).args(["-lratewarden", "-lpthread"]);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("{compiler} not runnable ({e}); scripts/test.sh installs it"));
    assert!(status.success(), "{compiler} failed on {src}");
}

fn run(program: &Path, args: &[&str], under_valgrind: bool) {
    let mut cmd = if under_valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "-q",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--error-exitcode=99",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = cmd
        .args(args)
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e})", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{stdout}\n{stderr}",
        program.display(),
        out.status
    );
}

fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("redis://127.0.0.1:{port}")
}

#[test]
fn c_api_on_memory_and_redis_shared_and_static() {
    let dir = out_dir();
    let shared = dir.join("test_api_shared");
    let stat = dir.join("test_api_static");
    compile("cc", "-std=c11", "tests/c/test_api.c", &shared, false);
    compile("cc", "-std=c11", "tests/c/test_api.c", &stat, true);
    let server = RedisServer::start();
    let down = closed_port_url();
    for program in [&shared, &stat] {
        run(program, &["memory://c-suite", &down], false);
        run(program, &[&server.url(), &down], false);
    }
    // Keys written through the options form carry its prefix.
    let keys: Vec<String> = redis::cmd("KEYS").arg("ctest:*").query(&mut server.conn()).unwrap();
    assert!(!keys.is_empty(), "no key with the configured prefix");
}

/// The same C program against a 3-master Redis Cluster (`redis+cluster://`).
#[test]
fn c_api_on_a_redis_cluster() {
    let program = out_dir().join("test_api_cluster");
    compile("cc", "-std=c11", "tests/c/test_api.c", &program, false);
    let cluster = common::RedisCluster::start_with_node_timeout(3, 0, 5000);
    run(&program, &[&cluster.url(), &closed_port_url()], false);
    let per_master: Vec<u64> = cluster
        .nodes
        .iter()
        .map(|n| redis::cmd("DBSIZE").query(&mut n.conn()).unwrap())
        .collect();
    assert!(per_master.iter().all(|&n| n > 0), "keys per master: {per_master:?}");
}

/// Random bytes (invalid UTF-8 too), NULLs, lengths and numbers into every
/// entry point (tests/c/test_fuzz.c, memory:// only): only documented result
/// codes, no crash — 20,000 rounds natively, 300 under valgrind (no invalid
/// access, no definite leak).
#[test]
fn c_api_takes_random_input() {
    let program = out_dir().join("test_fuzz");
    compile("cc", "-std=c11", "tests/c/test_fuzz.c", &program, false);
    run(&program, &["20000", "7"], false);
    run(&program, &["300", "11"], true);
}

#[test]
fn c_api_is_clean_under_valgrind() {
    let dir = out_dir();
    let shared = dir.join("test_api_valgrind");
    compile("cc", "-std=c11", "tests/c/test_api.c", &shared, false);
    let server = RedisServer::start();
    run(&shared, &[&server.url(), &closed_port_url()], true);
}

#[test]
fn header_compiles_as_cpp_and_links() {
    let out = out_dir().join("cpp_compat");
    compile("c++", "-std=c++17", "tests/c/cpp_compat.cpp", &out, false);
    run(&out, &[], false);
}

/// The C++17 wrapper (include/ratewarden.hpp): RAII and moves, decisions,
/// exceptions with codes and the std::error_code overloads, on memory:// and
/// a real Redis, a closed port; natively and under valgrind.
#[test]
fn cpp_wrapper_on_memory_and_redis_natively_and_under_valgrind() {
    let out = out_dir().join("test_cpp");
    compile("c++", "-std=c++17", "tests/c/test_cpp.cpp", &out, false);
    let server = RedisServer::start();
    let (url, closed) = (server.url(), closed_port_url());
    run(&out, &[&url, &closed, "native"], false);
    run(&out, &[&url, &closed, "valgrind"], true);
}

/// A C program driven over its stdin and stdout (it prints a step, waits
/// for a line): the child, its stdin and its stdout's lines.
fn driven(
    program: &Path,
    args: &[&str],
) -> (
    std::process::Child,
    std::process::ChildStdin,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut child = Command::new(program)
        .args(args)
        .env("LD_LIBRARY_PATH", lib_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    let stdin = child.stdin.take().unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, stdin, lines)
}

/// `ratewarden_last_outcome_unknown()`: true after a connection reset
/// instead of the reply (the fault proxy), false after a refused connection
/// or bad arguments.
#[test]
fn c_says_when_the_outcome_is_unknown() {
    use common::proxy::{FaultProxy, Mode};
    let out = out_dir().join("test_outcome");
    compile("cc", "-std=c11", "tests/c/test_outcome.c", &out, false);
    let server = RedisServer::start();
    let proxy = FaultProxy::start(&server.addr());
    let (mut child, mut stdin, mut lines) = driven(&out, &[&proxy.url(), &closed_port_url()]);
    assert_eq!(lines.next().unwrap().unwrap(), "READY");
    proxy.set(Mode::ResetOnReply);
    writeln!(stdin, "go").unwrap();
    assert_eq!(lines.next().map(|l| l.unwrap()).as_deref(), Some("DONE"));
    assert!(child.wait().unwrap().success());
}

/// Run `program URL extra...`, which prints KILL, waits, prints RESTART,
/// waits, and ends with a line "DONE ...": Redis is killed and restarted
/// at its word.
fn kill_and_restart_under(program: &Path, extra: &[&str]) {
    let mut server = RedisServer::start();
    let url = server.url();
    let args: Vec<&str> = std::iter::once(url.as_str()).chain(extra.iter().copied()).collect();
    let (mut child, mut stdin, mut lines) = driven(program, &args);
    assert_eq!(lines.next().unwrap().unwrap(), "KILL");
    server.kill();
    writeln!(stdin, "go").unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "RESTART");
    server.restart();
    writeln!(stdin, "go").unwrap();
    let last = lines.next().unwrap().unwrap();
    println!("{last}");
    assert!(last.starts_with("DONE"), "{last}");
    assert!(child.wait().unwrap().success());
}

#[test]
fn c_handle_survives_redis_kill_and_restart() {
    let out = out_dir().join("test_faults");
    compile("cc", "-std=c11", "tests/c/test_faults.c", &out, false);
    kill_and_restart_under(&out, &[]);
}

/// `ratewarden_set_log_callback`: Redis killed and restarted under a live
/// handle; the callback gets the connection, the warnings (at most one a
/// second) and the reconnection in order, and nothing once the limiter is
/// freed (checked by the program, which prints what it got).
#[test]
fn c_log_callback_sees_an_outage_in_order() {
    let out = out_dir().join("test_logging");
    compile("cc", "-std=c11", "tests/c/test_logging.c", &out, false);
    kill_and_restart_under(&out, &["callback"]);
}

/// Without a callback, `RATEWARDEN_LOG` decides what reaches stderr: warn
/// by default (the failure, not the connection), info adds the
/// connection, off nothing.
#[test]
fn c_logs_to_stderr_at_the_level_of_ratewarden_log() {
    let out = out_dir().join("test_logging");
    compile("cc", "-std=c11", "tests/c/test_logging.c", &out, false);
    for (level, connected, warned) in [
        (None, false, true),
        (Some("info"), true, true),
        (Some("off"), false, false),
    ] {
        let mut server = RedisServer::start();
        let mut cmd = Command::new(&out);
        cmd.args([&server.url(), "stderr"])
            .env("LD_LIBRARY_PATH", lib_dir())
            .env_remove("RATEWARDEN_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(l) = level {
            cmd.env("RATEWARDEN_LOG", l);
        }
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "KILL");
        server.kill();
        writeln!(stdin, "go").unwrap();
        assert_eq!(lines.next().unwrap().unwrap(), "DONE");
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let err = String::from_utf8_lossy(&output.stderr);
        println!("RATEWARDEN_LOG={level:?}:\n{err}");
        assert_eq!(
            err.contains(" INFO ratewarden: connected"),
            connected,
            "{level:?}: {err}"
        );
        assert_eq!(err.contains(" WARN ratewarden:"), warned, "{level:?}: {err}");
        if level == Some("off") {
            assert!(err.is_empty(), "{err}");
        }
    }
}

/// A callback is not called once `exit()` has begun, although a thread of
/// the program keeps failing calls (each logged at debug) meanwhile.
#[test]
fn c_log_callback_is_not_called_after_exit_begins() {
    let out = out_dir().join("test_logging");
    compile("cc", "-std=c11", "tests/c/test_logging.c", &out, false);
    let output = Command::new(&out)
        .args([&closed_port_url(), "exit"])
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{:?}\n{stdout}\n{stderr}", output.status);
    let n: u64 = stdout
        .trim()
        .strip_prefix("DONE ")
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(n > 0, "no record reached the callback before exit: {stdout}");
}
