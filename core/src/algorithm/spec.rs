//! One limit as the script sees it: the numbers a [`Spec`] hands to the Lua
//! script (or to the in-process twin in `local.rs`), and the [`Outcome`] it
//! answers.

use crate::algorithm::Algorithm;
use crate::quota::Quota;

/// Up to this capacity the sliding-window log keeps one entry per distinct
/// server microsecond, i.e. it is exact. Above it, admissions are counted in
/// [`LOG_BUCKETS`] buckets per window (see the crate docs on granularity).
pub const EXACT_LOG_MAX_CAPACITY: u64 = 127;
/// Number of time buckets per window used by the log above
/// [`EXACT_LOG_MAX_CAPACITY`]; keeps a key under ~125 entries, which Redis
/// stores in its compact listpack encoding.
pub const LOG_BUCKETS: u64 = 120;

/// Script codes (see `lua/prelude.lua`).
pub(crate) const SWL: u8 = 1;
pub(crate) const SWLB: u8 = 2;
pub(crate) const SWC: u8 = 3;
pub(crate) const FW: u8 = 4;
pub(crate) const TB: u8 = 5;
pub(crate) const GCRA: u8 = 6;

/// What a script call does with one limit (see `lua/dispatch.lua`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    /// Decide and, if every limit of the decision agrees, count.
    Check = 0,
    /// Decide a cost-1 request, count nothing.
    Peek = 1,
    /// Give back `cost` units of the latest admissions.
    Refund = 2,
    /// Refuse until `cost` microseconds from now.
    Block = 3,
    /// Forget the key.
    Reset = 4,
}

/// One limit as the script (and the memory mirror) sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) code: u8,
    pub(crate) capacity: u64,
    pub(crate) window_us: u64,
    /// Units to count (check), to give back (refund), or the block's
    /// duration in microseconds (block).
    pub(crate) cost: u64,
    /// Bucket width (bucketed log); unused by the others.
    pub(crate) aux: u64,
    /// What it was made from (for the local failure mode).
    pub(crate) algorithm: Algorithm,
    pub(crate) op: Op,
    /// Tells apart limits of one check on one scope with one algorithm
    /// (`"10/second;1000/hour"`): 0 for the shortest period, then 1, 2, ...
    /// (see `backend/redis/keys.rs`).
    pub(crate) rank: u8,
}

impl Spec {
    /// The caller has validated `quota` and `cost`.
    pub(crate) fn new(algorithm: Algorithm, quota: Quota, cost: u64) -> Spec {
        let window_us = quota.window_us();
        let (code, aux) = match algorithm {
            Algorithm::SlidingWindowLog if quota.capacity() <= EXACT_LOG_MAX_CAPACITY => (SWL, 0),
            Algorithm::SlidingWindowLog => (SWLB, (window_us / LOG_BUCKETS).max(1)),
            Algorithm::SlidingWindowCounter => (SWC, 0),
            Algorithm::FixedWindow => (FW, 0),
            Algorithm::TokenBucket => (TB, 0),
            Algorithm::Gcra => (GCRA, 0),
        };
        Spec {
            code,
            capacity: quota.capacity(),
            window_us,
            cost,
            aux,
            algorithm,
            op: Op::Check,
            rank: 0,
        }
    }

    /// This limit with another operation (and its `cost` argument).
    pub(crate) fn with_op(mut self, op: Op, cost: u64) -> Spec {
        self.op = op;
        self.cost = cost;
        self
    }

    /// The same limit with `share` (0 < share <= 1) of the capacity over the
    /// same period (at least 1; the cost capped at the new capacity).
    pub(crate) fn scaled(&self, share: f64) -> Spec {
        let capacity = ((self.capacity as f64 * share).floor() as u64).max(1);
        let quota = Quota::per(capacity, std::time::Duration::from_micros(self.window_us));
        let mut s = Spec::new(self.algorithm, quota, self.cost.min(capacity));
        s.op = self.op;
        s.rank = self.rank;
        s
    }

    /// The algorithm part of the key: the layouts differ, so do the keys.
    pub(crate) fn tag(&self) -> &'static str {
        match self.code {
            SWL => "swl",
            SWLB => "swlb",
            SWC => "swc",
            FW => "fw",
            TB => "tb",
            _ => "gcra",
        }
    }

    /// Code and rank in one byte (the memory store's key).
    pub(crate) fn slot_code(&self) -> u8 {
        self.code | (self.rank << 3)
    }

    pub(crate) fn args(&self) -> [u64; 5] {
        [
            u64::from(self.code) + 16 * self.op as u64,
            self.capacity,
            self.window_us,
            self.cost,
            self.aux,
        ]
    }
}

/// Every script code, for `reset` (all the state of a pair).
pub(crate) const CODES: [u8; 6] = [SWL, SWLB, SWC, FW, TB, GCRA];

/// What one limit said (before aggregation into a decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) ok: bool,
    pub(crate) remaining: u64,
    pub(crate) retry_us: u64,
    pub(crate) reset_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_pick_the_log_layout_by_capacity() {
        let s = Spec::new(Algorithm::SlidingWindowLog, Quota::new(127, 1), 1);
        assert_eq!((s.code, s.aux, s.tag()), (SWL, 0, "swl"));
        let s = Spec::new(Algorithm::SlidingWindowLog, Quota::new(1_000_000, 1_000_000), 1);
        assert_eq!((s.code, s.aux, s.tag()), (SWLB, 8_333, "swlb"));
        let s = Spec::new(Algorithm::Gcra, Quota::new(10, 3), 2);
        assert_eq!(s.args(), [u64::from(GCRA), 10, 3_333_334, 2, 0]);
        assert_eq!(
            s.with_op(Op::Block, 7).args(),
            [u64::from(GCRA) + 48, 10, 3_333_334, 7, 0]
        );
    }
}
