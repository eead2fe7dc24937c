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

