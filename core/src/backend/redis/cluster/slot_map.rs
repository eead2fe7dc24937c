//! The slot map: which master serves each of the 16384 slots, voted from
//! the `CLUSTER SLOTS` answers of every known node.

use crate::backend::redis::connection::RedisConnection;
use crate::backend::redis::url::join_host_port;
use crate::error::Result;

/// Hash slots in a Redis Cluster.
pub(crate) const SLOTS: usize = crate::backend::redis::keys::SLOTS;
/// "No master known" in [`SlotMap::slots`].
pub(crate) const NO_NODE: u16 = u16::MAX;

/// Which master serves each slot.
pub(crate) struct SlotMap {
    /// Per slot, an index into `masters` (or [`NO_NODE`]).
    pub(crate) slots: Box<[u16]>,
    pub(crate) masters: Vec<Master>,
    /// Every node of the last answer (masters and replicas), asked on refresh.
    pub(crate) known: Vec<String>,
}

impl SlotMap {
    pub(crate) fn empty() -> Self {
        SlotMap {
            slots: vec![NO_NODE; SLOTS].into_boxed_slice(),
            masters: Vec::new(),
            known: Vec::new(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Master {
    pub(crate) addr: String,
    pub(crate) id: usize,
    pub(crate) conn: RedisConnection,
}

/// Each slot goes to the master most views name.
pub(crate) fn vote(views: &[Vec<Range>], mut node: impl FnMut(&str) -> Result<Master>) -> Result<SlotMap> {
    let mut names: Vec<String> = Vec::new();
    let mut index = |addr: &str| match names.iter().position(|n| n == addr) {
        Some(i) => i as u16,
        None => {
            names.push(addr.to_owned());
            (names.len() - 1) as u16
        }
    };
    let mut per_view: Vec<Vec<u16>> = Vec::with_capacity(views.len());
    let mut known: Vec<String> = Vec::new();
    for view in views {
        let mut slots = vec![NO_NODE; SLOTS];
        for r in view {
            let i = index(&r.master);
            for s in &mut slots[usize::from(r.start)..=usize::from(r.end)] {
                *s = i;
            }
            for n in std::iter::once(&r.master).chain(&r.replicas) {
                if !known.contains(n) {
                    known.push(n.clone());
                }
            }
        }
        per_view.push(slots);
    }
    let mut chosen = vec![NO_NODE; SLOTS];
    let mut tally: Vec<(u16, usize)> = Vec::new();
    for (slot, c) in chosen.iter_mut().enumerate() {
        tally.clear();
        for v in &per_view {
            let i = v[slot];
            if i == NO_NODE {
                continue;
            }
            match tally.iter_mut().find(|(n, _)| *n == i) {
                Some(t) => t.1 += 1,
                None => tally.push((i, 1)),
            }
        }
        // Ties: the first view that named one wins (stable).
        if let Some(best) = tally.iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))) {
            *c = best.0;
        }
    }
    // Keep only the masters that won a slot, renumbered.
    let mut masters: Vec<Master> = Vec::new();
    let mut renumber = vec![NO_NODE; names.len()];
    for c in &mut chosen {
        if *c == NO_NODE {
            continue;
        }
        let old = usize::from(*c);
        if renumber[old] == NO_NODE {
            renumber[old] = masters.len() as u16;
            masters.push(node(&names[old])?);
        }
        *c = renumber[old];
    }
    Ok(SlotMap {
        slots: chosen.into_boxed_slice(),
        masters,
        known,
    })
}

/// One slot range of a `CLUSTER SLOTS` answer.
#[derive(Debug)]
pub(crate) struct Range {
    start: u16,
    end: u16,
    master: String,
    replicas: Vec<String>,
}

/// Parse `CLUSTER SLOTS` as answered by `asked` (a node that does not know
/// its own address reports an empty host: it is `asked`'s).
pub(crate) fn parse_slots(v: &redis::Value, asked: &str) -> Option<Vec<Range>> {
    use redis::Value;
    let asked_host = asked
        .rsplit_once(':')
        .map_or(asked, |(h, _)| h)
        .trim_matches(|c| c == '[' || c == ']');
    let node = |v: &Value| -> Option<String> {
        let Value::Array(parts) = v else { return None };
        let host = match parts.first()? {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::SimpleString(s) => s.clone(),
            _ => return None,
        };
        let port = match parts.get(1)? {
            Value::Int(p) => u16::try_from(*p).ok()?,
            _ => return None,
        };
        let host = if host.is_empty() || host == "?" {
            asked_host.to_owned()
        } else {
            host
        };
        Some(join_host_port(&host, port))
    };
    let Value::Array(ranges) = v else { return None };
    let mut out = Vec::with_capacity(ranges.len());
    for r in ranges {
        let Value::Array(items) = r else { return None };
        let int = |v: Option<&Value>| match v {
            Some(Value::Int(i)) => u16::try_from(*i).ok().filter(|s| usize::from(*s) < SLOTS),
            _ => None,
        };
        let (start, end) = (int(items.first())?, int(items.get(1))?);
        if start > end {
            return None;
        }
        out.push(Range {
            start,
            end,
            master: node(items.get(2)?)?,
            replicas: items[3..].iter().filter_map(node).collect(),
        });
    }
    Some(out)
}
