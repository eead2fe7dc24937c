---------------------------------------------------------------------------
-- 4: fixed window. Value "<window index>:<count>" (the index keeps window
-- edges exact to the microsecond, independent of key expiry timing).
-- The count of window `cur`, the end of a running block, and the window
-- the count belongs to: the stored window just *after* `cur` (the server
-- clock went back by less than a window: a failover to a replica whose
-- clock is behind, an NTP step) keeps counting as the current one, so such
-- a step never admits more. (Any other index is another window size — a
-- changed quota — or long past: it counts nothing.)
local function fw_read(key, cur)
  local v, u = get_state(key)
  if v then
    local w, vc = string.match(v, '^(%d+):(%d+)$')
    w = tonumber(w)
    if w == cur or w == cur + 1 then
      return tonumber(vc), u, w
    end
  end
  return 0, u, cur
end

local function fw_peek(key, cap, window, cost)
  local c, u, cur = fw_read(key, idiv(now, window))
  if u then
    return blocked(key, u)
  end
  local left = (cur + 1) * window - now
  local ok = c + cost <= cap
  -- All fields in the constructor: one allocation, no rehash.
  return { key = key, cost = cost, cur = cur, c = c, left = left, rem = math.max(cap - c, 0),
    reset = (c > 0) and left or 0, ok = ok, retry = ok and 0 or left, rem_ok = ok and cap - c - cost or 0,
    reset_ok = left }
end

local function fw_commit(p)
  redis.call('SET', p.key, string.format('%d:%d', p.cur, p.c + p.cost), 'PX', ttl_ms(p.left))
end

-- Admissions of past windows no longer count: only this window's give back.
local function fw_refund(key, cap, window, cost)
  local c, u, cur = fw_read(key, idiv(now, window))
  if u or c == 0 then
    return
  end
  if c <= cost then
    redis.call('DEL', key)
  else
    redis.call('SET', key, string.format('%d:%d', cur, c - cost), 'PX', ttl_ms((cur + 1) * window - now))
  end
end
