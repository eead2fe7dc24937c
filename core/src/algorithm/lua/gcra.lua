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
  local up = (nfrac > 0) and 1 or 0
  local ok = na < window or (na == window and nfrac == 0)
  -- All fields in the constructor: one allocation, no rehash.
  return { key = key, ntat = ntat, nfrac = nfrac, rem = gcra_left(cap, window, a, frac),
    reset = a + ((frac > 0) and 1 or 0), ok = ok, retry = ok and 0 or na - window + up,
    rem_ok = ok and gcra_left(cap, window, na, nfrac) or 0, reset_ok = na + up }
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
