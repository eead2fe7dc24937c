'use strict'
// Every public entry point under random arguments (fast-check), on
// memory://: any value of any type either works or fails with the
// documented error — a TypeError for a wrong type, an Error with code
// RATEWARDEN_INVALID_ARGUMENT (or RATEWARDEN_CONFIG for options) for a bad
// value — thrown or as a rejected promise; never anything else, never a crash.
const test = require('node:test')
const assert = require('node:assert/strict')
const fc = require('fast-check')
const { Limiter, Rule, ClientIp } = require('..')

const RUNS = Number(process.env.FAST_CHECK_RUNS || 400)
const limiter = new Limiter('memory://fuzz')

const anything = fc.oneof(
  fc.constant(undefined), fc.constant(null), fc.boolean(),
  fc.integer(), fc.double(), fc.bigInt(),
  fc.constantFrom(0, 1, -1, 127, 128, 1e9, 1e9 + 1, 2 ** 53, 2 ** 64, NaN, Infinity, -Infinity, 0.5),
  fc.string({ maxLength: 40 }), fc.string({ minLength: 300, maxLength: 600 }),
  fc.array(fc.integer(), { maxLength: 3 }), fc.object({ maxDepth: 1 })
)
const quotaText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.stringMatching(/^[0-9]{0,12}\/[0-9]{0,4} ?(s|ms|us|second|minute|hour|day|week|fortnight)?$/)
)
const quotaArg = fc.oneof(
  anything,
  fc.record({ capacity: anything, ratePerSecond: anything, cost: anything }, { requiredKeys: [] }),
  fc.record({ capacity: anything, periodMs: anything, algorithm: anything }, { requiredKeys: [] }),
  fc.record({ quota: fc.oneof(quotaText, anything), cost: anything }, { requiredKeys: [] })
)

function documented (e) {
  if (e instanceof TypeError) return true
  return e instanceof Error && ['RATEWARDEN_INVALID_ARGUMENT', 'RATEWARDEN_CONFIG'].includes(e.code)
}

async function attempt (f) {
  try {
    await f()
  } catch (e) {
    assert.ok(documented(e), `undocumented rejection: ${e && e.stack}`)
  }
}

test('check, isAllowed, peek and refund take anything', async () => {
  await fc.assert(fc.asyncProperty(anything, anything, quotaArg, anything, anything, async (c, e, q, cap, rate) => {
    await attempt(() => limiter.check(c, e, q))
    await attempt(() => limiter.peek(c, e, q))
    await attempt(() => limiter.refund(c, e, q))
    await attempt(() => limiter.isAllowed(c, e, cap, rate))
  }), { numRuns: RUNS })
})

test('options take anything', async () => {
  const names = ['timeoutMs', 'keyPrefix', 'maxInFlight', 'algorithm', 'failureMode', 'localShare',
    'breakerThreshold', 'breakerOpenForMs', 'denyCache', 'tlsRootCertPem',
    'tlsClientCertPem', 'tlsClientKeyPem', 'nope']
  await fc.assert(fc.asyncProperty(fc.constantFrom(...names), anything, anything, async (name, value, url) => {
    await attempt(() => new Limiter('memory://fuzz-options', { [name]: value }))
    await attempt(() => new Limiter('memory://fuzz-options', value))
    if (typeof url !== 'string') await attempt(() => new Limiter(url))
  }), { numRuns: RUNS })
})

test('web rules and client addresses take anything', async () => {
  const proxies = fc.oneof(anything, fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('loopback', 'private', '10.0.0.0/8', '::1')), { maxLength: 4 }))
  await fc.assert(fc.asyncProperty(fc.oneof(quotaText, anything), anything, proxies, anything, anything, anything,
    async (quota, headers, trustedProxies, ipv6Subnet, peer, forwarded) => {
      await attempt(() => new Rule(quota, headers))
      let ip
      try {
        ip = new ClientIp({ trustedProxies, ipv6Subnet })
      } catch (e) {
        assert.ok(documented(e), String(e && e.stack))
        return
      }
      await attempt(() => ip.key(peer, forwarded))
      await attempt(async () => limiter.checkHttp(peer, '/fuzz', new Rule('5/second'), forwarded))
    }), { numRuns: RUNS })
})
