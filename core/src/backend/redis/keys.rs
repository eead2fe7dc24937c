//! The Redis key scheme.
//!
//! A key is `<prefix>{<tag>}:<algorithm>[#<n>]:<len(client)>:<client>:<endpoint>`:
//!
//! * `#<n>` (n = 2, 3, ...) tells apart the quotas of one check that share
//!   an endpoint and an algorithm (`"10/second;1000/hour"`): they are ranked
//!   by period, shortest first, and the first keeps the plain key, so a
//!   single quota — given as numbers or as notation — always has the plain
//!   key, and adding a longer quota to it keeps its state. `reset` deletes
//!   every algorithm's key with every rank up to `MAX_QUOTAS`;
//! * the client's length prefix makes the encoding injective (`a:b` + `c` and
//!   `a` + `b:c` differ), whatever bytes the ids contain;
//! * the hash tag is 16 hex digits of a stable 64-bit FNV-1a hash of the
//!   client id, so a `}` or `{` inside an id can never end or start a tag, and
//!   every key of one client lands in one Redis Cluster slot (multi-limit
//!   checks across endpoints of a client stay single-slot);
//! * the prefix may not contain braces, so it cannot steal the tag.

use crate::error::{Error, Result};

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "ratewarden:";
/// Longest accepted key prefix, in bytes.
pub const MAX_PREFIX_LEN: usize = 128;

pub(crate) fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(Error::invalid_argument(format!(
            "key prefix is {} bytes; at most {MAX_PREFIX_LEN} are allowed",
            prefix.len()
        )));
    }
    if prefix.contains(['{', '}']) {
        return Err(Error::invalid_argument(
            "key prefix must not contain '{' or '}' (they would change the Redis Cluster hash slot)",
        ));
    }
    Ok(())
}

/// Stable FNV-1a, 64 bit. Never change it: it decides where existing state lives.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The hash tag of a client, including braces: `{0123456789abcdef}`.
pub(crate) fn client_tag(client_id: &str) -> String {
    format!("{{{:016x}}}", fnv1a64(client_id.as_bytes()))
}

/// The key for one (algorithm, rank, client, endpoint).
pub(crate) fn key(prefix: &str, algorithm: &str, rank: u8, client_id: &str, api_endpoint: &str) -> Vec<u8> {
    let tag = client_tag(client_id);
    let mut k =
        Vec::with_capacity(prefix.len() + tag.len() + algorithm.len() + client_id.len() + api_endpoint.len() + 12);
    k.extend_from_slice(prefix.as_bytes());
    k.extend_from_slice(tag.as_bytes());
    k.push(b':');
    k.extend_from_slice(algorithm.as_bytes());
    if rank > 0 {
        k.push(b'#');
        k.extend_from_slice((u32::from(rank) + 1).to_string().as_bytes());
    }
    k.push(b':');
    k.extend_from_slice(client_id.len().to_string().as_bytes());
    k.push(b':');
    k.extend_from_slice(client_id.as_bytes());
    k.push(b':');
    k.extend_from_slice(api_endpoint.as_bytes());
    k
}

/// Hash slots in a Redis Cluster.
pub(crate) const SLOTS: usize = 16384;

/// The slot of `key`: CRC16 (XMODEM) of its hash tag (the part between the
/// first `{` and the next `}`, if not empty), else of the whole key.
pub(crate) fn slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    let mut crc: u16 = 0;
    for &b in hashed {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % SLOTS as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_tag(key: &[u8]) -> &[u8] {
        // Redis Cluster's rule: the first '{' and the first '}' after it.
        let open = key.iter().position(|&b| b == b'{').unwrap();
        let close = open + 1 + key[open + 1..].iter().position(|&b| b == b'}').unwrap();
        &key[open + 1..close]
    }

    #[test]
    fn encoding_is_injective_on_separators() {
        assert_ne!(key("p:", "swl", 0, "a:b", "c"), key("p:", "swl", 0, "a", "b:c"));
        assert_ne!(key("p:", "swl", 0, "a", "1:b"), key("p:", "swl", 0, "a:1", "b"));
        assert_eq!(
            key("p:", "swl", 0, "a", "b"),
            b"p:{af63dc4c8601ec8c}:swl:1:a:b".to_vec()
        );
        assert_eq!(
            key("p:", "swl", 1, "a", "b"),
            b"p:{af63dc4c8601ec8c}:swl#2:1:a:b".to_vec()
        );
    }

    #[test]
    fn braces_in_ids_cannot_move_the_slot() {
        let k = key("ratewarden:", "swl", 0, "}{evil}", "{x}");
        assert_eq!(hash_tag(&k), client_tag("}{evil}").trim_matches(['{', '}']).as_bytes());
        // Same client, any endpoint: same tag.
        let k2 = key("ratewarden:", "swl", 0, "}{evil}", "/other\n");
        assert_eq!(hash_tag(&k), hash_tag(&k2));
        assert_ne!(hash_tag(&k), hash_tag(&key("ratewarden:", "swl", 0, "evil", "{x}")));
    }

    #[test]
    fn prefix_rules() {
        assert!(validate_prefix("ratewarden:").is_ok());
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("a{b").is_err());
        assert!(validate_prefix(&"x".repeat(129)).is_err());
    }

    #[test]
    fn slots_match_redis() {
        // Values from CLUSTER KEYSLOT.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"123456789"), 12739);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_ne!(slot(b"foo{}{bar}"), slot(b"bar"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
        assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
    }
}
