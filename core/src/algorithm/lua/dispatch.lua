---------------------------------------------------------------------------
local PEEK = { swl_peek, swlb_peek, swc_peek, fw_peek, gcra_peek, gcra_peek }
local COMMIT = { swl_commit, swlb_commit, swc_commit, fw_commit, gcra_commit, gcra_commit }
local REFUND = { swl_refund, swlb_refund, swc_refund, fw_refund, gcra_refund, gcra_refund }
local BLOCK = { swl_block, swlb_block, set_block, set_block, set_block, set_block }

-- One decision of m limits, its code(s) at ARGV[a...], its keys at KEYS[k...].
local function decide(out, o, a, k, m)
  local code = tonumber(ARGV[a])
  local alg = code % 16
  local op = (code - alg) / 16
  if op >= 2 then
    for j = 0, m - 1 do
      local b = a + 5 * j
      local key, c = KEYS[k + j], tonumber(ARGV[b])
      alg = c % 16
      if not PEEK[alg] or (c - alg) / 16 ~= op then
        error('ratewarden: bad code ' .. tostring(ARGV[b]))
      end
      local cap, window, cost, aux = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]),
        tonumber(ARGV[b + 4])
      local at = o + 4 * j
      if op == 2 then
        REFUND[alg](key, cap, window, cost, aux)
      elseif op == 3 then
        BLOCK[alg](key, cap, window, cost)
        out[at + 1], out[at + 2], out[at + 3], out[at + 4] = 0, 0, cost, cost
      else
        out[at + 1], out[at + 2], out[at + 3], out[at + 4] = redis.call('DEL', key), 0, 0, 0
      end
    end
    if op ~= 2 then
      return
    end
    -- A refund answers with what a cost-1 check would get now.
  end
  local peeks = {}
  local all = true
  for j = 0, m - 1 do
    local b = a + 5 * j
    local c = tonumber(ARGV[b])
    alg = c % 16
    local peek = PEEK[alg]
    if not peek then
      error('ratewarden: unknown algorithm ' .. tostring(ARGV[b]))
    end
    local cost = tonumber(ARGV[b + 3])
    if op ~= 0 then
      cost = 1
    end
    local p = peek(KEYS[k + j], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), cost, tonumber(ARGV[b + 4]))
    p.alg = alg
    peeks[j + 1] = p
    all = all and p.ok
  end
  for j = 1, m do
    local p = peeks[j]
    if all then
      if op == 0 then
        COMMIT[p.alg](p)
      end
      out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, p.rem_ok, 0, p.reset_ok
    else
      local reset = p.reset
      if not reset then
        reset = swl_reset(p)
      end
      out[o + 1], out[o + 2], out[o + 3], out[o + 4] = p.ok and 1 or 0, p.rem, p.retry, reset
    end
    o = o + 4
  end
end

-- The common case, inline: one limit of the exact log. No closures, no
-- tables, no pcall (a wrong-typed key shows up as the GET's error reply),
-- and no number formatting or parsing that a batch can share: the cutoff
-- is compared as a zero-padded string, and the TTL argument and the numbers
-- in ARGV are converted once per distinct value.
local NUM, CUT, TTL = {}, {}, {}

local function num(x)
  local v = NUM[x]
  if not v then
    v = tonumber(x)
    NUM[x] = v
  end
  return v
end

local function swl_single(out, o, key, capx, windowx, costx)
  local s = redis.pcall('GET', key)
  if type(s) == 'table' then
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = tostring(s.err), 0, 0, 0
    return
  end
  local cap, window, cost = num(capx), num(windowx), num(costx)
  local cut = CUT[windowx]
  if not cut then
    cut = string.format('%016d', now - window)
    CUT[windowx] = cut
  end
  s = s or ''
  local n = #s / 16
  local first = 1
  while first <= n and string.sub(s, first * 16 - 15, first * 16) <= cut do
    first = first + 1
  end
  local used = n - first + 1
  if used + cost <= cap then
    if first > 1 then
      s = string.sub(s, first * 16 - 15)
    end
    if cost == 1 then
      s = s .. nowpad
    else
      s = s .. string.rep(nowpad, cost)
    end
    local ttl = TTL[windowx]
    if not ttl then
      ttl = string.format('%d', ttl_ms(window))
      TTL[windowx] = ttl
    end
    redis.call('SET', key, s, 'PX', ttl)
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, cap - used - cost, 0, window
  else
    out[o + 1], out[o + 2] = 0, math.max(cap - used, 0)
    out[o + 3] = ts_at(s, first + used + cost - cap - 1) + window - now
    out[o + 4] = ts_at(s, n) + window - now
  end
end

local out = {}
local o = 0
local n = tonumber(ARGV[2])
local a, k = 3, 1
for _ = 1, n do
  local m = num(ARGV[a])
  if m == 1 and ARGV[a + 1] == '1' then
    swl_single(out, o, KEYS[k], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
  else
    local ok, err = pcall(decide, out, o, a + 1, k, m)
    if not ok then
      local text = type(err) == 'table' and (err.err or err.msg) or tostring(err)
      out[o + 1] = tostring(text)
      for j = o + 2, o + 4 * m do
        out[j] = 0
      end
    end
  end
  o = o + 4 * m
  a = a + 1 + 5 * m
  k = k + m
end
return out
