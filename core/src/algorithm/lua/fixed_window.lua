---------------------------------------------------------------------------
-- 4: fixed window. Value "<window index>:<count>" (the index keeps window
-- edges exact to the microsecond, independent of key expiry timing).
local function fw_read(key, cur)
  local v, u = get_state(key)
  if v then
    local w, vc = string.match(v, '^(%d+):(%d+)$')
    if tonumber(w) == cur then
      return tonumber(vc)
    end
  end
  return 0, u
end

local function fw_peek(key, cap, window, cost)
  local cur = idiv(now, window)
  local c, u = fw_read(key, cur)
  if u then
    return blocked(key, u)
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

-- Admissions of past windows no longer count: only this window's give back.
local function fw_refund(key, cap, window, cost)
  local cur = idiv(now, window)
  local c, u = fw_read(key, cur)
  if u or c == 0 then
    return
  end
  if c <= cost then
    redis.call('DEL', key)
  else
    redis.call('SET', key, string.format('%d:%d', cur, c - cost), 'PX', ttl_ms((cur + 1) * window - now))
  end
end
