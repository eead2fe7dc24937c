//! The algorithms as Lua scripts, called by SHA with a transparent fallback.
//!
//! Every call sends `EVALSHA`; when the server answers `NOSCRIPT` (after a
//! restart, a failover or `SCRIPT FLUSH`) the same call is repeated once as
//! `EVAL` with the body, which runs it *and* caches it again. Running a
//! script that the server does not know has no effect, so the retry cannot
//! double-count.

use std::sync::OnceLock;

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
        let mut cmd = if by_body {
            let mut c = redis::cmd("EVAL");
            c.arg(self.body);
            c
        } else {
            let mut c = redis::cmd("EVALSHA");
            c.arg(self.sha());
            c
        };
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

/// Every algorithm, batched, multi-limit (see the script's header).
pub(crate) static RATEWARDEN: Script = Script::new(include_str!("scripts/ratewarden.lua"));

/// True when `err` says the server does not have the script cached.
pub(crate) fn is_noscript(err: &redis::RedisError) -> bool {
    err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) || err.code() == Some("NOSCRIPT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_declare_a_shebang_and_have_a_stable_sha() {
        assert!(RATEWARDEN.body.starts_with("#!lua\n"));
        assert_eq!(RATEWARDEN.sha().len(), 40);
        let packed = RATEWARDEN.cmd(false, &[b"k"], &[1, 2]).get_packed_command();
        assert!(String::from_utf8_lossy(&packed).contains("EVALSHA"));
    }
}
