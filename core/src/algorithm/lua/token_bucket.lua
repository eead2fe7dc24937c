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

