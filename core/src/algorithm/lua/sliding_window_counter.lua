---------------------------------------------------------------------------
-- 3: sliding-window counter. Value "<window index>:<current>:<previous>";
-- estimate = previous * (W - elapsed) / W + current. Kept until the end of
-- the next window, when the current count stops mattering.
-- The counts of window `cur` and of the one before, the end of a running
-- block, and the window they belong to: the stored window just *after*
-- `cur` (the server clock went back by less than a window) keeps counting
-- as the current one, as if it had just begun, so such a step never admits
-- more. (Any other index is another window size or long past.)
local function swc_read(key, cur)
  local c, pr = 0, 0
  local v, u = get_state(key)
  if v then
    local w, vc, vp = string.match(v, '^(%d+):(%d+):(%d+)$')
    w = tonumber(w)
    if w == cur then
      c, pr = tonumber(vc), tonumber(vp)
    elseif w == cur - 1 then
      pr = tonumber(vc)
    elseif w == cur + 1 then
      c, pr, cur = tonumber(vc), tonumber(vp), w
    end
  end
  return c, pr, u, cur
end

local function swc_peek(key, cap, window, cost)
  local c, pr, u, cur = swc_read(key, idiv(now, window))
  if u then
    return blocked(key, u)
  end
  -- ahead: how far the stored window's start is in the future (0 normally).
  local ahead = math.max(cur * window - now, 0)
  local elapsed = now + ahead - cur * window
  local est = pr * (window - elapsed) / window + c
  local reset = 0
  if c > 0 then
    reset = (cur + 2) * window - now
  elseif pr > 0 then
    reset = (cur + 1) * window - now
  end
  -- All fields in the constructor: one allocation, no rehash.
  local p = { key = key, window = window, cost = cost, cur = cur, c = c, pr = pr,
    rem = math.max(math.floor(cap - est), 0), reset = reset, ok = true, retry = 0,
    rem_ok = math.max(math.floor(cap - est - cost), 0), reset_ok = (cur + 2) * window - now }
  if est + cost <= cap then
    return p
  end
  p.ok, p.rem_ok = false, 0
  local wait
  if c + cost <= cap then
    -- Later in this window, once the previous window weighs little enough.
    wait = math.ceil(window - (cap - c - cost) * window / pr) - elapsed
    if pr * (window - elapsed - wait) / window + c + cost > cap then
      wait = wait + 1
    end
  else
    -- In the next window, with this one as its previous.
    local e2 = math.max(math.ceil(window - (cap - cost) * window / c), 0)
    if c * (window - e2) / window + cost > cap then
      e2 = e2 + 1
    end
    wait = window - elapsed + e2
  end
  p.retry = math.max(wait + ahead, 1)
  return p
end

local function swc_commit(p)
  local left = (p.cur + 2) * p.window - now
  redis.call('SET', p.key, string.format('%d:%d:%d', p.cur, p.c + p.cost, p.pr), 'PX', ttl_ms(left))
end


-- The latest admissions first: this window's count, then the previous one's.
local function swc_refund(key, cap, window, cost)
  local c, pr, u, cur = swc_read(key, idiv(now, window))
  if u or c + pr == 0 then
    return
  end
  local back = math.min(c, cost)
  c, pr = c - back, math.max(pr - (cost - back), 0)
  if c + pr == 0 then
    redis.call('DEL', key)
  else
    redis.call('SET', key, string.format('%d:%d:%d', cur, c, pr), 'PX', ttl_ms((cur + 2) * window - now))
  end
end
