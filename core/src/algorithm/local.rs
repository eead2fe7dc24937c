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

use crate::algorithm::spec::{Outcome, Spec, FW, SWC, SWL, SWLB, TB};

const MICRO: u64 = 1_000_000;
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
    /// Token bucket: micro-tokens and the last update.
    Tokens { mt: u64, ts: u64 },
    /// GCRA: theoretical arrival time `tat + frac / rate` microseconds.
    Gcra { tat: u64, frac: u64 },
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
    match s.code {
        SWL | SWLB => peek_log(state, now, s),
        SWC => peek_counter(state.as_ref(), now, s),
        FW => peek_fixed(state.as_ref(), now, s),
        TB => peek_tokens(state.as_ref(), now, s),
        _ => peek_gcra(state.as_ref(), now, s),
    }
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
            let w = now / s.window_us;
            let (c, p) = counter_now(state.as_ref(), w);
            *state = Some(State::Counter { w, c: c + s.cost, p });
            (w + 2) * s.window_us - now
        }
        FW => {
            let w = now / s.window_us;
            let c = fixed_now(state.as_ref(), w);
            *state = Some(State::Fixed { w, c: c + s.cost });
            (w + 1) * s.window_us - now
        }
        TB => {
            let (mt, ts) = tokens_now(state.as_ref(), now, s);
            let left = mt - s.cost * MICRO;
            *state = Some(State::Tokens { mt: left, ts });
            (s.capacity * MICRO - left).div_ceil(s.aux)
        }
        _ => {
            let (tat, frac) = gcra_now(state.as_ref(), now);
            let num = frac + s.cost * MICRO;
            let (ntat, nfrac) = (tat + num / s.aux, num % s.aux);
            *state = Some(State::Gcra { tat: ntat, frac: nfrac });
            ((ntat - now) * s.aux + nfrac).div_ceil(s.aux)
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

fn counter_now(state: Option<&State>, cur: u64) -> (u64, u64) {
    match state {
        Some(&State::Counter { w, c, p }) if w == cur => (c, p),
        Some(&State::Counter { w, c, .. }) if w + 1 == cur => (0, c),
        _ => (0, 0),
    }
}

/// Mirrors the Lua floating-point steps exactly (IEEE doubles both sides).
fn peek_counter(state: Option<&State>, now: u64, s: &Spec) -> Peek {
    let window = s.window_us;
    let cur = now / window;
    let (c, pr) = counter_now(state, cur);
    let elapsed = now - cur * window;
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
    deny(rem, wait.max(1.0) as u64, reset)
}

fn fixed_now(state: Option<&State>, cur: u64) -> u64 {
    match state {
        Some(&State::Fixed { w, c }) if w == cur => c,
        _ => 0,
    }
}

fn peek_fixed(state: Option<&State>, now: u64, s: &Spec) -> Peek {
    let cur = now / s.window_us;
    let c = fixed_now(state, cur);
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

fn tokens_now(state: Option<&State>, now: u64, s: &Spec) -> (u64, u64) {
    let full = s.capacity * MICRO;
    match state {
        Some(&State::Tokens { mt, ts }) if now > ts => {
            let dt = now - ts;
            let mt = if dt >= s.window_us {
                full
            } else {
                full.min(mt + dt * s.aux)
            };
            (mt, now)
        }
        Some(&State::Tokens { mt, ts }) => (mt, ts),
        _ => (full, now),
    }
}

fn peek_tokens(state: Option<&State>, now: u64, s: &Spec) -> Peek {
    let full = s.capacity * MICRO;
    let (mt, _) = tokens_now(state, now, s);
    let need = s.cost * MICRO;
    let rem = mt / MICRO;
    let reset = (full - mt).div_ceil(s.aux);
    if mt >= need {
        return Peek {
            ok: true,
            rem,
            retry: 0,
            reset,
            rem_ok: (mt - need) / MICRO,
            reset_ok: (full - mt + need).div_ceil(s.aux),
        };
    }
    deny(rem, (need - mt).div_ceil(s.aux), reset)
}

fn gcra_now(state: Option<&State>, now: u64) -> (u64, u64) {
    match state {
        Some(&State::Gcra { tat, frac }) if tat >= now => (tat, frac),
        _ => (now, 0),
    }
}

fn peek_gcra(state: Option<&State>, now: u64, s: &Spec) -> Peek {
    let rate = s.aux;
    let (tat, frac) = gcra_now(state, now);
    let limit = s.capacity * MICRO;
    let ahead = (tat - now) * rate + frac;
    let num = frac + s.cost * MICRO;
    let (ntat, nfrac) = (tat + num / rate, num % rate);
    let nahead = (ntat - now) * rate + nfrac;
    let rem = limit.saturating_sub(ahead) / MICRO;
    let reset = ahead.div_ceil(rate);
    if nahead <= limit {
        return Peek {
            ok: true,
            rem,
            retry: 0,
            reset,
            rem_ok: (limit - nahead) / MICRO,
            reset_ok: nahead.div_ceil(rate),
        };
    }
    deny(rem, (nahead - limit).div_ceil(rate), reset)
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
