#!lua
-- ratewarden: every algorithm in one script; a call carries a batch of
-- decisions, and each decision one or more limits (all or nothing).
--
-- ARGV[1]  now override in microseconds; 0 = the server's TIME. Only the
--          test suite sends anything else (to replay exact schedules).
-- ARGV[2]  n, the number of decisions in this call
-- then, per decision:  m, its number of limits
--   then, per limit:   algorithm, capacity, window_us, cost, aux
-- KEYS     one per limit, in the same order (all of one decision share the
--          client's hash tag). On Redis Cluster, one call carries the
--          decisions of one slot (a batch is a pipeline of such calls).
--
-- algorithm  1 sliding-window log, exact (aux unused; capacity <= 127)
--            2 sliding-window log, bucketed (aux = bucket width in us)
--            3 sliding-window counter      4 fixed window
--            5 token bucket (aux = rate/s) 6 GCRA (aux = rate/s)
--
-- Returns a flat array with 4 integers per limit, decisions in order:
--   { ok (1/0), remaining, retry_after_us, reset_after_us }
-- A decision is admitted iff all its limits are ok; only then is any of them
-- written. If a decision raises an error, its first slot holds the error text
-- and the rest are 0; the other decisions of the batch are unaffected.
--
-- Each algorithm is a pair: peek (read, trim, decide; returns a table with
-- ok, remaining/reset as they are now, and as they will be if admitted) and
-- commit (write and set the expiry). Mirrored by core/src/mirror.rs.

local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local nowpad = string.format('%016d', now)
local MICRO = 1000000

-- Keys outlive the moment their state stops mattering by one second.
local function ttl_ms(us)
  return math.ceil(us / 1000) + 1000
end

local function ceil_div(a, b)
  return math.floor((a + b - 1) / b)
end

---------------------------------------------------------------------------
-- 1: sliding-window log, exact. A string of 16-digit, zero-padded server
-- microseconds, one per admitted unit, oldest first: at most 127 entries
-- (2 KB), one GET and one SET per admission, and two admissions in the same
-- microsecond are simply two entries. Counted while in (now - W, now].
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
    -- swl_reset, called lazily by decide.
    p.rem_ok = cap - used - cost
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
  local add = nowpad
  if p.cost > 1 then
    add = string.rep(nowpad, p.cost)
  end
  redis.call('SET', p.key, rest .. add, 'PX', ttl_ms(p.window))
end

---------------------------------------------------------------------------
-- 2: sliding-window log, bucketed (capacity above the exact limit).
--   member "<end_us>:<count>", score end_us: admissions of one bucket
--   member "#", score -total: the running sum (always the lowest score)
-- An entry is counted until its end leaves the window: at most one bucket
-- too long, never too short.
local function count_of(member)
  return tonumber(string.match(member, ':(%d+)$'))
end

local function swlb_peek(key, cap, window, cost, bucket)
  local cutoff = now - window
  local head = redis.call('ZRANGE', key, 0, 2, 'WITHSCORES')
  local total, i, has_total = 0, 1, false
  if head[1] == '#' then
    total, i, has_total = -tonumber(head[2]), 3, true
  end
  local oldest, oldest_score
  local trimmed = false
  if head[i] then
    local s1 = tonumber(head[i + 1])
    if s1 > cutoff then
      oldest, oldest_score = head[i], s1
    elseif head[i + 2] and tonumber(head[i + 3]) > cutoff then
      total = total - count_of(head[i])
      redis.call('ZREM', key, head[i])
      oldest, oldest_score = head[i + 2], tonumber(head[i + 3])
      trimmed = true
    else
      local old = redis.call('ZRANGEBYSCORE', key, '(0', cutoff)
      for j = 1, #old do
        total = total - count_of(old[j])
      end
      redis.call('ZREMRANGEBYSCORE', key, '(0', cutoff)
      trimmed = true
    end
  end
  if trimmed then
    -- Keep the stored total in step even if nothing is admitted now.
    redis.call('ZADD', key, -total, '#')
    has_total = true
  end
  local p = { key = key, window = window, cost = cost, bucket = bucket, total = total, has_total = has_total }
  p.rem = math.max(cap - total, 0)
  local last = nil
  p.reset = 0
  if total > 0 then
    last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if last[1] and last[1] ~= '#' then
      p.last, p.reset = last[1], tonumber(last[2]) + window - now
    else
      last = nil
    end
  end
  if total + cost <= cap then
    p.ok, p.retry, p.rem_ok = true, 0, cap - total - cost
    if last and now <= tonumber(last[2]) then
      p.reset_ok = p.reset
    else
      p.reset_ok = bucket - 1 + window
    end
    return p
  end
  p.ok = false
  local need = total + cost - cap
  if oldest and count_of(oldest) >= need then
    p.retry = oldest_score + window - now
  else
    local list = redis.call('ZRANGEBYSCORE', key, '(0', '+inf', 'WITHSCORES', 'LIMIT', 0, need)
    local freed = 0
    p.retry = 0
    for j = 1, #list, 2 do
      freed = freed + count_of(list[j])
      if freed >= need then
        p.retry = tonumber(list[j + 1]) + window - now
        break
      end
    end
  end
  return p
end

local function swlb_commit(p)
  local key, cost = p.key, p.cost
  local finish, count = now + p.bucket - 1, cost
  if p.last then
    local e, c = string.match(p.last, '^(%d+):(%d+)$')
    e = tonumber(e)
    if now <= e then
      redis.call('ZREM', key, p.last)
      finish, count = e, tonumber(c) + cost
    end
  end
  local total = p.total + cost
  local member = string.format('%d:%d', finish, count)
  local added = redis.call('ZADD', key, finish, member, -total, '#')
  if added < (p.has_total and 1 or 2) then
    -- An entry of this name existed (the clock went back) and now stands for
    -- both: give it the doubled count, merging again if needed.
    repeat
      redis.call('ZREM', key, member)
      count = count * 2
      member = string.format('%d:%d', finish, count)
      added = redis.call('ZADD', key, finish, member)
    until added == 1
  end
  redis.call('PEXPIRE', key, ttl_ms(finish + p.window - now))
end

---------------------------------------------------------------------------
-- 3: sliding-window counter. Value "<window index>:<current>:<previous>";
-- estimate = previous * (W - elapsed) / W + current. Kept until the end of
-- the next window, when the current count stops mattering.
local function swc_peek(key, cap, window, cost)
  local cur = math.floor(now / window)
  local c, pr = 0, 0
  local v = redis.call('GET', key)
  if v then
    local w, vc, vp = string.match(v, '^(%d+):(%d+):(%d+)$')
    w = tonumber(w)
    if w == cur then
      c, pr = tonumber(vc), tonumber(vp)
    elseif w == cur - 1 then
      pr = tonumber(vc)
    end
  end
  local elapsed = now - cur * window
  local est = pr * (window - elapsed) / window + c
  local p = { key = key, window = window, cost = cost, cur = cur, c = c, pr = pr }
  p.rem = math.max(math.floor(cap - est), 0)
  if c > 0 then
    p.reset = (cur + 2) * window - now
  elseif pr > 0 then
    p.reset = (cur + 1) * window - now
  else
    p.reset = 0
  end
  if est + cost <= cap then
    p.ok, p.retry = true, 0
    p.rem_ok = math.max(math.floor(cap - est - cost), 0)
    p.reset_ok = (cur + 2) * window - now
    return p
  end
  p.ok = false
  local wait
  if c + cost <= cap then
    -- Later in this window, once the previous window weighs little enough.
    wait = math.ceil(window - (cap - c - cost) * window / pr) - elapsed
    if pr * (window - elapsed - wait) / window + c + cost > cap then
      wait = wait + 1
    end
  else
    -- In the next window, with this one as its previous.
    local e2 = math.max(math.ceil(window - (cap - cost) * window / c), 0)
    if c * (window - e2) / window + cost > cap then
      e2 = e2 + 1
    end
    wait = window - elapsed + e2
  end
  p.retry = math.max(wait, 1)
  return p
end

local function swc_commit(p)
  local left = (p.cur + 2) * p.window - now
  redis.call('SET', p.key, string.format('%d:%d:%d', p.cur, p.c + p.cost, p.pr), 'PX', ttl_ms(left))
end

---------------------------------------------------------------------------
-- 4: fixed window. Value "<window index>:<count>" (the index keeps window
-- edges exact to the microsecond, independent of key expiry timing).
local function fw_peek(key, cap, window, cost)
  local cur = math.floor(now / window)
  local c = 0
  local v = redis.call('GET', key)
  if v then
    local w, vc = string.match(v, '^(%d+):(%d+)$')
    if tonumber(w) == cur then
      c = tonumber(vc)
    end
  end
  local left = (cur + 1) * window - now
  local p = { key = key, cost = cost, cur = cur, c = c, left = left }
  p.rem = math.max(cap - c, 0)
  p.reset = (c > 0) and left or 0
  if c + cost <= cap then
    p.ok, p.retry, p.rem_ok, p.reset_ok = true, 0, cap - c - cost, left
  else
    p.ok, p.retry = false, left
  end
  return p
end

local function fw_commit(p)
  redis.call('SET', p.key, string.format('%d:%d', p.cur, p.c + p.cost), 'PX', ttl_ms(p.left))
end

---------------------------------------------------------------------------
-- 5: token bucket. Value "<micro-tokens>:<last update us>"; a token is
-- 1,000,000 micro-tokens and the bucket gains `rate` micro-tokens per
-- microsecond, so all arithmetic is exact in integers below 2^53.
local function tb_peek(key, cap, window, cost, rate)
  local full = cap * MICRO
  local mt, ts = full, now
  local v = redis.call('GET', key)
  if v then
    local vm, vt = string.match(v, '^(%d+):(%d+)$')
    mt, ts = tonumber(vm), tonumber(vt)
    if now > ts then
      local dt = now - ts
      if dt >= window then
        mt = full
      else
        mt = math.min(full, mt + dt * rate)
      end
      ts = now
    end
  end
  local p = { key = key, mt = mt, ts = ts, need = cost * MICRO, rate = rate, full = full }
  p.rem = math.floor(mt / MICRO)
  p.reset = ceil_div(full - mt, rate)
  if mt >= p.need then
    p.ok, p.retry = true, 0
    p.rem_ok = math.floor((mt - p.need) / MICRO)
    p.reset_ok = ceil_div(full - mt + p.need, rate)
  else
    p.ok, p.retry = false, ceil_div(p.need - mt, rate)
  end
  return p
end

local function tb_commit(p)
  local left = p.mt - p.need
  redis.call('SET', p.key, string.format('%d:%d', left, p.ts), 'PX', ttl_ms(ceil_div(p.full - left, p.rate)))
end

---------------------------------------------------------------------------
-- 6: GCRA. Value "<tat us>:<fraction>": the theoretical arrival time is
-- tat + fraction / rate microseconds; the emission interval is 1e6 / rate.
-- Admit iff the new TAT is at most capacity intervals ahead of now.
-- Integers only: (tat - now) * rate stays below ~2 * capacity * 1e6.
local function gcra_peek(key, cap, window, cost, rate)
  local tat, frac = now, 0
  local v = redis.call('GET', key)
  if v then
    local vt, vf = string.match(v, '^(%d+):(%d+)$')
    vt = tonumber(vt)
    if vt >= now then
      tat, frac = vt, tonumber(vf)
    end
  end
  local limit = cap * MICRO
  local ahead = (tat - now) * rate + frac          -- in units of 1/rate us
  local num = frac + cost * MICRO
  local ntat, nfrac = tat + math.floor(num / rate), num % rate
  local nahead = (ntat - now) * rate + nfrac
  local p = { key = key, ntat = ntat, nfrac = nfrac }
  p.rem = math.max(math.floor((limit - ahead) / MICRO), 0)
  p.reset = ceil_div(ahead, rate)
  if nahead <= limit then
    p.ok, p.retry = true, 0
    p.rem_ok = math.floor((limit - nahead) / MICRO)
    p.reset_ok = ceil_div(nahead, rate)
  else
    p.ok, p.retry = false, ceil_div(nahead - limit, rate)
  end
  return p
end

local function gcra_commit(p)
  redis.call('SET', p.key, string.format('%d:%d', p.ntat, p.nfrac), 'PX', ttl_ms(p.reset_ok))
end

---------------------------------------------------------------------------
local PEEK = { swl_peek, swlb_peek, swc_peek, fw_peek, tb_peek, gcra_peek }
local COMMIT = { swl_commit, swlb_commit, swc_commit, fw_commit, tb_commit, gcra_commit }

local function decide(out, a, k, m)
  if m == 1 then
    local alg = tonumber(ARGV[a])
    local peek = PEEK[alg]
    if not peek then
      error('ratewarden: unknown algorithm ' .. tostring(ARGV[a]))
    end
    local p = peek(KEYS[k], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]))
    local o = #out
    if p.ok then
      COMMIT[alg](p)
      out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, p.rem_ok, 0, p.reset_ok
    else
      out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 0, p.rem, p.retry, p.reset
    end
    return
  end
  local peeks = {}
  local all = true
  for j = 0, m - 1 do
    local b = a + 5 * j
    local alg = tonumber(ARGV[b])
    local peek = PEEK[alg]
    if not peek then
      error('ratewarden: unknown algorithm ' .. tostring(ARGV[b]))
    end
    local p = peek(KEYS[k + j], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]),
      tonumber(ARGV[b + 4]))
    p.alg = alg
    peeks[j + 1] = p
    all = all and p.ok
  end
  local o = #out
  for j = 1, m do
    local p = peeks[j]
    if all then
      COMMIT[p.alg](p)
      out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, p.rem_ok, 0, p.reset_ok
    else
      local reset = p.reset
      if not reset then
        reset = swl_reset(p)
      end
      out[o + 1], out[o + 2], out[o + 3], out[o + 4] = p.ok and 1 or 0, p.rem, p.retry, reset
    end
    o = o + 4
  end
end

-- The common case, inline: one limit of the exact log. No closures, no
-- tables, no pcall (a wrong-typed key shows up as the GET's error reply),
-- and no number formatting or parsing that a batch can share: the cutoff
-- is compared as a zero-padded string, and the TTL argument and the numbers
-- in ARGV are converted once per distinct value.
local NUM, CUT, TTL = {}, {}, {}

local function num(x)
  local v = NUM[x]
  if not v then
    v = tonumber(x)
    NUM[x] = v
  end
  return v
end

local function swl_single(out, o, key, capx, windowx, costx)
  local s = redis.pcall('GET', key)
  if type(s) == 'table' then
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = tostring(s.err), 0, 0, 0
    return
  end
  local cap, window, cost = num(capx), num(windowx), num(costx)
  local cut = CUT[windowx]
  if not cut then
    cut = string.format('%016d', now - window)
    CUT[windowx] = cut
  end
  s = s or ''
  local n = #s / 16
  local first = 1
  while first <= n and string.sub(s, first * 16 - 15, first * 16) <= cut do
    first = first + 1
  end
  local used = n - first + 1
  if used + cost <= cap then
    if first > 1 then
      s = string.sub(s, first * 16 - 15)
    end
    if cost == 1 then
      s = s .. nowpad
    else
      s = s .. string.rep(nowpad, cost)
    end
    local ttl = TTL[windowx]
    if not ttl then
      ttl = string.format('%d', ttl_ms(window))
      TTL[windowx] = ttl
    end
    redis.call('SET', key, s, 'PX', ttl)
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, cap - used - cost, 0, window
  else
    out[o + 1], out[o + 2] = 0, math.max(cap - used, 0)
    out[o + 3] = ts_at(s, first + used + cost - cap - 1) + window - now
    out[o + 4] = ts_at(s, n) + window - now
  end
end

local out = {}
local o = 0
local n = tonumber(ARGV[2])
local a, k = 3, 1
for _ = 1, n do
  local m = num(ARGV[a])
  if m == 1 and ARGV[a + 1] == '1' then
    swl_single(out, o, KEYS[k], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
  else
    local ok, err = pcall(decide, out, a + 1, k, m)
    if not ok then
      local text = type(err) == 'table' and (err.err or err.msg) or tostring(err)
      out[o + 1] = tostring(text)
      for j = o + 2, o + 4 * m do
        out[j] = 0
      end
    end
  end
  o = o + 4 * m
  a = a + 1 + 5 * m
  k = k + m
end
return out
