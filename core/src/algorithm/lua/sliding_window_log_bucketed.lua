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


-- Take `cost` units off the newest buckets still in the window.
local function swlb_refund(key, cap, window, cost, bucket)
  local p = swlb_peek(key, cap, window, 1, bucket)
  if p.total == 0 then
    return
  end
  local left = cost
  local newest = redis.call('ZREVRANGEBYSCORE', key, '+inf', '(' .. (now - window), 'LIMIT', 0, cost)
  for j = 1, #newest do
    local m = newest[j]
    local e, c = string.match(m, '^(%d+):(%d+)$')
    if left == 0 or not e then
      break
    end
    c = tonumber(c)
    redis.call('ZREM', key, m)
    if c > left then
      redis.call('ZADD', key, tonumber(e), string.format('%s:%d', e, c - left))
      left = 0
    else
      left = left - c
    end
  end
  local total = p.total - (cost - left)
  if total <= 0 then
    redis.call('DEL', key)
  else
    redis.call('ZADD', key, -total, '#')
  end
end

-- One bucket of the whole capacity that leaves the window at now + d.
local function swlb_block(key, cap, window, d)
  local finish = now + d - window
  redis.call('DEL', key)
  redis.call('ZADD', key, finish, string.format('%d:%d', finish, cap), -cap, '#')
  redis.call('PEXPIRE', key, ttl_ms(d))
end
