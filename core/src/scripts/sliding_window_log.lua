#!lua
-- ratewarden: sliding-window log, one atomic decision.
--
-- KEYS[1]  the log: a sorted set
--            member "<end_us>:<count>", score = end_us  (one entry per microsecond,
--                                                      or per bucket of bucket_us)
--            member "#", score = -total               (running sum of counts;
--                                                      always the lowest score)
-- ARGV[1]  capacity         units allowed in any trailing window
-- ARGV[2]  window_us        W = capacity / rate, in microseconds
-- ARGV[3]  cost             units this request counts as (1..capacity)
-- ARGV[4]  bucket_us        0 = exact; else admissions are counted in entries
--                           that each cover bucket_us microseconds
--
-- Returns { allowed (0/1), remaining, retry_after_us, reset_after_us }.
--
-- An entry stays counted until its *end* leaves the window (now - W, now]. In
-- exact mode the end is the admission's own microsecond; in bucketed mode it
-- is the end of the bucket, at most bucket_us - 1 after the admission: a
-- request may be counted for slightly longer than it should, never shorter,
-- so the log may refuse early at the window's edge and never over-admits.
-- Admissions in the same server microsecond with the same count are merged
-- into one entry with the summed count, so no admission is ever lost.
-- Common paths: 4 Redis calls to admit (5 when one entry expires), 3 to deny.
-- Mirrored by core/src/memory.rs `decide`.
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local bucket = tonumber(ARGV[4])

local function count_of(member)
  return tonumber(string.match(member, ':(%d+)$'))
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cutoff = now - window

-- '#' and the two oldest entries, in one call.
local head = redis.call('ZRANGE', key, 0, 2, 'WITHSCORES')
local total = 0
local fresh = true
local i = 1
if head[1] == '#' then
  total = -tonumber(head[2])
  fresh = false
  i = 3
end

-- Trim what left the window; remember the oldest entry that stays, if known.
local oldest, oldest_score = nil, nil
if head[i] then
  local s1 = tonumber(head[i + 1])
  if s1 > cutoff then
    oldest, oldest_score = head[i], s1
  elseif head[i + 2] and tonumber(head[i + 3]) > cutoff then
    total = total - count_of(head[i])
    redis.call('ZREM', key, head[i])
    oldest, oldest_score = head[i + 2], tonumber(head[i + 3])
  else
    local old = redis.call('ZRANGEBYSCORE', key, '(0', cutoff)
    for j = 1, #old do
      total = total - count_of(old[j])
    end
    redis.call('ZREMRANGEBYSCORE', key, '(0', cutoff)
  end
end

if total + cost <= capacity then
  local finish = now + math.max(bucket, 1) - 1
  local count = cost
  if bucket > 0 and not fresh then
    local last = redis.call('ZRANGE', key, -1, -1)
    if last[1] and last[1] ~= '#' then
      local e, c = string.match(last[1], '^(%d+):(%d+)$')
      e = tonumber(e)
      if now <= e then
        redis.call('ZREM', key, last[1])
        finish, count = e, tonumber(c) + cost
      end
    end
  end
  total = total + cost
  local member = string.format('%d:%d', finish, count)
  local added = redis.call('ZADD', key, finish, member, -total, '#')
  if added < (fresh and 2 or 1) then
    -- An entry of this name existed (same microsecond, same count) and now
    -- stands for both: give it the doubled count, merging again if needed.
    repeat
      redis.call('ZREM', key, member)
      count = count * 2
      member = string.format('%d:%d', finish, count)
      added = redis.call('ZADD', key, finish, member)
    until added == 1
  end
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
  return { 1, capacity - total, 0, finish + window - now }
end

-- Denied: wait until enough of the oldest entries leave the window.
local need = total + cost - capacity
local retry_after = 0
if oldest and count_of(oldest) >= need then
  retry_after = oldest_score + window - now
else
  local list = redis.call('ZRANGEBYSCORE', key, '(0', '+inf', 'WITHSCORES', 'LIMIT', 0, need)
  local freed = 0
  for j = 1, #list, 2 do
    freed = freed + count_of(list[j])
    if freed >= need then
      retry_after = tonumber(list[j + 1]) + window - now
      break
    end
  end
end
local reset_after = 0
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if last[1] and last[1] ~= '#' then
  reset_after = tonumber(last[2]) + window - now
end
local remaining = capacity - total
if remaining < 0 then
  remaining = 0
end
return { 0, remaining, retry_after, reset_after }
