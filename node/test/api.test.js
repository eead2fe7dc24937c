'use strict'
// The API on the embedded backend: defaults, types, error codes.
const test = require('node:test')
const assert = require('node:assert/strict')
const { randomUUID } = require('node:crypto')
const { Limiter, ErrorCode, headers, ietfHeaders } = require('..')

test('memory:// is the default; isAllowed and check agree', async () => {
  const l = new Limiter()
  const c = randomUUID()
  assert.equal(await l.isAllowed(c, '/x', 2, 2), true)
  const d = await l.check(c, '/x', { capacity: 2, ratePerSecond: 2 })
  assert.deepEqual([d.allowed, d.limit, d.remaining, d.retryAfterMs], [true, 2, 0, 0])
  const denied = await l.check(c, '/x', { capacity: 2, ratePerSecond: 2 })
  assert.equal(denied.allowed, false)
  assert.ok(denied.retryAfterMs > 0 && denied.retryAfterMs <= 1000)
  await l.ping()
})

test('cost is all or nothing', async () => {
  const l = new Limiter(`memory://${randomUUID()}`)
  assert.equal((await l.check('c', '/e', { capacity: 5, ratePerSecond: 1, cost: 3 })).remaining, 2)
  assert.equal((await l.check('c', '/e', { capacity: 5, ratePerSecond: 1, cost: 3 })).allowed, false)
  assert.equal((await l.check('c', '/e', { capacity: 5, ratePerSecond: 1, cost: 2 })).allowed, true)
})

test('wrong JS types reject with TypeError', async () => {
  const l = new Limiter(`memory://${randomUUID()}`)
  for (const args of [[1, '/e', 1, 1], ['c', null, 1, 1], ['c', '/e', '1', 1], ['c', '/e', 1, 1n], ['c', '/e', 1]]) {
    await assert.rejects(l.isAllowed(...args), TypeError)
  }
  await assert.rejects(l.check('c', '/e'), TypeError)
  await assert.rejects(l.check('c', '/e', { capacity: 1, ratePerSecond: 1, cost: '1' }), TypeError)
  assert.throws(() => new Limiter(42), TypeError)
  assert.throws(() => new Limiter('memory://', 'x'), TypeError)
  assert.throws(() => new Limiter('memory://', { timeoutMs: '5' }), TypeError)
})

test('bad values reject with RATEWARDEN_INVALID_ARGUMENT', async () => {
  const l = new Limiter(`memory://${randomUUID()}`)
  const cases = [['', '/e', 1, 1, 1], ['c', '', 1, 1, 1], ['x'.repeat(513), '/e', 1, 1, 1], ['c', '/e', 0, 1, 1],
    ['c', '/e', 1, 0, 1], ['c', '/e', -1, 1, 1], ['c', '/e', 1.5, 1, 1], ['c', '/e', NaN, 1, 1],
    ['c', '/e', Infinity, 1, 1], ['c', '/e', 5, 1, 0], ['c', '/e', 5, 1, 6], ['c', '/e', 2e9, 1, 1]]
  for (const [c, e, capacity, ratePerSecond, cost] of cases) {
    await assert.rejects(l.check(c, e, { capacity, ratePerSecond, cost }), (err) => {
      assert.equal(err.code, ErrorCode.InvalidArgument, `${JSON.stringify([c.length, e, capacity, ratePerSecond, cost])}: ${err.message}`)
      assert.ok(err instanceof Error)
      return true
    })
  }
  assert.throws(() => new Limiter('http://x'), (err) => err.code === ErrorCode.Config)
  assert.throws(() => new Limiter('memory://', { keyPrefix: '{x}' }), (err) => err.code === ErrorCode.InvalidArgument)
  assert.throws(() => new Limiter('memory://', { timeoutMs: 0 }), (err) => err.code === ErrorCode.InvalidArgument)
  assert.throws(() => new Limiter('memory://', { maxInFlight: 0 }), (err) => err.code === ErrorCode.InvalidArgument)
})

test('unreachable Redis rejects with a connection code within the deadline', async () => {
  const { freePort } = require('./helpers')
  const l = new Limiter(`redis://127.0.0.1:${await freePort()}`, { timeoutMs: 300 })
  const t0 = Date.now()
  await assert.rejects(l.isAllowed('c', '/e', 1, 1), (err) =>
    [ErrorCode.Connection, ErrorCode.Timeout].includes(err.code))
  assert.ok(Date.now() - t0 < 1300)
})

test('algorithms and checkAll on memory://, and their bad input', async () => {
  const l = new Limiter(`memory://alg-${process.pid}`, { algorithm: 'gcra' })
  assert.equal(l.algorithm, 'gcra')
  assert.equal((await l.check('a', '/e', { capacity: 2, ratePerSecond: 1, cost: 2 })).remaining, 0)
  assert.ok(!(await l.check('a', '/e', { capacity: 2, ratePerSecond: 1, algorithm: 'gcra' })).allowed)
  assert.ok((await l.check('a', '/e', { capacity: 2, ratePerSecond: 1, algorithm: 'fixed_window' })).allowed)
  const limits = [{ endpoint: '/e', capacity: 3, ratePerSecond: 1 }, { endpoint: '*', capacity: 1, ratePerSecond: 1 }]
  const m = await l.checkAll('b', limits)
  assert.ok(m.allowed)
  assert.deepEqual(m.decisions.map((d) => d.remaining), [2, 0])
  const again = await l.checkAll('b', limits)
  assert.ok(!again.allowed && again.limiting === 1 && again.decisions[0].allowed)
  assert.throws(() => new Limiter('memory://', { algorithm: 'leaky' }), { code: 'RATEWARDEN_INVALID_ARGUMENT' })
  assert.throws(() => new Limiter('memory://', { algorithm: 3 }), TypeError)
  await assert.rejects(l.check('a', '/e', { capacity: 1, ratePerSecond: 1, algorithm: 'nope' }), { code: 'RATEWARDEN_INVALID_ARGUMENT' })
  await assert.rejects(l.check('a', '/e', { capacity: 1, ratePerSecond: 1, algorithm: 5 }), TypeError)
  await assert.rejects(l.checkAll('a', 'x'), TypeError)
  await assert.rejects(l.checkAll('a', [null]), TypeError)
  await assert.rejects(l.checkAll('a', [{ endpoint: '/e', capacity: '1', ratePerSecond: 1 }]), TypeError)
  await assert.rejects(l.checkAll('a', []), { code: 'RATEWARDEN_INVALID_ARGUMENT' })
  await assert.rejects(l.checkAll('a', [limits[0], limits[0]]), { code: 'RATEWARDEN_INVALID_ARGUMENT' })
  await assert.rejects(l.checkAll('a', [{ endpoint: '/e', capacity: 1, ratePerSecond: 1, cost: 2 }]), { code: 'RATEWARDEN_INVALID_ARGUMENT' })
})

test('options go to the core by name: its ranges, its error codes, thrown synchronously', () => {
  const l = new Limiter(`memory://${randomUUID()}`, { timeoutMs: 250, breakerThreshold: 5, breakerOpenForMs: 100, failureMode: 'deny', denyCache: 0 })
  assert.equal(l.timeoutMs, 250)
  assert.equal(l.failureMode, 'deny')
  const invalid = (err) => err instanceof Error && err.code === ErrorCode.InvalidArgument && err.outcomeUnknown === false
  assert.throws(() => new Limiter('memory://', { breakerThreshold: 0 }), invalid)
  assert.throws(() => new Limiter('memory://', { breakerOpenForMs: 0 }), invalid)
  assert.throws(() => new Limiter('memory://', { maxInFlight: 2e6 }), invalid)
  assert.throws(() => new Limiter('memory://', { maxInFlight: 1.5 }), invalid)
  assert.throws(() => new Limiter('memory://', { timeotMs: 5 }), (err) => invalid(err) && /unknown option "timeotMs"/.test(err.message))
  assert.throws(() => new Limiter('memory://', { timeout: 5 }), invalid) // Python's spelling is not JavaScript's
  assert.throws(() => new Limiter('memory://', { breakerThreshold: '5' }), TypeError)
  assert.throws(() => new Limiter('redis://127.0.0.1:1', { tlsRootCertPem: Buffer.from('x') }), (err) => err.code === ErrorCode.Config)
  // A client certificate needs its key; TLS material needs a TLS URL.
  assert.throws(() => new Limiter('rediss://127.0.0.1:1', { tlsClientCertPem: 'cert' }), (err) => err.code === ErrorCode.Config && /key/.test(err.message))
  assert.throws(() => new Limiter('redis+cluster://127.0.0.1:1', { tlsClientCertPem: 'c', tlsClientKeyPem: 'k' }), (err) => err.code === ErrorCode.Config)
  assert.throws(() => new Limiter('rediss://127.0.0.1:1', { tlsClientKeyPem: 5 }), TypeError)
  assert.deepEqual(Object.keys(ErrorCode).sort(), ['Config', 'Connection', 'Internal', 'InvalidArgument', 'Server', 'Timeout', 'Usage'])
})

test('policies, resolvedPolicy and redisKey', async () => {
  const l = new Limiter(`memory://${randomUUID()}`)
  await l.setPolicy('/p', { capacity: 4, ratePerSecond: 2, algorithm: 'gcra' })
  const want = { capacity: 4, ratePerSecond: 2, periodMs: 2000, quota: '4/2 seconds', algorithm: 'gcra' }
  assert.deepEqual(await l.policies(), { '/p': want })
  assert.deepEqual(await l.resolvedPolicy('/p'), want)
  await assert.rejects(l.resolvedPolicy('/none'), { code: ErrorCode.InvalidArgument })
  await l.deletePolicy('/p')
  assert.deepEqual(await l.policies(), {})
  assert.equal(l.redisKey('c', '/e', 1, 1), null)
  const remote = new Limiter('redis://127.0.0.1:1')
  const key = remote.redisKey('c', '/e', 1, 1)
  assert.ok(Buffer.isBuffer(key) && key.toString().startsWith('ratewarden:{') && key.toString().endsWith(':c:/e'))
  assert.equal(remote.redisKey('c', '/e', 0, 1), null)
  assert.throws(() => remote.redisKey('c', '/e', '1', 1), TypeError)
})

test('seconds and headers come from the core', async () => {
  const l = new Limiter(`memory://${randomUUID()}`)
  await l.check('c', '/h', { capacity: 2, ratePerSecond: 1, cost: 2 })
  const d = await l.check('c', '/h', { capacity: 2, ratePerSecond: 1 })
  assert.equal(d.allowed, false)
  assert.equal(d.retryAfterSecs, 2)
  assert.equal(d.resetAfterSecs, 2)
  assert.deepEqual(headers(d), { 'RateLimit-Limit': '2', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '2', 'Retry-After': '2' })
  assert.deepEqual(Object.keys(headers(d, 'x-ratelimit')), ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Retry-After'])
  assert.throws(() => headers(d, 'draft-99'), { code: ErrorCode.InvalidArgument })
  assert.throws(() => headers(null), TypeError)
  assert.deepEqual(ietfHeaders(d, 'login', 120000), { 'RateLimit-Policy': '"login";q=2;w=120', RateLimit: '"login";r=0;t=2', 'Retry-After': '2' })
  assert.throws(() => ietfHeaders(d, '', 1000), { code: ErrorCode.InvalidArgument })
  assert.throws(() => ietfHeaders(d, 'x', -1), { code: ErrorCode.InvalidArgument })
  assert.throws(() => ietfHeaders(d, 'x', '1'), TypeError)
})
