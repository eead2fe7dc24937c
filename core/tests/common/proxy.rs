//! A fault proxy: a TCP relay on a free loopback port between a limiter and
//! a real Redis, whose behaviour the test switches at any time.
//!
//! * `Pass`: bytes flow both ways.
//! * `DropReplies`: requests reach Redis (so scripts run), replies are
//!   thrown away: the caller hears nothing, on that connection for good.
//! * `ResetOnReply`: requests reach Redis; when its reply comes, the
//!   client's connection is reset (RST) instead: a reply that never came.
//! * `BlackHole`: new connections are accepted and nothing is relayed,
//!   either way (a server that took the handshake and then went silent).
//! * `AfterHandshake`: a connection accepted in this mode gets its first
//!   reply (the client's handshake) and nothing after it, whatever the mode
//!   is later; connections accepted before keep relaying.
//! * `FlushMidPipeline` (one shot, then `Pass`): the next request chunk
//!   carrying two or more `EVALSHA` (a pipeline) is cut in half; between the
//!   halves the proxy runs `SCRIPT FLUSH` on Redis (so the calls of the first
//!   half run, those of the second answer `NOSCRIPT`), and when that
//!   connection then sends `SCRIPT LOAD` it is reset instead: the reload
//!   fails, nothing of it reaches Redis.
//!
//! `reset_all` resets every open connection (both ends) at once.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Pass = 0,
    DropReplies = 1,
    ResetOnReply = 2,
    BlackHole = 3,
    AfterHandshake = 4,
    FlushMidPipeline = 5,
}

struct Shared {
    mode: AtomicU8,
    stop: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
    upstream: String,
}

pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
}

/// Close with RST instead of FIN (SO_LINGER 0).
fn reset(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = s.shutdown(Shutdown::Both);
}

impl FaultProxy {
    /// Relay 127.0.0.1:<free port> to `upstream` ("host:port").
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            mode: AtomicU8::new(Mode::Pass as u8),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            upstream: upstream.to_owned(),
        });
        let s = shared.clone();
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.stop.load(Ordering::Acquire) {
                    break;
                }
                let Ok(client) = client else { continue };
                let _ = client.set_nodelay(true);
                if s.mode.load(Ordering::Acquire) == Mode::BlackHole as u8 {
                    // Keep it open and silent.
                    s.conns.lock().unwrap().push(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    reset(&client);
                    continue;
                };
                let _ = server.set_nodelay(true);
                {
                    let mut conns = s.conns.lock().unwrap();
                    conns.push(client.try_clone().unwrap());
                    conns.push(server.try_clone().unwrap());
                }
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let handshake_only = s.mode.load(Ordering::Acquire) == Mode::AfterHandshake as u8;
                let up = s.clone();
                std::thread::spawn(move || pump(client, server, &up, false, false));
                let down = s.clone();
                std::thread::spawn(move || pump(s2, c2, &down, true, handshake_only));
            }
        });
        FaultProxy { port, shared }
    }

    pub fn set(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::Release);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Reset every open connection, client and server side.
    pub fn reset_all(&self) {
        for c in self.shared.conns.lock().unwrap().drain(..) {
            reset(&c);
        }
    }
}

/// Copy `from` to `to` until either closes. `reply`: this is the
/// Redis-to-client direction, where the faults apply; `handshake_only`:
/// relay the first reply, drop every byte after it.
fn pump(mut from: TcpStream, mut to: TcpStream, s: &Shared, reply: bool, handshake_only: bool) {
    let mut buf = vec![0u8; 64 * 1024];
    // Once a reply was dropped, this connection never delivers again (as a
    // stream that lost bytes could not): the client must reconnect.
    let mut dropping = false;
    let mut reset_on_load = false;
    let _ = from.set_read_timeout(Some(Duration::from_millis(200)));
    loop {
        if s.stop.load(Ordering::Acquire) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        let mode = s.mode.load(Ordering::Acquire);
        if reply && (dropping || mode == Mode::DropReplies as u8) {
            dropping = true;
            continue;
        }
        if reply && mode == Mode::ResetOnReply as u8 {
            reset(&to);
            break;
        }
        let chunk = &buf[..n];
        if !reply && reset_on_load && contains(chunk, b"LOAD") {
            reset(&from);
            reset(&to);
            break;
        }
        if !reply
            && mode == Mode::FlushMidPipeline as u8
            && chunk.windows(7).filter(|w| w == b"EVALSHA").count() >= 2
            && s.mode
                .compare_exchange(mode, Mode::Pass as u8, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let (first, rest) = chunk.split_at(n / 2);
            if to.write_all(first).is_err() {
                break;
            }
            // Let Redis run the complete commands of the first half.
            std::thread::sleep(Duration::from_millis(50));
            script_flush(&s.upstream);
            reset_on_load = true;
            if to.write_all(rest).is_err() {
                break;
            }
            continue;
        }
        if to.write_all(chunk).is_err() {
            break;
        }
        dropping |= handshake_only;
    }
    let _ = to.shutdown(Shutdown::Both);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `SCRIPT FLUSH` on its own connection, waiting for the `+OK`.
fn script_flush(upstream: &str) {
    let mut c = TcpStream::connect(upstream).expect("connect for SCRIPT FLUSH");
    c.write_all(b"*2\r\n$6\r\nSCRIPT\r\n$5\r\nFLUSH\r\n").unwrap();
    let mut ok = [0u8; 5];
    c.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n", "SCRIPT FLUSH");
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.reset_all();
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
