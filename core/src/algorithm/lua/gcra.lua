---------------------------------------------------------------------------
-- 5 and 6: token bucket and GCRA. A bucket of `cap` tokens refilled
-- evenly over the period P is a GCRA with emission interval T = P / cap:
-- both store the theoretical arrival time (when the bucket is full again),
-- "<tat us>:<frac>", tat + frac / cap microseconds, 0 <= frac < cap, so
-- every step is an exact integer sum; the one product (remaining) goes
-- through muldiv. Admit iff the new TAT is at most P ahead of now.
local function gcra_read(key, cap)
  local v, u = get_state(key)
  if u then
    return nil, nil, u
  end
  if v then
    local vt, vf = string.match(v, '^(%d+):(%d+)$')
    vt = tonumber(vt)
    if vt and vt >= now then
      return vt, math.min(tonumber(vf), cap - 1)
    end
  end
  return now, 0
end

-- Cost-1 admissions left when the TAT is `a + f / cap` us ahead of now.
local function gcra_left(cap, window, a, f)
  if a >= window then
    return 0
  end
  local q, r = muldiv(window - a, cap, window)
  if f > r then
    q = q - idiv(f - r + window - 1, window)
  end
  return math.max(q, 0)
end

local function gcra_peek(key, cap, window, cost)
  local tat, frac, u = gcra_read(key, cap)
  if u then
    return blocked(key, u)
  end
  local whole, part = muldiv(cost, window, cap)
  local ntat, nfrac = tat + whole, frac + part
  if nfrac >= cap then
    ntat, nfrac = ntat + 1, nfrac - cap
  end
  local a, na = tat - now, ntat - now
  local p = { key = key, ntat = ntat, nfrac = nfrac }
  p.rem = gcra_left(cap, window, a, frac)
  p.reset = a + ((frac > 0) and 1 or 0)
  if na < window or (na == window and nfrac == 0) then
    p.ok, p.retry = true, 0
    p.rem_ok = gcra_left(cap, window, na, nfrac)
    p.reset_ok = na + ((nfrac > 0) and 1 or 0)
  else
    p.ok, p.retry = false, na - window + ((nfrac > 0) and 1 or 0)
  end
  return p
end

local function gcra_commit(p)
  redis.call('SET', p.key, string.format('%d:%d', p.ntat, p.nfrac), 'PX', ttl_ms(p.reset_ok))
end

-- Move the TAT back by cost intervals, not before now (a full bucket).
local function gcra_refund(key, cap, window, cost)
  local tat, frac, u = gcra_read(key, cap)
  if u or tat == now and frac == 0 then
    return
  end
  local whole, part = muldiv(cost, window, cap)
  local ntat, nfrac = tat - whole, frac - part
  if nfrac < 0 then
    ntat, nfrac = ntat - 1, nfrac + cap
  end
  if ntat < now or (ntat == now and nfrac == 0) then
    redis.call('DEL', key)
  else
    local ahead = ntat - now + ((nfrac > 0) and 1 or 0)
    redis.call('SET', key, string.format('%d:%d', ntat, nfrac), 'PX', ttl_ms(ahead))
  end
end
