---------------------------------------------------------------------------
local PEEK = { swl_peek, swlb_peek, swc_peek, fw_peek, gcra_peek, gcra_peek }
local COMMIT = { swl_commit, swlb_commit, swc_commit, fw_commit, gcra_commit, gcra_commit }
local REFUND = { swl_refund, swlb_refund, swc_refund, fw_refund, gcra_refund, gcra_refund }
local BLOCK = { swl_block, swlb_block, set_block, set_block, set_block, set_block }

-- One decision of m limits, its code(s) at ARGV[a...], its keys at KEY[k...].
local function decide(out, o, a, k, m)
  local code = tonumber(ARGV[a])
  local alg = code % 16
  local op = (code - alg) / 16
  if op >= 2 then
    for j = 0, m - 1 do
      local b = a + 5 * j
      local key, c = KEY[k + j], tonumber(ARGV[b])
      alg = c % 16
      if not PEEK[alg] or (c - alg) / 16 ~= op then
        error('ratewarden: bad code ' .. tostring(ARGV[b]))
      end
      local cap, window, cost, aux = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]),
        tonumber(ARGV[b + 4])
      local at = o + 4 * j
      if op == 2 then
        REFUND[alg](key, cap, window, cost, aux)
      elseif op == 3 then
        BLOCK[alg](key, cap, window, cost)
        out[at + 1], out[at + 2], out[at + 3], out[at + 4] = 0, 0, cost, cost
      else
        out[at + 1], out[at + 2], out[at + 3], out[at + 4] = redis.call('DEL', key), 0, 0, 0
      end
    end
    if op ~= 2 then
      return
    end
    -- A refund answers with what a cost-1 check would get now.
  end
  local peeks = {}
  local all = true
  for j = 0, m - 1 do
    local b = a + 5 * j
    local c = tonumber(ARGV[b])
    alg = c % 16
    local peek = PEEK[alg]
    if not peek then
      error('ratewarden: unknown algorithm ' .. tostring(ARGV[b]))
    end
    local cost = tonumber(ARGV[b + 3])
    if op ~= 0 then
      cost = 1
    end
    local p = peek(KEY[k + j], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), cost, tonumber(ARGV[b + 4]))
    p.alg = alg
    peeks[j + 1] = p
    all = all and p.ok
  end
  for j = 1, m do
    local p = peeks[j]
    if all then
      if op == 0 then
        COMMIT[p.alg](p)
      end
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
local FOREIGN = 'ratewarden: the key holds no rate-limit state of this algorithm'

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
  -- A string that is no log (written by something else): this decision
  -- fails, the others of the batch go on. Checked cheaply here (length and
  -- first byte, no scan of the whole string); a record that still is no
  -- number is caught where one is read as a number (the refusal below).
  if s and (#s % 16 ~= 0 or (#s > 0 and (string.byte(s) < 48 or string.byte(s) > 57))) then
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = FOREIGN, 0, 0, 0
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
    -- The new entry is now, or the newest entry's time if that is later
    -- (the clock went back): the string stays sorted, and the entry counts
    -- as long as the one it joins (the memory twin merges the two).
    local at, reset = nowpad, window
    if n > 0 then
      local last = string.sub(s, -16)
      if last > nowpad then
        at, reset = last, tonumber(last) + window - now
      end
    end
    if first > 1 then
      s = string.sub(s, first * 16 - 15)
    end
    if cost == 1 then
      s = s .. at
    else
      s = s .. string.rep(at, cost)
    end
    local ttl = TTL[windowx]
    if not ttl then
      ttl = string.format('%d', ttl_ms(window))
      TTL[windowx] = ttl
    end
    if reset ~= window then
      ttl = string.format('%d', ttl_ms(reset))
    end
    redis.call('SET', key, s, 'PX', ttl)
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, cap - used - cost, 0, reset
  else
    local oldest, newest = ts_at(s, first + used + cost - cap - 1), ts_at(s, n)
    if not (oldest and newest) then
      out[o + 1], out[o + 2], out[o + 3], out[o + 4] = FOREIGN, 0, 0, 0
      return
    end
    out[o + 1], out[o + 2] = 0, math.max(cap - used, 0)
    out[o + 3], out[o + 4] = oldest + window - now, newest + window - now
  end
end

-- The common case of the bucketed log, inline in the same way: one limit,
-- a check, a head of the current layout, at most one bucket leaving the
-- window. The set is read without scores (the head's name carries the
-- total), the closed bucket's score is its name's end as sent, and the
-- expiry is written only when a bucket opens (an admission into the open
-- bucket keeps the expiry that bucket set, which is what the general path
-- would set again). Returns false, having written nothing, where the
-- general path must decide: another head layout, several buckets to range
-- over, or a refusal that needs more than the oldest bucket to compute its
-- retry time. Same answers as swlb_peek/swlb_commit.
local FIN, TTLB = {}, {}

local function swlb_single(out, o, key, capx, windowx, costx, bucketx)
  local z = redis.pcall('ZRANGE', key, 0, 2)
  if z.err then
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = tostring(z.err), 0, 0, 0
    return true
  end
  local h = z[1]
  local e, c, t
  if h then
    e, c, t = string.match(h, '^#(%d+):(%d+):(%d+)$')
    if not e then
      return false
    end
  end
  local cap, window, cost = num(capx), num(windowx), num(costx)
  local cutoff = now - window
  local total, open_end, fresh, gone, oldest_end, oldest_count = 0, nil, false, nil, nil, nil
  if e then
    open_end = tonumber(e)
    if open_end <= cutoff then
      -- The newest bucket has left the window: so has everything.
      open_end, fresh = nil, true
    else
      total = tonumber(t)
      local m1 = z[2]
      if m1 then
        local e1, c1 = string.match(m1, '^(%d+):(%d+)$')
        if not e1 then
          return false
        end
        if tonumber(e1) > cutoff then
          oldest_end, oldest_count = e1, c1
        else
          local m2 = z[3]
          if m2 then
            local e2, c2 = string.match(m2, '^(%d+):(%d+)$')
            if not e2 or tonumber(e2) <= cutoff then
              return false
            end
            oldest_end, oldest_count = e2, c2
          end
          total, gone = total - tonumber(c1), m1
        end
      end
      if total < 0 then
        total = 0
      end
    end
  end
  local after = total + cost
  if after > cap then
    local retry = 0
    if oldest_end then
      if tonumber(oldest_count) < after - cap then
        return false
      end
      retry = tonumber(oldest_end) + window - now
    elseif open_end then
      retry = open_end + window - now
    end
    out[o + 1], out[o + 2], out[o + 3] = 0, math.max(cap - total, 0), retry
    out[o + 4] = open_end and (open_end + window - now) or 0
    return true
  end
  -- The new total, formatted once for the head's name and its score.
  local sa = tostring(after)
  if open_end and now <= open_end then
    -- Add before removing: a set left empty would take its expiry with it.
    redis.call('ZADD', key, '-' .. sa, '#' .. e .. ':' .. (tonumber(c) + cost) .. ':' .. sa)
    if gone then
      redis.call('ZREM', key, h, gone)
    else
      redis.call('ZREM', key, h)
    end
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, cap - after, 0, open_end + window - now
    return true
  end
  local bucket = num(bucketx)
  local fin = FIN[bucketx]
  if not fin then
    fin = string.format('%d', now + bucket - 1)
    FIN[bucketx] = fin
  end
  local head = '#' .. fin .. ':' .. costx .. ':' .. sa
  if fresh then
    redis.call('DEL', key)
    redis.call('ZADD', key, '-' .. sa, head)
  elseif open_end then
    -- Close the open bucket: it becomes an ordinary member.
    if gone then
      redis.call('ZREM', key, h, gone)
    else
      redis.call('ZREM', key, h)
    end
    local member = e .. ':' .. c
    if redis.call('ZADD', key, e, member, '-' .. sa, head) < 2 then
      -- An entry of this name existed (the clock went back) and now
      -- stands for both: give it the doubled count, merging again if needed.
      local count = tonumber(c)
      repeat
        redis.call('ZREM', key, member)
        count = count * 2
        member = e .. ':' .. count
      until redis.call('ZADD', key, e, member) == 1
    end
  else
    redis.call('ZADD', key, '-' .. sa, head)
  end
  local tk = windowx .. ':' .. bucketx
  local ttl = TTLB[tk]
  if not ttl then
    ttl = string.format('%d', ttl_ms(bucket - 1 + window))
    TTLB[tk] = ttl
  end
  redis.call('PEXPIRE', key, ttl)
  out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, cap - after, 0, bucket - 1 + window
  return true
end

-- One limit of the counter, the fixed window or the buckets, a check: the
-- peek and commit of `decide` without its tables, the numbers converted
-- once per distinct value. Called under pcall (error isolation).
local function single(out, o, key, alg, capx, windowx, costx, auxx)
  local p = PEEK[alg](key, num(capx), num(windowx), num(costx), num(auxx))
  if p.ok then
    COMMIT[alg](p)
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, p.rem_ok, 0, p.reset_ok
  else
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 0, p.rem, p.retry, p.reset
  end
end

-- A decision that raised an error: its text in the first slot.
local function failed(out, o, m, err)
  local text = type(err) == 'table' and (err.err or err.msg) or tostring(err)
  out[o + 1] = tostring(text)
  for j = o + 2, o + 4 * m do
    out[j] = 0
  end
end

local out = {}
local o = 0
local n = tonumber(ARGV[2])
local a, k = a0, kb + 1
local prev = 0
-- No key declared (Redis Cluster): a decision of several limits first
-- reads all its keys at once, so that one of them not served here stops it
-- before any write.
local probe = kb > 0
for _ = 1, n do
  -- at: where this decision's m and limits are; m = 0 means "the limits of
  -- the decision before", sent once.
  local at, step = a, 1
  local m = num(ARGV[a])
  if m == 0 and prev > 0 then
    at = prev
    m = num(ARGV[at])
  else
    prev, step = a, 1 + 5 * m
  end
  local done = false
  if probe and m > 1 then
    local r = redis.pcall('EXISTS', unpack(KEY, k, k + m - 1))
    if type(r) == 'table' and r.err then
      failed(out, o, m, r.err)
      done = true
    end
  end
  if not done and m == 1 then
    local code = ARGV[at + 1]
    if code == '1' then
      swl_single(out, o, KEY[k], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4])
      done = true
    elseif code == '2' then
      done = swlb_single(out, o, KEY[k], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5])
    else
      local alg = num(code)
      if alg and alg >= 3 and alg <= 6 then
        local ok, err = pcall(single, out, o, KEY[k], alg, ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5])
        if not ok then
          failed(out, o, 1, err)
        end
        done = true
      end
    end
  end
  if not done then
    local ok, err = pcall(decide, out, o, at + 1, k, m)
    if not ok then
      failed(out, o, m, err)
    end
  end
  o = o + 4 * m
  a = a + step
  k = k + m
end
return out
