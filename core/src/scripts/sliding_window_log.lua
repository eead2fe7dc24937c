#!lua
-- ratewarden: sliding-window log, one atomic decision.
--
-- KEYS[1]  the log: a sorted set
--            member "<first_us>:<count>", score = last_us  (one entry per bucket)
--            member "#", score = -total                    (running sum of counts)
-- ARGV[1]  capacity         requests allowed in any trailing window
-- ARGV[2]  window_us        W = capacity / rate, in microseconds
-- ARGV[3]  cost             units this request counts as (1..capacity)
-- ARGV[4]  bucket_us        0 = exact; else admissions within bucket_us of an
--                           entry's first request are counted in that entry
--
-- Returns { allowed (0/1), remaining, retry_after_us, reset_after_us }.
--
-- An entry is counted until its *last* request leaves the window, so merging
-- requests into buckets can only count a request longer than it should, never
-- shorter: the log may refuse early at the window's edge, never over-admit.
-- Requests in the same server microsecond share one entry with a count, so
-- nothing collapses. Mirrored by core/src/memory.rs `decide`.
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local bucket = math.max(tonumber(ARGV[4]), 1)

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cutoff = now - window

local total = -(tonumber(redis.call('ZSCORE', key, '#')) or 0)

-- Trim entries whose last request is at or before now - W: (now - W, now].
if total > 0 then
  local old = redis.call('ZRANGEBYSCORE', key, '(0', cutoff)
  if #old > 0 then
    for i = 1, #old do
      total = total - tonumber(string.match(old[i], ':(%d+)$'))
    end
    redis.call('ZREMRANGEBYSCORE', key, '(0', cutoff)
  end
end

local allowed = 0
local retry_after = 0
local newest = nil
if total + cost <= capacity then
  allowed = 1
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  local merged = false
  if last[1] and last[1] ~= '#' then
    local first, count = string.match(last[1], '^(%d+):(%d+)$')
    first = tonumber(first)
    if now - first < bucket then
      newest = math.max(now, tonumber(last[2]))
      redis.call('ZREM', key, last[1])
      redis.call('ZADD', key, newest, string.format('%d:%d', first, tonumber(count) + cost))
      merged = true
    end
  end
  total = total + cost
  if merged then
    redis.call('ZADD', key, -total, '#')
  else
    newest = now
    redis.call('ZADD', key, now, string.format('%d:%d', now, cost), -total, '#')
  end
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
else
  -- Denied: wait until enough of the oldest entries leave the window.
  local need = total + cost - capacity
  local oldest = redis.call('ZRANGEBYSCORE', key, '(0', '+inf', 'WITHSCORES', 'LIMIT', 0, need)
  local freed = 0
  for i = 1, #oldest, 2 do
    freed = freed + tonumber(string.match(oldest[i], ':(%d+)$'))
    if freed >= need then
      retry_after = tonumber(oldest[i + 1]) + window - now
      break
    end
  end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[1] and last[1] ~= '#' then
    newest = tonumber(last[2])
  end
end

local reset_after = 0
if newest then
  reset_after = newest + window - now
end
local remaining = capacity - total
if remaining < 0 then
  remaining = 0
end
return { allowed, remaining, retry_after, reset_after }
