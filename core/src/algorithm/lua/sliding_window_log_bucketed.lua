---------------------------------------------------------------------------
-- 2: sliding-window log, bucketed (capacity above the exact limit).
--   member "#<end_us>:<count>:<total>", score -total: the running sum
--     (always the lowest score) and the open (newest) bucket, which ends at
--     end_us; the total is in the name too, so the common case reads the
--     set without scores (see swlb_single in dispatch.lua)
--   member "<end_us>:<count>", score end_us: the admissions of one closed
--     bucket
-- An entry is counted until its end leaves the window: at most one bucket
-- too long, never too short. One ZRANGE reads the total, the open bucket
-- and the two oldest closed ones; an admission then writes with one ZREM,
-- one ZADD and, when it opens a bucket, one PEXPIRE (an admission into the
-- open bucket leaves the expiry that bucket set); a refusal writes nothing
-- (what has left the window is subtracted again next time, from the same
-- stored total).
-- Older heads are read too: "#<end_us>:<count>" (the total only in the
-- score), and "#" (no open bucket; refunds leave it).
local function count_of(member)
  return tonumber(string.match(member, ':(%d+)$'))
end

local function swlb_peek(key, cap, window, cost, bucket)
  local cutoff = now - window
  local head = redis.call('ZRANGE', key, 0, 2, 'WITHSCORES')
  local p = { key = key, window = window, cost = cost, bucket = bucket, cutoff = cutoff }
  local total, i = 0, 1
  local h = head[1]
  if h and string.byte(h) == 35 then
    p.head = h
    total = -tonumber(head[2])
    local e, c = string.match(h, '^#(%d+):(%d+)')
    if e then
      p.open_str, p.open_end, p.open_count = e, tonumber(e), tonumber(c)
    end
    i = 3
  end
  local oldest, oldest_score
  if p.open_end and p.open_end <= cutoff then
    -- The newest bucket has left the window: so has everything.
    total, p.fresh = 0, true
    p.open_end = nil
  elseif head[i] then
    local s1 = tonumber(head[i + 1])
    if s1 > cutoff then
      oldest, oldest_score = head[i], s1
    elseif not head[i + 2] or tonumber(head[i + 3]) > cutoff then
      total = total - count_of(head[i])
      p.gone = head[i]
      if head[i + 2] then
        oldest, oldest_score = head[i + 2], tonumber(head[i + 3])
      end
    else
      local old = redis.call('ZRANGEBYSCORE', key, '(0', cutoff)
      for j = 1, #old do
        total = total - count_of(old[j])
      end
      p.ranged = true
    end
  end
  if total <= 0 then
    total = 0
  end
  p.total = total
  p.rem = math.max(cap - total, 0)
  if p.open_end then
    p.reset = p.open_end + window - now
  elseif total > 0 then
    -- No open bucket (a head left by a refund): the newest closed one.
    local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    p.reset = (last[1] and string.byte(last[1]) ~= 35) and (tonumber(last[2]) + window - now) or 0
  else
    p.reset = 0
  end
  if total + cost <= cap then
    p.ok, p.retry, p.rem_ok = true, 0, cap - total - cost
    if p.open_end and now <= p.open_end then
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
    return p
  end
  local freed = 0
  p.retry = 0
  if oldest or p.ranged then
    local list = redis.call('ZRANGEBYSCORE', key, '(' .. string.format('%d', cutoff), '+inf', 'WITHSCORES', 'LIMIT', 0, need)
    for j = 1, #list, 2 do
      freed = freed + count_of(list[j])
      if freed >= need then
        p.retry = tonumber(list[j + 1]) + window - now
        return p
      end
    end
  end
  if p.open_end then
    p.retry = p.open_end + window - now
  end
  return p
end

-- Remove what left the window (the head is rewritten by the caller).
local function swlb_trim(p)
  local key = p.key
  if p.fresh then
    redis.call('DEL', key)
    return
  end
  if p.ranged then
    redis.call('ZREMRANGEBYSCORE', key, '(0', p.cutoff)
  end
  if p.head and p.gone then
    redis.call('ZREM', key, p.head, p.gone)
  elseif p.head then
    redis.call('ZREM', key, p.head)
  elseif p.gone then
    redis.call('ZREM', key, p.gone)
  end
end

local function swlb_commit(p)
  local key, cost = p.key, p.cost
  local total = p.total + cost
  swlb_trim(p)
  local finish
  if p.open_end and now <= p.open_end then
    finish = p.open_end
    redis.call('ZADD', key, -total, '#' .. p.open_str .. ':' .. (p.open_count + cost) .. ':' .. total)
  else
    finish = now + p.bucket - 1
    local head = '#' .. string.format('%d', finish) .. ':' .. cost .. ':' .. total
    if p.open_end then
      -- Close the open bucket: it becomes an ordinary member.
      local member = p.open_str .. ':' .. p.open_count
      local added = redis.call('ZADD', key, p.open_end, member, -total, head)
      if added < 2 then
        -- An entry of this name existed (the clock went back) and now
        -- stands for both: give it the doubled count, merging again if needed.
        local count = p.open_count
        repeat
          redis.call('ZREM', key, member)
          count = count * 2
          member = p.open_str .. ':' .. count
          added = redis.call('ZADD', key, p.open_end, member)
        until added == 1
      end
    else
      redis.call('ZADD', key, -total, head)
    end
  end
  redis.call('PEXPIRE', key, ttl_ms(finish + p.window - now))
end

-- Take `cost` units off the newest buckets still in the window: the open
-- one first, then the closed ones, newest first.
local function swlb_refund(key, cap, window, cost, bucket)
  local p = swlb_peek(key, cap, window, 1, bucket)
  if p.total == 0 then
    return
  end
  swlb_trim(p)
  local left = cost
  local open_count = p.open_count
  if p.open_end then
    local take = math.min(open_count, left)
    open_count, left = open_count - take, left - take
  end
  if left > 0 then
    local newest = redis.call('ZREVRANGEBYSCORE', key, '+inf', '(' .. string.format('%d', p.cutoff), 'LIMIT', 0, left)
    for j = 1, #newest do
      local m = newest[j]
      local e, c = string.match(m, '^(%d+):(%d+)$')
      if left == 0 or not e then
        break
      end
      c = tonumber(c)
      redis.call('ZREM', key, m)
      if c > left then
        redis.call('ZADD', key, tonumber(e), e .. ':' .. (c - left))
        left = 0
      else
        left = left - c
      end
    end
  end
  local total = p.total - (cost - left)
  if total <= 0 then
    redis.call('DEL', key)
  elseif p.open_end and open_count > 0 then
    redis.call('ZADD', key, -total, '#' .. p.open_str .. ':' .. open_count .. ':' .. total)
  else
    redis.call('ZADD', key, -total, '#')
  end
end

-- One bucket of the whole capacity that leaves the window at now + d.
local function swlb_block(key, cap, window, d)
  local finish = now + d - window
  redis.call('DEL', key)
  redis.call('ZADD', key, -cap, '#' .. string.format('%d', finish) .. ':' .. cap .. ':' .. cap)
  redis.call('PEXPIRE', key, ttl_ms(d))
end
