#!lua
-- ratewarden: every algorithm in one script; a call carries a batch of
-- decisions, and each decision one or more limits (all or nothing).
--
-- ARGV[1]  now override in microseconds; 0 = the server's TIME. Only the
--          test suite sends anything else (to replay exact schedules).
-- ARGV[2]  n, the number of decisions in this call
-- then, per decision:  m, its number of limits
--   then, per limit:   algorithm, capacity, window_us, cost, aux
-- KEYS     one per limit, in the same order (all of one decision share the
--          client's hash tag). On Redis Cluster, one call carries the
--          decisions of one slot (a batch is a pipeline of such calls).
--
-- algorithm  1 sliding-window log, exact (aux unused; capacity <= 127)
--            2 sliding-window log, bucketed (aux = bucket width in us)
--            3 sliding-window counter      4 fixed window
--            5 token bucket (aux = rate/s) 6 GCRA (aux = rate/s)
--
-- Returns a flat array with 4 integers per limit, decisions in order:
--   { ok (1/0), remaining, retry_after_us, reset_after_us }
-- A decision is admitted iff all its limits are ok; only then is any of them
-- written. If a decision raises an error, its first slot holds the error text
-- and the rest are 0; the other decisions of the batch are unaffected.
--
-- Each algorithm is a pair: peek (read, trim, decide; returns a table with
-- ok, remaining/reset as they are now, and as they will be if admitted) and
-- commit (write and set the expiry). Mirrored by core/src/algorithm/local.rs.

local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local nowpad = string.format('%016d', now)
local MICRO = 1000000

-- Keys outlive the moment their state stops mattering by one second.
local function ttl_ms(us)
  return math.ceil(us / 1000) + 1000
end

local function ceil_div(a, b)
  return math.floor((a + b - 1) / b)
end

