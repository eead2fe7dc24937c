//! A throwaway LAN of network namespaces for partition tests (root only).
//!
//! `Lan::new(n)` makes `n` host namespaces, each with one veth `eth0` and an
//! address 10.A.B.(i+1)/24, all plugged into a bridge that lives in a switch
//! namespace of its own, plus one veth from the test's own namespace into
//! the switch (address 10.A.B.254), so the test process reaches every host.
//! `cut(i)` takes host `i`'s switch port down: host `i` (and whatever runs in
//! it) still reaches itself and nothing else; nobody reaches it. `heal(i)`
//! plugs it back in. Everything — namespaces, veths, the bridge — is removed
//! on drop; namespaces left behind by a killed earlier run of a test process
//! whose pid is gone are removed on the next `Lan::new`.
//!
//! Traffic only ever goes to addresses of the namespaces made here.

use std::process::{Command, Stdio};

pub struct Lan {
    /// Names start with this (`rwp<pid>-<n>`), so stale ones can be found.
    prefix: String,
    /// The root-side end of the test's own veth into the switch.
    host_end: String,
    subnet: String,
    hosts: usize,
}

const STALE_PREFIX: &str = "rwp";

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the ip command (iproute2) must be installed");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn namespaces() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Remove namespaces (and root-side veths) of test processes that no longer run.
fn remove_stale() {
    for ns in namespaces() {
        let Some(rest) = ns.strip_prefix(STALE_PREFIX) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(pid) = pid.parse::<u32>() else { continue };
        // (A veth dies with its peer's namespace: the root-side ends go too.)
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

/// A 10.x.y.0/24 that no route of this namespace covers.
fn free_subnet() -> String {
    let routes = Command::new("ip")
        .args(["-4", "route", "show", "table", "all"])
        .output()
        .expect("ip route");
    let routes = String::from_utf8_lossy(&routes.stdout).into_owned();
    let pid = std::process::id();
    (0..250u32)
        .map(|k| format!("10.{}.{}", 100 + (pid + k) % 150, (pid / 150 + k * 7) % 250))
        .find(|s| !routes.contains(&format!("{s}.")))
        .expect("a free 10.x.y.0/24")
}

impl Lan {
    /// Make `hosts` namespaces on one bridge. Panics (with `ip`'s message)
    /// if namespaces cannot be made — the test needs root.
    pub fn new(hosts: usize) -> Self {
        remove_stale();
        let n = unique();
        let lan = Lan {
            prefix: format!("{STALE_PREFIX}{}-{n}", std::process::id()),
            // at most 15 characters
            host_end: format!("{STALE_PREFIX}{}h{n}", std::process::id()),
            subnet: free_subnet(),
            hosts,
        };
        let sw = lan.switch();
        ip(&["netns", "add", &sw]);
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &sw, "link", "set", "br0", "up"]);
        for i in 0..hosts {
            let ns = lan.ns(i);
            ip(&["netns", "add", &ns]);
            let port = format!("p{i}");
            ip(&[
                "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port, "netns", &sw,
            ]);
            ip(&["-n", &ns, "addr", "add", &format!("{}/24", lan.ip(i)), "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&["-n", &sw, "link", "set", &port, "master", "br0"]);
            ip(&["-n", &sw, "link", "set", &port, "up"]);
        }
        // The test's own namespace joins the LAN as .254.
        let host_end = &lan.host_end;
        ip(&[
            "link", "add", host_end, "type", "veth", "peer", "name", "uplink", "netns", &sw,
        ]);
        ip(&["addr", "add", &format!("{}.254/24", lan.subnet), "dev", host_end]);
        ip(&["link", "set", host_end, "up"]);
        ip(&["-n", &sw, "link", "set", "dev", "uplink", "master", "br0"]);
        ip(&["-n", &sw, "link", "set", "dev", "uplink", "up"]);
        lan
    }

    fn switch(&self) -> String {
        format!("{}sw", self.prefix)
    }

    /// The namespace of host `i`.
    pub fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.prefix)
    }

    /// The address of host `i`.
    pub fn ip(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, i + 1)
    }

    /// Take host `i` off the LAN (its switch port down): a partition.
    pub fn cut(&self, i: usize) {
        ip(&["-n", &self.switch(), "link", "set", &format!("p{i}"), "down"]);
    }

    /// Plug host `i` back in.
    pub fn heal(&self, i: usize) {
        ip(&["-n", &self.switch(), "link", "set", &format!("p{i}"), "up"]);
    }
}

fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

impl Drop for Lan {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.host_end]).status();
        for i in 0..self.hosts {
            let _ = Command::new("ip").args(["netns", "del", &self.ns(i)]).status();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.switch()]).status();
    }
}
