//! The script (every algorithm, see `algorithm/lua/`), called by SHA with a
//! transparent fallback — the one place that handles `NOSCRIPT`.
//!
//! Every call sends `EVALSHA`; when the server answers `NOSCRIPT` (after a
//! restart, a failover or `SCRIPT FLUSH`) the call is repeated once with the
//! script loaded again (`EVAL` for one call; `SCRIPT LOAD` then `EVALSHA` in
//! a pipeline). A script that the server does not know never ran, so the
//! retry cannot double-count.

use std::sync::OnceLock;

use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value};

/// One Lua script with its SHA-1.
#[derive(Debug)]
pub(crate) struct Script {
    pub(crate) body: &'static str,
    sha: OnceLock<String>,
}

impl Script {
    const fn new(body: &'static str) -> Self {
        Script {
            body,
            sha: OnceLock::new(),
        }
    }

    pub(crate) fn sha(&self) -> &str {
        self.sha
            .get_or_init(|| redis::Script::new(self.body).get_hash().to_owned())
    }

    /// `EVALSHA` (or, with `by_body`, `EVAL`) of this script on `keys`/`args`.
    pub(crate) fn cmd(&self, by_body: bool, keys: &[&[u8]], args: &[u64]) -> redis::Cmd {
        self.call_cmd(by_body, keys, args, false)
    }

    /// [`cmd`](Self::cmd), or with `cross` the Redis Cluster form: no key
    /// declared, `args[0..2]`, the index of the last argument before the
    /// keys, the rest of `args`, then the keys (see `prelude.lua`).
    fn call_cmd(&self, by_body: bool, keys: &[&[u8]], args: &[u64], cross: bool) -> redis::Cmd {
        let mut cmd = if by_body {
            let mut c = redis::cmd("EVAL");
            c.arg(self.body);
            c
        } else {
            let mut c = redis::cmd("EVALSHA");
            c.arg(self.sha());
            c
        };
        if cross {
            cmd.arg(0);
            let (head, rest) = args.split_at(args.len().min(2));
            for a in head {
                cmd.arg(*a);
            }
            cmd.arg(args.len() + 1);
            for a in rest {
                cmd.arg(*a);
            }
            for k in keys {
                cmd.arg(*k);
            }
            return cmd;
        }
        cmd.arg(keys.len());
        for k in keys {
            cmd.arg(*k);
        }
        for a in args {
            cmd.arg(*a);
        }
        cmd
    }
}

/// Every algorithm, batched, multi-limit (see `algorithm/lua/prelude.lua`),
/// joined from its parts by `build.rs`.
pub(crate) static RATEWARDEN: Script = Script::new(include_str!(concat!(env!("OUT_DIR"), "/ratewarden.lua")));

/// One script call: its keys, its arguments, and whether it goes in the
/// Redis Cluster form that may carry keys of several slots of one node
/// (`cross`: no key declared, see `prelude.lua`) or with declared keys.
pub(crate) struct Call<'a> {
    pub(crate) keys: Vec<&'a [u8]>,
    pub(crate) args: Vec<u64>,
    pub(crate) cross: bool,
}

impl Call<'_> {
    fn cmd(&self) -> redis::Cmd {
        RATEWARDEN.call_cmd(false, &self.keys, &self.args, self.cross)
    }
}

/// True when `err` says the server does not have the script cached.
fn is_noscript(err: &redis::RedisError) -> bool {
    err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) || err.code() == Some("NOSCRIPT")
}

fn is_noscript_value(v: &Value) -> bool {
    matches!(v, Value::ServerError(e) if e.code() == "NOSCRIPT")
}

/// One call of the script on `conn`, loading it again on `NOSCRIPT`.
pub(crate) async fn run(
    conn: &mut MultiplexedConnection,
    keys: &[&[u8]],
    args: &[u64],
    name: &str,
) -> RedisResult<Value> {
    let r = RATEWARDEN.cmd(false, keys, args).query_async::<Value>(conn).await;
    match r {
        Err(e) if is_noscript(&e) => {
            tracing::debug!(target: "ratewarden", "NOSCRIPT from {name}: loading the script again");
            RATEWARDEN.cmd(true, keys, args).query_async::<Value>(conn).await
        }
        r => r,
    }
}

/// Several calls in one pipeline, each preceded by `ASKING` if `asking`
/// (a Redis Cluster slot being imported); one reply per call, a server
/// error (`MOVED`, a script error) as [`Value::ServerError`] in its place.
/// Calls answered `NOSCRIPT` are sent again, after `SCRIPT LOAD`, in a
/// second pipeline; if that one fails, only those calls carry its error —
/// the others ran, and keep their replies.
pub(crate) async fn run_all(
    conn: &mut MultiplexedConnection,
    calls: &[Call<'_>],
    asking: bool,
    name: &str,
) -> RedisResult<Vec<RedisResult<Value>>> {
    let pipeline = |load: bool, which: &[usize]| {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        if load {
            pipe.cmd("SCRIPT").arg("LOAD").arg(RATEWARDEN.body).ignore();
        }
        for &i in which {
            if asking {
                pipe.cmd("ASKING").ignore();
            }
            pipe.add_command(calls[i].cmd());
        }
        pipe
    };
    let all: Vec<usize> = (0..calls.len()).collect();
    let first: Vec<Value> = pipeline(false, &all).query_async(conn).await?;
    let missing: Vec<usize> = (0..first.len()).filter(|&i| is_noscript_value(&first[i])).collect();
    let mut replies: Vec<RedisResult<Value>> = first.into_iter().map(Ok).collect();
    if !missing.is_empty() {
        tracing::debug!(target: "ratewarden", "NOSCRIPT from {name}: loading the script again");
        match pipeline(true, &missing).query_async::<Vec<Value>>(conn).await {
            Ok(again) => {
                for (i, v) in missing.into_iter().zip(again) {
                    replies[i] = Ok(v);
                }
            }
            Err(e) => {
                for i in missing {
                    replies[i] = Err(e.clone());
                }
            }
        }
    }
    Ok(replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_declares_a_shebang_and_has_a_stable_sha() {
        assert!(RATEWARDEN.body.starts_with("#!lua flags=allow-cross-slot-keys\n"));
        assert!(RATEWARDEN.body.trim_end().ends_with("return out"));
        assert_eq!(RATEWARDEN.sha().len(), 40);
        let packed = RATEWARDEN.cmd(false, &[b"k"], &[1, 2]).get_packed_command();
        assert!(String::from_utf8_lossy(&packed).contains("EVALSHA"));
    }

    #[test]
    fn the_cluster_form_declares_no_key_and_says_where_the_keys_start() {
        let call = Call {
            keys: vec![b"a", b"b"],
            args: vec![0, 2, 1, 21, 5, 9, 1, 0, 0],
            cross: true,
        };
        let words: Vec<String> = call
            .cmd()
            .args_iter()
            .map(|a| match a {
                redis::Arg::Simple(b) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            })
            .collect();
        // EVALSHA sha 0 | now n | kb | the rest | keys: ARGV[kb + 1] is "a".
        assert_eq!(
            words[2..],
            ["0", "0", "2", "10", "1", "21", "5", "9", "1", "0", "0", "a", "b"]
        );
        let kb: usize = words[5].parse().unwrap();
        assert_eq!(words[3 + kb], "a");
    }
}
