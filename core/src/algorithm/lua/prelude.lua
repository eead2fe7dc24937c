#!lua flags=allow-cross-slot-keys
-- ratewarden: every algorithm in one script; a call carries a batch of
-- decisions, and each decision one or more limits (all or nothing).
--
-- ARGV[1]  now override in microseconds; 0 = the server's TIME. Only the
--          test suite sends anything else (to replay exact schedules).
-- ARGV[2]  n, the number of decisions in this call
-- then, per decision:  m, its number of limits
--   then, per limit:   code, capacity, window_us, cost, aux
--                      code = algorithm + 16 * operation (below)
--   or just 0:         the same limits as the decision before it
-- KEYS     one per limit, in the same order (all of one decision share the
--          client's hash tag, so one slot).
--
-- On Redis Cluster, a call carries the decisions of every slot its node
-- serves: no key is declared (declared keys of several slots are refused
-- with CROSSSLOT), ARGV[3] is the index of the last argument before the
-- keys, the decisions' arguments start at ARGV[4], and the keys, one per
-- limit as above, follow them. The flag allow-cross-slot-keys lets such a
-- call touch keys of several slots; Redis still checks each access, and a
-- key whose slot this node does not serve now (moved, or migrating and not
-- here) raises "non local key". A decision that raises it has written
-- nothing (its first access is a read, or for several limits a probe of
-- all its keys) and carries that error, so the client sends it again alone
-- with its keys declared, which yields MOVED or ASK.
--
-- algorithm  1 sliding-window log, exact (aux unused; capacity <= 127)
--            2 sliding-window log, bucketed (aux = bucket width in us)
--            3 sliding-window counter      4 fixed window
--            5 token bucket                6 GCRA (the same arithmetic)
-- operation  0 check: all or nothing over the decision's limits
--            1 peek: the answer of a cost-1 check, nothing written
--            2 refund `cost` units   3 block for `cost` us   4 reset (DEL)
--
-- Arithmetic: every number is an integer below 2^53 (periods up to 1e15 us,
-- capacities up to 1e9, times up to now + 2 periods), so doubles are exact;
-- where a product could pass 2^53 (token bucket / GCRA), muldiv computes
-- it exactly, and integer division uses math.fmod, which is exact.
--
-- Returns a flat array with 4 integers per limit, decisions in order:
--   { ok (1/0), remaining, retry_after_us, reset_after_us }
-- A decision is admitted iff all its limits are ok; only then is any of them
-- written. If a decision raises an error, its first slot holds the error text
-- and the rest are 0; the other decisions of the batch are unaffected.
--
-- Each algorithm has a peek (read, trim, decide; returns a table with
-- ok, remaining/reset as they are now, and as they will be if admitted) and
-- commit (write and set the expiry), a refund and a block. Mirrored by
-- core/src/algorithm/local.rs.

local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local nowpad = string.format('%016d', now)
-- Where the keys are: KEYS, or (Redis Cluster, none declared) ARGV after
-- index kb; the decisions' arguments start at ARGV[a0].
local KEY, kb, a0 = KEYS, 0, 3
if #KEYS == 0 then
  KEY, kb, a0 = ARGV, tonumber(ARGV[3]), 4
end
local MICRO = 1000000

-- Keys outlive the moment their state stops mattering by one second.
local function ttl_ms(us)
  return math.ceil(us / 1000) + 1000
end

local function ceil_div(a, b)
  return math.floor((a + b - 1) / b)
end


-- floor(a / b) for integers a >= 0, b >= 1 below 2^53: exact.
local function idiv(a, b)
  return (a - math.fmod(a, b)) / b
end

-- floor(x * y / d) and x * y mod d, exact for integers x, y, d below 2^51
-- whose quotient is below 2^53, even where x * y is not (shift and add).
local function muldiv(x, y, d)
  if y > x then
    x, y = y, x
  end
  local p = x * y
  if p < 4503599627370496 then -- 2^52: the product itself is exact
    local r = math.fmod(p, d)
    return (p - r) / d, r
  end
  local rx = math.fmod(x, d)
  local q = ((x - rx) / d) * y
  local top = 1
  while top * 2 <= y do
    top = top * 2
  end
  local qq, r, yy = 0, 0, y
  while top >= 1 do
    qq, r = qq * 2, r * 2
    if r >= d then
      qq, r = qq + 1, r - d
    end
    if yy >= top then
      yy = yy - top
      r = r + rx
      if r >= d then
        qq, r = qq + 1, r - d
      end
    end
    top = top / 2
  end
  return q + qq, r
end

-- A blocked key of the counters and buckets holds "b<until_us>". Returns
-- the value if it is state, or nil and the end of a running block.
local function get_state(key)
  local v = redis.call('GET', key)
  if v and string.byte(v) == 98 then
    local u = tonumber(string.sub(v, 2))
    if u and u > now then
      return nil, u
    end
    return nil, nil
  end
  return v, nil
end

local function blocked(key, u)
  return { key = key, ok = false, rem = 0, retry = u - now, reset = u - now, blocked = true }
end

local function set_block(key, cap, window, d)
  redis.call('SET', key, string.format('b%d', now + d), 'PX', ttl_ms(d))
end
