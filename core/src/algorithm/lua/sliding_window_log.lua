---------------------------------------------------------------------------
-- 1: sliding-window log, exact. A string of 16-digit, zero-padded server
-- microseconds, one per admitted unit, oldest first: at most 127 entries
-- (2 KB), one GET and one SET per admission, and two admissions in the same
-- microsecond are simply two entries. Counted while in (now - W, now]. The
-- string stays sorted: after a clock step back, an admission takes the
-- newest entry's (later) time.
local function ts_at(s, i)
  return tonumber(string.sub(s, i * 16 - 15, i * 16))
end

local function swl_peek(key, cap, window, cost)
  local s = redis.call('GET', key) or ''
  local n = #s / 16
  local cutoff = now - window
  local first = 1
  while first <= n and ts_at(s, first) <= cutoff do
    first = first + 1
  end
  local used = n - first + 1
  -- All fields in the constructor: one allocation, no rehash.
  local p = { key = key, window = window, cost = cost, s = s, first = first, n = n, ok = true,
    rem = math.max(cap - used, 0), retry = 0, reset = false, rem_ok = 0, reset_ok = window }
  if used + cost <= cap then
    -- p.reset (as it is now) is only read if another limit refuses: see
    -- swl_reset, called lazily by decide. An admission is stamped now, or
    -- with the newest entry's time if that is later (the clock went back;
    -- see swl_single).
    p.rem_ok = cap - used - cost
    p.at = nowpad
    if n > 0 and string.sub(s, -16) > nowpad then
      p.at = string.sub(s, -16)
      p.reset_ok = tonumber(p.at) + window - now
    end
    return p
  end
  p.ok = false
  -- The oldest `need` units must leave before `cost` more fit.
  local need = used + cost - cap
  p.retry = ts_at(s, first + need - 1) + window - now
  p.reset = ts_at(s, n) + window - now
  return p
end

local function swl_reset(p)
  if p.first > p.n then
    return 0
  end
  return ts_at(p.s, p.n) + p.window - now
end

local function swl_commit(p)
  local rest = p.s
  if p.first > 1 then
    rest = string.sub(rest, p.first * 16 - 15)
  end
  local add = p.at
  if p.cost > 1 then
    add = string.rep(p.at, p.cost)
  end
  redis.call('SET', p.key, rest .. add, 'PX', ttl_ms(p.reset_ok))
end


-- Drop the latest `cost` entries still in the window (and the expired ones).
local function swl_refund(key, cap, window, cost)
  local s = redis.call('GET', key)
  if not s then
    return
  end
  local p = swl_peek(key, cap, window, 1)
  local keep = p.n - p.first + 1 - cost
  if keep <= 0 then
    redis.call('DEL', key)
  else
    local from = p.first * 16 - 15
    redis.call('SET', key, string.sub(s, from, from + keep * 16 - 1), 'PX', ttl_ms(window))
  end
end

-- A full window whose every entry leaves at now + d: refused until then,
-- then the whole capacity is back at once.
local function swl_block(key, cap, window, d)
  redis.call('SET', key, string.rep(string.format('%016d', now + d - window), cap), 'PX', ttl_ms(d))
end
