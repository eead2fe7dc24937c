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

