//! The in-process twin of the Lua script (`lua/*.lua`), for `memory://`
//! and the `local` failure mode.
//!
//! Every function here mirrors its Lua twin step by step — the same integer
//! arithmetic, and for the sliding-window counter the same floating-point
//! operations in the same order — so that both backends take the same
//! decision for the same schedule (`core/tests/algorithms.rs` replays random
//! schedules on both and compares every answer).
//!
//! A decision is a `peek` per limit (read only) followed, if every limit
//! agreed, by a `commit` per limit.

use std::collections::VecDeque;

use crate::algorithm::spec::{Outcome, Spec, FW, SWC, SWL, SWLB};

/// Keys outlive the moment their state stops mattering by this much.
pub(crate) const TTL_SLACK_US: u64 = 1_000_000;

/// The state of one key. `None` (no state) is what a missing Redis key is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum State {
    /// Sliding-window log: `(end_us, count)` oldest first, and their sum.
    /// Exact mode merges admissions of one microsecond into one entry.
    Log { entries: VecDeque<(u64, u64)>, total: u64 },
    /// Sliding-window counter: window index, its count, the previous count.
    Counter { w: u64, c: u64, p: u64 },
    /// Fixed window: window index and count.
    Fixed { w: u64, c: u64 },
    /// Token bucket and GCRA: theoretical arrival time `tat + frac /
    /// capacity` microseconds (when the bucket is full again).
    Gcra { tat: u64, frac: u64 },
    /// A counter or bucket blocked until this time (the Lua `"b<until>"`).
    Blocked { until: u64 },
}

/// What a peek found; `commit` applies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peek {
    ok: bool,
    rem: u64,
    retry: u64,
    reset: u64,
    rem_ok: u64,
    reset_ok: u64,
}

impl Peek {
    /// The limit's answer: `admitted` says whether the whole decision was.
    pub(crate) fn outcome(&self, admitted: bool) -> Outcome {
        if admitted {
            Outcome {
                ok: true,
                remaining: self.rem_ok,
                retry_us: 0,
                reset_us: self.reset_ok,
            }
        } else {
            Outcome {
                ok: self.ok,
                remaining: self.rem,
                retry_us: self.retry,
                reset_us: self.reset,
            }
        }
    }

    pub(crate) fn ok(&self) -> bool {
        self.ok
    }
}

fn deny(rem: u64, retry: u64, reset: u64) -> Peek {
    Peek {
        ok: false,
        rem,
        retry,
        reset,
        rem_ok: 0,
        reset_ok: 0,
    }
}

/// Read (and, for the log, trim) the state; never changes what is counted.
pub(crate) fn peek(state: &mut Option<State>, now: u64, s: &Spec) -> Peek {
    if let Some(State::Blocked { until }) = *state {
        if until > now {
            return deny(0, until - now, until - now);
        }
        *state = None;
    }
    match s.code {
        SWL | SWLB => peek_log(state, now, s),
        SWC => peek_counter(state.as_ref(), now, s),
        FW => peek_fixed(state.as_ref(), now, s),
        _ => peek_gcra(state.as_ref(), now, s),
    }
}

/// Give back `s.cost` units of the latest admissions (never below empty);
/// a running block stays. Returns how long the key must live from `now`, or
/// `None` if it holds nothing any more (the Lua `DEL`).
pub(crate) fn refund(state: &mut Option<State>, now: u64, s: &Spec) -> Option<u64> {
    if let Some(State::Blocked { until }) = *state {
        return (until > now).then(|| until - now);
    }
    peek(state, now, &Spec { cost: 1, ..*s }); // trims the log; clears an ended block
    let live = match state.as_mut()? {
        State::Log { entries, total } => {
            let mut left = s.cost;
            while left > 0 {
                let Some((_, count)) = entries.back_mut() else { break };
                let take = left.min(*count);
                *count -= take;
                *total -= take;
                left -= take;
                if *count == 0 {
                    entries.pop_back();
                }
            }
            match entries.back() {
                None => None,
                Some(_) if s.code == SWL => Some(s.window_us),
                // The bucketed log keeps the key's expiry (Lua: ZADD keeps the TTL).
                Some(&(end, _)) => Some(end + s.window_us - now),
            }
        }
        State::Counter { w, c, p } => {
            let (mut cc, mut pp, cur) = counter_now(Some(&State::Counter { w: *w, c: *c, p: *p }), now / s.window_us);
            let back = cc.min(s.cost);
            cc -= back;
            pp = pp.saturating_sub(s.cost - back);
            *state = Some(State::Counter { w: cur, c: cc, p: pp });
            (cc + pp > 0).then(|| (cur + 2) * s.window_us - now)
        }
        State::Fixed { w, c } => {
            let (c, cur) = fixed_now(Some(&State::Fixed { w: *w, c: *c }), now / s.window_us);
            *state = Some(State::Fixed {
                w: cur,
                c: c.saturating_sub(s.cost),
            });
            (c > s.cost).then(|| (cur + 1) * s.window_us - now)
        }
        State::Gcra { .. } => {
            let (tat, frac) = gcra_now(state.as_ref(), now, s.capacity);
            let (whole, part) = mul_div(s.cost, s.window_us, s.capacity);
            let (mut ntat, mut nfrac) = (i128::from(tat) - i128::from(whole), i128::from(frac) - i128::from(part));
            if nfrac < 0 {
                ntat -= 1;
                nfrac += i128::from(s.capacity);
            }
            let now_i = i128::from(now);
            if ntat < now_i || (ntat == now_i && nfrac == 0) {
                None
            } else {
                let (ntat, nfrac) = (ntat as u64, nfrac as u64);
                *state = Some(State::Gcra { tat: ntat, frac: nfrac });
                Some(ntat - now + u64::from(nfrac > 0))
            }
        }
        State::Blocked { .. } => None,
    };
    if live.is_none() {
        *state = None;
    }
    live
}

/// Refuse until `s.cost` microseconds from now; then the whole capacity is
/// back. Logs are filled with entries that leave the window then (like the
/// Lua); counters and buckets hold a marker. Returns the key's lifetime.
pub(crate) fn block(state: &mut Option<State>, now: u64, s: &Spec) -> u64 {
    let d = s.cost;
    *state = Some(match s.code {
        SWL | SWLB => State::Log {
            entries: VecDeque::from([((now + d).saturating_sub(s.window_us), s.capacity)]),
            total: s.capacity,
        },
        _ => State::Blocked { until: now + d },
    });
    d
}

/// `floor(x * y / d)` and `x * y mod d`, exactly (the Lua `muldiv`).
pub(crate) fn mul_div(x: u64, y: u64, d: u64) -> (u64, u64) {
    let p = u128::from(x) * u128::from(y);
    let d = u128::from(d);
    ((p / d) as u64, (p % d) as u64)
}

/// Count the admission; returns how long the key must live from `now`.
pub(crate) fn commit(state: &mut Option<State>, now: u64, s: &Spec) -> u64 {
    match s.code {
        SWL | SWLB => {
            let Some(State::Log { entries, total }) = state else {
                *state = Some(State::Log {
                    entries: VecDeque::new(),
                    total: 0,
                });
                return commit(state, now, s);
            };
            let end = match entries.back_mut() {
                Some((end, count)) if now <= *end => {
                    *count += s.cost;
                    *end
                }
                _ => {
                    let end = if s.code == SWL { now } else { now + s.aux - 1 };
                    entries.push_back((end, s.cost));
                    end
                }
            };
            *total += s.cost;
            end + s.window_us - now
        }
        SWC => {
            let (c, p, w) = counter_now(state.as_ref(), now / s.window_us);
            *state = Some(State::Counter { w, c: c + s.cost, p });
            (w + 2) * s.window_us - now
        }
        FW => {
            let (c, w) = fixed_now(state.as_ref(), now / s.window_us);
            *state = Some(State::Fixed { w, c: c + s.cost });
            (w + 1) * s.window_us - now
        }
        _ => {
            let (tat, frac) = gcra_now(state.as_ref(), now, s.capacity);
            let (ntat, nfrac) = gcra_step(tat, frac, s);
            *state = Some(State::Gcra { tat: ntat, frac: nfrac });
            ntat - now + u64::from(nfrac > 0)
        }
    }
}

fn peek_log(state: &mut Option<State>, now: u64, s: &Spec) -> Peek {
    let (cap, window, cost) = (s.capacity, s.window_us, s.cost);
    let Some(State::Log { entries, total }) = state else {
        let reset_ok = if s.code == SWL { window } else { s.aux - 1 + window };
        return Peek {
            ok: true,
            rem: cap,
            retry: 0,
            reset: 0,
            rem_ok: cap - cost,
            reset_ok,
        };
    };
    let cutoff = now.saturating_sub(window);
    while let Some(&(end, count)) = entries.front() {
        if end > cutoff {
            break;
        }
        *total -= count;
        entries.pop_front();
    }
    let used = *total;
    let last = entries.back().map(|&(end, _)| end);
    let reset = last.map_or(0, |end| end + window - now);
    if used + cost <= cap {
        let reset_ok = match last {
            Some(end) if now <= end => end + window - now,
            _ if s.code == SWL => window,
            _ => s.aux - 1 + window,
        };
        return Peek {
            ok: true,
            rem: cap - used,
            retry: 0,
            reset,
            rem_ok: cap - used - cost,
            reset_ok,
        };
    }
    let need = used + cost - cap;
    let mut freed = 0;
    let mut retry = 0;
    for &(end, count) in entries.iter() {
        freed += count;
        if freed >= need {
            retry = end + window - now;
            break;
        }
    }
    deny(cap.saturating_sub(used), retry, reset)
}

/// This window's and the previous window's counts, and the window they
/// belong to: the stored window just after `cur` (the clock went back by
/// less than a window) keeps counting as the current one (the Lua
/// `swc_read`).
fn counter_now(state: Option<&State>, cur: u64) -> (u64, u64, u64) {
    match state {
        Some(&State::Counter { w, c, p }) if w == cur => (c, p, cur),
        Some(&State::Counter { w, c, .. }) if w + 1 == cur => (0, c, cur),
        Some(&State::Counter { w, c, p }) if w == cur + 1 => (c, p, w),
        _ => (0, 0, cur),
    }
}

/// Mirrors the Lua floating-point steps exactly (IEEE doubles both sides).
fn peek_counter(state: Option<&State>, now: u64, s: &Spec) -> Peek {
    let window = s.window_us;
    let (c, pr, cur) = counter_now(state, now / window);
    let ahead = (cur * window).saturating_sub(now);
    let elapsed = now + ahead - cur * window;
    let (capf, costf, cf, prf, wf, ef) = (
        s.capacity as f64,
        s.cost as f64,
        c as f64,
        pr as f64,
        window as f64,
        elapsed as f64,
    );
    let est = prf * (wf - ef) / wf + cf;
    let rem = (capf - est).floor().max(0.0) as u64;
    let reset = if c > 0 {
        (cur + 2) * window - now
    } else if pr > 0 {
        (cur + 1) * window - now
    } else {
        0
    };
    if est + costf <= capf {
        return Peek {
            ok: true,
            rem,
            retry: 0,
            reset,
            rem_ok: (capf - est - costf).floor().max(0.0) as u64,
            reset_ok: (cur + 2) * window - now,
        };
    }
    let wait = if c + s.cost <= s.capacity {
        let mut wait = (wf - (capf - cf - costf) * wf / prf).ceil() - ef;
        if prf * (wf - ef - wait) / wf + cf + costf > capf {
            wait += 1.0;
        }
        wait
    } else {
        let mut e2 = (wf - (capf - costf) * wf / cf).ceil().max(0.0);
        if cf * (wf - e2) / wf + costf > capf {
            e2 += 1.0;
        }
        wf - ef + e2
    };
    deny(rem, (wait + ahead as f64).max(1.0) as u64, reset)
}

/// The count and its window: the stored window just after `cur` (the
/// clock went back by less than a window) keeps counting (the Lua
/// `fw_read`).
fn fixed_now(state: Option<&State>, cur: u64) -> (u64, u64) {
    match state {
        Some(&State::Fixed { w, c }) if w == cur || w == cur + 1 => (c, w),
        _ => (0, cur),
    }
}

fn peek_fixed(state: Option<&State>, now: u64, s: &Spec) -> Peek {
    let (c, cur) = fixed_now(state, now / s.window_us);
    let left = (cur + 1) * s.window_us - now;
    let reset = if c > 0 { left } else { 0 };
    if c + s.cost <= s.capacity {
        return Peek {
            ok: true,
            rem: s.capacity - c,
            retry: 0,
            reset,
            rem_ok: s.capacity - c - s.cost,
            reset_ok: left,
        };
    }
    deny(s.capacity.saturating_sub(c), left, reset)
}

fn gcra_now(state: Option<&State>, now: u64, cap: u64) -> (u64, u64) {
    match state {
        Some(&State::Gcra { tat, frac }) if tat >= now => (tat, frac.min(cap - 1)),
        _ => (now, 0),
    }
}

fn gcra_step(tat: u64, frac: u64, s: &Spec) -> (u64, u64) {
    let (whole, part) = mul_div(s.cost, s.window_us, s.capacity);
    let (ntat, nfrac) = (tat + whole, frac + part);
    if nfrac >= s.capacity {
        (ntat + 1, nfrac - s.capacity)
    } else {
        (ntat, nfrac)
    }
}

/// Cost-1 admissions left when the TAT is `a + f / cap` us ahead of now:
/// `floor(((W - a) * cap - f) / W)`, at least 0.
fn gcra_left(cap: u64, window: u64, a: u64, f: u64) -> u64 {
    if a >= window {
        return 0;
    }
    let n = i128::from(window - a) * i128::from(cap) - i128::from(f);
    (n.max(0) / i128::from(window)) as u64
}

/// Token bucket and GCRA (one arithmetic, see `lua/gcra.lua`).
fn peek_gcra(state: Option<&State>, now: u64, s: &Spec) -> Peek {
    let (cap, window) = (s.capacity, s.window_us);
    let (tat, frac) = gcra_now(state, now, cap);
    let (ntat, nfrac) = gcra_step(tat, frac, s);
    let (a, na) = (tat - now, ntat - now);
    let rem = gcra_left(cap, window, a, frac);
    let reset = a + u64::from(frac > 0);
    if na < window || (na == window && nfrac == 0) {
        return Peek {
            ok: true,
            rem,
            retry: 0,
            reset,
            rem_ok: gcra_left(cap, window, na, nfrac),
            reset_ok: na + u64::from(nfrac > 0),
        };
    }
    deny(rem, na - window + u64::from(nfrac > 0), reset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Algorithm;
    use crate::quota::Quota;

    fn step(state: &mut Option<State>, now: u64, a: Algorithm, q: Quota, cost: u64) -> Outcome {
        let s = Spec::new(a, q, cost);
        let p = peek(state, now, &s);
        if p.ok() {
            commit(state, now, &s);
        }
        p.outcome(p.ok())
    }

    #[test]
    fn every_algorithm_admits_the_burst_then_refuses() {
        for a in Algorithm::ALL {
            let q = Quota::new(3, 3);
            let mut st = None;
            for i in 0..3 {
                let o = step(&mut st, 1_000_000_000, a, q, 1);
                assert!(o.ok, "{a} #{i}");
                assert_eq!(o.remaining, 2 - i, "{a}");
            }
            let o = step(&mut st, 1_000_000_000, a, q, 1);
            assert!(!o.ok && o.retry_us > 0, "{a}: {o:?}");
            // Waiting retry_after is enough, and not a microsecond less.
            let later = 1_000_000_000 + o.retry_us;
            let mut copy = st.clone();
            assert!(!step(&mut copy, later - 1, a, q, 1).ok, "{a} early");
            assert!(step(&mut st, later, a, q, 1).ok, "{a} at retry_after");
        }
    }

    #[test]
    fn exact_log_frees_one_by_one() {
        let q = Quota::new(3, 3); // W = 1 s
        let mut st = None;
        for t in [10, 20, 30] {
            assert!(step(&mut st, t, Algorithm::SlidingWindowLog, q, 1).ok);
        }
        let o = step(&mut st, 40, Algorithm::SlidingWindowLog, q, 1);
        assert_eq!((o.retry_us, o.reset_us), (10 + 1_000_000 - 40, 30 + 1_000_000 - 40));
        assert!(!step(&mut st, 1_000_009, Algorithm::SlidingWindowLog, q, 1).ok);
        assert!(step(&mut st, 1_000_010, Algorithm::SlidingWindowLog, q, 1).ok);
    }

    #[test]
    fn token_bucket_and_gcra_agree() {
        let q = Quota::new(5, 2);
        let (mut a, mut b) = (None, None);
        let mut t = 1_000_000u64;
        for i in 0..2000u64 {
            t += (i * 7919) % 400_000;
            let cost = 1 + i % 3;
            let x = step(&mut a, t, Algorithm::TokenBucket, q, cost);
            let y = step(&mut b, t, Algorithm::Gcra, q, cost);
            assert_eq!(x.ok, y.ok, "step {i}");
            assert_eq!(x.remaining, y.remaining, "step {i}");
        }
    }

    #[test]
    fn bucketed_log_stays_small() {
        let q = Quota::new(1_000_000, 1_000_000);
        let mut st = None;
        let mut admitted = 0u64;
        let mut t = 1;
        while t < 3_000_000 {
            if step(&mut st, t, Algorithm::SlidingWindowLog, q, 1).ok {
                admitted += 1;
            }
            if let Some(State::Log { entries, .. }) = &st {
                assert!(entries.len() <= 123, "{} entries", entries.len());
            }
            t += 2;
        }
        assert!((1_400_000..=3_000_000).contains(&admitted), "{admitted}");
    }
}
