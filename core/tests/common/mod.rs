//! Test harness: throwaway `redis-server` processes on free loopback ports.
//!
//! Installs nothing: `redis-server` must be on PATH (scripts/test.sh installs
//! it). Every server binds 127.0.0.1 only, keeps no data on disk, and is
//! killed when its handle drops.
#![allow(dead_code)]

pub mod netns;
pub mod proxy;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    /// The address it binds and announces (127.0.0.1 unless started in a
    /// network namespace of a [`netns::Lan`]).
    pub host: String,
    /// The network namespace it runs in (`ip netns exec`), if any.
    netns: Option<String>,
    /// TLS only (`tls-port`, also for the cluster bus and replication),
    /// with certificates from this [`TestCa`] directory.
    tls: Option<PathBuf>,
    child: Option<Child>,
    dir: PathBuf,
    /// Extra `redis-server` arguments (cluster mode, replication).
    extra: Vec<String>,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// A free port whose Redis Cluster bus port (port + 10000) is valid and
/// free too.
fn free_cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port <= 55535 && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

impl RedisServer {
    /// Start a server on a free port and wait until it answers PING.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Start a server with extra `redis-server` arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let port = if extra.contains(&"--cluster-enabled") {
            free_cluster_port()
        } else {
            free_port()
        };
        Self::start_at(None, "127.0.0.1", port, extra)
    }

    /// A TLS-only server on 127.0.0.1 (a free port) with `ca`'s server
    /// certificate; cluster bus and replication over TLS too.
    pub fn start_tls(ca: &TestCa, extra: &[&str]) -> Self {
        Self::start_full(None, "127.0.0.1", free_port(), Some(ca.dir.clone()), extra)
    }

    /// Start a server in network namespace `netns` (created by the test),
    /// bound to `host:port` there.
    pub fn start_at(netns: Option<&str>, host: &str, port: u16, extra: &[&str]) -> Self {
        Self::start_full(netns, host, port, None, extra)
    }

    fn start_full(netns: Option<&str>, host: &str, port: u16, tls: Option<PathBuf>, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("ratewarden-test-{}-{host}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let extra = extra.iter().map(|s| s.to_string()).collect();
        let mut s = RedisServer {
            port,
            host: host.to_string(),
            netns: netns.map(str::to_string),
            tls,
            child: None,
            dir,
            extra,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        // `ip netns exec` execs redis-server: the child's pid is the server's.
        let mut command = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "redis-server"]);
                c
            }
            None => Command::new("redis-server"),
        };
        match &self.tls {
            Some(ca) => {
                command
                    .args(["--port", "0", "--tls-port", &self.port.to_string()])
                    .args([
                        // Mutual TLS: clients present a certificate the CA signed.
                        "--tls-auth-clients",
                        "yes",
                        "--tls-cluster",
                        "yes",
                        "--tls-replication",
                        "yes",
                    ])
                    .arg("--tls-cert-file")
                    .arg(ca.join("cert.pem"))
                    .arg("--tls-key-file")
                    .arg(ca.join("key.pem"))
                    .arg("--tls-ca-cert-file")
                    .arg(ca.join("ca.pem"));
            }
            None => {
                command.args(["--port", &self.port.to_string()]);
            }
        }
        let child = command
            .args(["--bind", &self.host])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--protected-mode", "no"])
            .args(["--enable-debug-command", "local"])
            .args(["--loglevel", "warning"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = self.try_conn() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// `redis-cli` arguments to reach it (`--tls --cacert …` for TLS).
    pub fn cli_tls_args(&self) -> Vec<String> {
        match &self.tls {
            Some(ca) => vec![
                "--tls".into(),
                "--cacert".into(),
                ca.join("ca.pem").display().to_string(),
                "--cert".into(),
                ca.join("client.pem").display().to_string(),
                "--key".into(),
                ca.join("client.key").display().to_string(),
            ],
            None => Vec::new(),
        }
    }

    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn try_conn(&self) -> redis::RedisResult<redis::Connection> {
        self.try_conn_within(Duration::from_secs(2))
    }

    /// A connection, or an error if none is made within `timeout`.
    pub fn try_conn_within(&self, timeout: Duration) -> redis::RedisResult<redis::Connection> {
        let client = match &self.tls {
            Some(ca) => tls_client(&self.url(), ca)?,
            None => redis::Client::open(self.url())?,
        };
        client.get_connection_with_timeout(timeout)
    }

    /// What `ROLE` says ("master", "slave"), or None if the server does not
    /// answer (connecting within `timeout`).
    pub fn role(&self, timeout: Duration) -> Option<String> {
        let mut c = self.try_conn_within(timeout).ok()?;
        let v: redis::Value = redis::cmd("ROLE").query(&mut c).ok()?;
        match v {
            redis::Value::Array(items) => match items.first() {
                Some(redis::Value::BulkString(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            },
            _ => None,
        }
    }

    /// A plain synchronous connection for inspecting state.
    pub fn conn(&self) -> redis::Connection {
        self.try_conn().expect("connect to the test server")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// SIGKILL the server and wait for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGSTOP / SIGCONT: a server that accepts connections but never answers.
    pub fn pause(&self) {
        signal(self.pid(), "-STOP");
    }

    pub fn resume(&self) {
        signal(self.pid(), "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig} {pid}");
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            // A stopped process ignores SIGKILL until continued on some kernels.
            let _ = Command::new("kill").arg("-CONT").arg(c.id().to_string()).status();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLS-only `redis-server` with a throwaway self-signed certificate
/// (made with the `openssl` command line tool).
pub struct TlsRedisServer {
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl TlsRedisServer {
    pub fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("ratewarden-tls-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        make_certs(&dir);
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--tls-auth-clients", "no"])
            .arg("--tls-cert-file")
            .arg(dir.join("cert.pem"))
            .arg("--tls-key-file")
            .arg(dir.join("key.pem"))
            .arg("--tls-ca-cert-file")
            .arg(dir.join("ca.pem"))
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "TLS redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsRedisServer { port, child, dir }
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("ca.pem")).expect("CA certificate")
    }
}

impl Drop for TlsRedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A throwaway CA, a server certificate it signed (for 127.0.0.1 and
/// localhost) and a client certificate it signed, in a directory removed on
/// drop: `ca.pem`, `cert.pem`, `key.pem`, `client.pem`, `client.key`.
/// Servers made with it require a client certificate (mutual TLS). One per test, shared by the servers of a TLS cluster or
/// Sentinel setup so that one CA verifies them all.
pub struct TestCa {
    pub dir: PathBuf,
}

impl TestCa {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("ratewarden-ca-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        make_certs(&dir);
        make_client_cert(&dir);
        TestCa { dir }
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("ca.pem")).expect("CA certificate")
    }

    /// The client certificate and its key (PEM).
    pub fn client_pem(&self) -> (Vec<u8>, Vec<u8>) {
        (
            std::fs::read(self.dir.join("client.pem")).expect("client certificate"),
            std::fs::read(self.dir.join("client.key")).expect("client key"),
        )
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn make_certs(dir: &std::path::Path) {
    // A throwaway CA and a server certificate signed by it.
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").expect("ext");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=ratewarden-test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    sign(dir, "/CN=localhost", "ext.cnf", "key.pem", "cert.pem");
}

/// `client.pem` / `client.key`: a client certificate the CA in `dir` signed.
fn make_client_cert(dir: &std::path::Path) {
    std::fs::write(dir.join("client.cnf"), "extendedKeyUsage=clientAuth\n").expect("client ext");
    sign(
        dir,
        "/CN=ratewarden-test-client",
        "client.cnf",
        "client.key",
        "client.pem",
    );
}

/// A new key (`key`) and a certificate for `subject` (`cert`) that the CA
/// in `dir` (`ca.pem`, `ca.key`) signed, with the extensions in `ext`.
fn sign(dir: &std::path::Path, subject: &str, ext: &str, key: &str, cert: &str) {
    let csr = format!("{cert}.csr");
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", key, "-out", &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            ext,
            "-out",
            cert,
        ],
    );
}

/// A client for a TLS server of the test CA in `ca`: trusts the CA and
/// presents the client certificate.
fn tls_client(url: &str, ca: &std::path::Path) -> redis::RedisResult<redis::Client> {
    let read = |f: &str| std::fs::read(ca.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    redis::Client::build_with_tls(
        url,
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: read("client.pem"),
                client_key: read("client.key"),
            }),
            root_cert: Some(read("ca.pem")),
        },
    )
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl must be installed (scripts/test.sh installs it)")
        .success();
    assert!(ok, "openssl {args:?} failed");
}

/// A local Redis Cluster: `masters` masters with `replicas` replicas each,
/// made with `redis-cli --cluster create`, `cluster-node-timeout` 1 s unless
/// told otherwise.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start(masters: usize, replicas: usize) -> Self {
        Self::start_with_node_timeout(masters, replicas, 1000)
    }

    pub fn start_with_node_timeout(masters: usize, replicas: usize, node_timeout_ms: u64) -> Self {
        let args = Self::node_args(node_timeout_ms);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let nodes = (0..masters * (1 + replicas))
            .map(|_| RedisServer::start_with(&args))
            .collect();
        Self::create(nodes, masters, replicas)
    }

    /// A cluster of TLS-only nodes (bus and replication over TLS too) whose
    /// certificates `ca` signed.
    pub fn start_tls(ca: &TestCa, masters: usize, replicas: usize) -> Self {
        let args = Self::node_args(1000);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let nodes = (0..masters * (1 + replicas))
            .map(|_| RedisServer::start_tls(ca, &args))
            .collect();
        Self::create(nodes, masters, replicas)
    }

    /// The `redis-server` arguments of a cluster node.
    pub fn node_args(node_timeout_ms: u64) -> Vec<String> {
        [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            &node_timeout_ms.to_string(),
            // a replica with a stale link may still be promoted
            "--cluster-replica-validity-factor",
            "0",
        ]
        .map(str::to_string)
        .to_vec()
    }

    /// Join started cluster-enabled `nodes` into a cluster
    /// (`redis-cli --cluster create`: the first `masters` become masters).
    pub fn create(nodes: Vec<RedisServer>, masters: usize, replicas: usize) -> Self {
        let mut create = Command::new("redis-cli");
        create.args(nodes[0].cli_tls_args());
        create.args(["--cluster", "create"]);
        for n in &nodes {
            create.arg(n.addr());
        }
        let out = create
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli must be installed (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let c = RedisCluster { nodes };
        c.wait_healthy(masters, Duration::from_secs(30));
        c
    }

    /// `redis+cluster://` with the first node as the only seed.
    pub fn url(&self) -> String {
        format!("redis+cluster://{}", self.nodes[0].addr())
    }

    /// Running nodes that are masters with slots.
    pub fn masters(&self) -> Vec<&RedisServer> {
        self.nodes
            .iter()
            .filter(|n| {
                n.is_running() && n.role(Duration::from_secs(2)).as_deref() == Some("master") && Self::owns_slots(n)
            })
            .collect()
    }

    fn owns_slots(n: &RedisServer) -> bool {
        let Ok(mut c) = n.try_conn() else { return false };
        let myself: String = redis::cmd("CLUSTER").arg("MYID").query(&mut c).unwrap_or_default();
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).unwrap_or_default();
        nodes
            .lines()
            .any(|l| l.starts_with(&myself) && l.split(' ').count() > 8)
    }

    /// Wait until every running node says `cluster_state:ok`, `masters`
    /// masters own slots, and every replica's link to its master is up.
    pub fn wait_healthy(&self, masters: usize, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ok = self.nodes.iter().filter(|n| n.is_running()).all(|n| {
                let Ok(mut c) = n.try_conn() else { return false };
                let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut c).unwrap_or_default();
                let repl: String = redis::cmd("INFO").arg("replication").query(&mut c).unwrap_or_default();
                info.contains("cluster_state:ok")
                    && (repl.contains("role:master") || repl.contains("master_link_status:up"))
            }) && self.masters().len() == masters;
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not become healthy within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The node that serves `key` now.
    pub fn owner(&self, key: &[u8]) -> &RedisServer {
        let any = self.masters()[0];
        let mut c = any.conn();
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut c)
            .expect("KEYSLOT");
        self.slot_owner(slot)
    }

    pub fn slot_owner(&self, slot: u16) -> &RedisServer {
        self.masters()
            .into_iter()
            .find(|m| {
                let mut c = m.conn();
                let slots: redis::Value = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c).expect("SLOTS");
                let redis::Value::Array(ranges) = slots else {
                    return false;
                };
                ranges.iter().any(|r| match r {
                    redis::Value::Array(items) => {
                        let int = |v: &redis::Value| match v {
                            redis::Value::Int(i) => *i,
                            _ => -1,
                        };
                        let port = match &items[2] {
                            redis::Value::Array(n) => int(&n[1]),
                            _ => -1,
                        };
                        int(&items[0]) <= i64::from(slot)
                            && i64::from(slot) <= int(&items[1])
                            && port == i64::from(m.port)
                    }
                    _ => false,
                })
            })
            .expect("some master owns the slot")
    }
}

/// One master, one replica and three Sentinels (quorum 2,
/// `down-after-milliseconds` 1000) watching it as `mymaster`.
pub struct SentinelSetup {
    pub servers: Vec<RedisServer>,
    pub sentinels: Vec<Sentinel>,
    /// TLS everywhere (servers, Sentinels, replication), this CA's directory.
    tls: Option<PathBuf>,
}

pub struct Sentinel {
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl SentinelSetup {
    pub fn start() -> Self {
        Self::start_maybe_tls(None, &|m| m.port)
    }

    /// The Sentinels watch the master at the port `via(master)` returns (a
    /// fault proxy in front of it, say): what they name to clients.
    pub fn start_watching(via: &dyn Fn(&RedisServer) -> u16) -> Self {
        Self::start_maybe_tls(None, via)
    }

    /// Everything TLS-only, certificates from `ca`: the servers (and their
    /// replication), the Sentinels, and the Sentinels' links to the servers.
    pub fn start_tls(ca: &TestCa) -> Self {
        Self::start_maybe_tls(Some(ca), &|m| m.port)
    }

    fn start_maybe_tls(ca: Option<&TestCa>, via: &dyn Fn(&RedisServer) -> u16) -> Self {
        let (master, replica) = match ca {
            Some(ca) => {
                let master = RedisServer::start_tls(ca, &[]);
                let replica = RedisServer::start_tls(ca, &["--replicaof", "127.0.0.1", &master.port.to_string()]);
                (master, replica)
            }
            None => {
                let master = RedisServer::start();
                let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
                (master, replica)
            }
        };
        let listen = |port: u16| match ca {
            Some(ca) => format!(
                "port 0\ntls-port {port}\ntls-auth-clients yes\ntls-replication yes\n\
                 tls-cert-file {0}/cert.pem\ntls-key-file {0}/key.pem\ntls-ca-cert-file {0}/ca.pem\n",
                ca.dir.display()
            ),
            None => format!("port {port}\n"),
        };
        let sentinels = (0..3)
            .map(|_| {
                let port = free_port();
                let dir = std::env::temp_dir().join(format!("ratewarden-sentinel-{}-{port}", std::process::id()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let conf = dir.join("sentinel.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "{}bind 127.0.0.1\nprotected-mode no\ndir {}\n\
                         sentinel monitor mymaster 127.0.0.1 {} 2\n\
                         sentinel down-after-milliseconds mymaster 1000\n\
                         sentinel failover-timeout mymaster 4000\n\
                         sentinel parallel-syncs mymaster 1\n",
                        listen(port),
                        dir.display(),
                        via(&master)
                    ),
                )
                .expect("sentinel.conf");
                let child = Command::new("redis-server")
                    .arg(&conf)
                    .arg("--sentinel")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-server --sentinel");
                Sentinel { port, child, dir }
            })
            .collect();
        let s = SentinelSetup {
            servers: vec![master, replica],
            sentinels,
            tls: ca.map(|ca| ca.dir.clone()),
        };
        s.wait_ready(Duration::from_secs(30));
        s
    }

    pub fn url(&self) -> String {
        let hosts: Vec<String> = self.sentinels.iter().map(|s| format!("127.0.0.1:{}", s.port)).collect();
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}+sentinel://{}/mymaster", hosts.join(","))
    }

    pub fn sentinel_conn(&self, port: u16) -> redis::RedisResult<redis::Connection> {
        let client = match &self.tls {
            Some(ca) => tls_client(&format!("rediss://127.0.0.1:{port}"), ca)?,
            None => redis::Client::open(format!("redis://127.0.0.1:{port}"))?,
        };
        client.get_connection_with_timeout(Duration::from_secs(1))
    }

    /// What the first answering Sentinel names as the master's port.
    pub fn master_port(&self) -> Option<u16> {
        self.sentinels.iter().find_map(|s| {
            let mut c = self.sentinel_conn(s.port).ok()?;
            let (_, port): (String, u16) = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg("mymaster")
                .query(&mut c)
                .ok()?;
            Some(port)
        })
    }

    pub fn server(&self, port: u16) -> &RedisServer {
        self.servers
            .iter()
            .find(|s| s.port == port)
            .expect("a server on that port")
    }

    pub fn server_mut(&mut self, port: u16) -> &mut RedisServer {
        self.servers
            .iter_mut()
            .find(|s| s.port == port)
            .expect("a server on that port")
    }

    /// Wait until every Sentinel knows the replica and the other Sentinels,
    /// and the replica's link is up.
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ready = self.sentinels.iter().all(|s| {
                let Ok(mut c) = self.sentinel_conn(s.port) else {
                    return false;
                };
                let master: Vec<String> = redis::cmd("SENTINEL")
                    .arg("master")
                    .arg("mymaster")
                    .query(&mut c)
                    .unwrap_or_default();
                let field = |name: &str| {
                    master
                        .iter()
                        .position(|f| f == name)
                        .and_then(|i| master.get(i + 1))
                        .and_then(|v| v.parse::<u32>().ok())
                        .unwrap_or(0)
                };
                field("num-slaves") >= 1 && field("num-other-sentinels") >= 2
            });
            let linked = self.servers.iter().filter(|s| s.is_running()).all(|s| {
                let Ok(mut c) = s.try_conn() else { return false };
                let repl: String = redis::cmd("INFO").arg("replication").query(&mut c).unwrap_or_default();
                repl.contains("role:master") || repl.contains("master_link_status:up")
            });
            if ready && linked {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Sentinels did not get ready within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
