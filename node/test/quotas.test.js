'use strict'
// Quotas over any period ({ quota } or { capacity, periodMs }) and peek /
// refund / block / reset, on memory:// and a real Redis; bad input.
const test = require('node:test')
const assert = require('node:assert/strict')
const { randomUUID } = require('node:crypto')
const { Limiter, ErrorCode } = require('..')
const { RedisServer } = require('./helpers')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function exercise (l) {
  const c = randomUUID()
  const start = Date.now()
  for (let i = 0; i < 5; i++) {
    const d = await l.check(c, '/login', { quota: '5/minute' })
    assert.deepEqual([d.allowed, d.limit, d.remaining], [true, 5, 4 - i])
  }
  const d = await l.check(c, '/login', { capacity: 5, periodMs: 60_000 })
  const spent = Date.now() - start
  assert.equal(d.allowed, false)
  assert.equal(d.limit, 5)
  assert.ok(d.retryAfterMs <= 60_000 && d.retryAfterMs >= 60_000 - spent - 50, `${d.retryAfterMs} after ${spent} ms`)

  for (let i = 0; i < 1000; i++) {
    const p = await l.peek(c, '/peek', { quota: '3/hour' })
    assert.equal(p.allowed && p.remaining === 2, true)
  }
  let admitted = 0
  for (let i = 0; i < 6; i++) admitted += (await l.check(c, '/peek', { quota: '3/hour' })).allowed ? 1 : 0
  assert.equal(admitted, 3)
  assert.equal((await l.refund(c, '/peek', { quota: '3/hour', cost: 1 })).allowed, true)
  assert.equal((await l.check(c, '/peek', { quota: '3/hour' })).allowed, true)
  assert.equal((await l.check(c, '/peek', { quota: '3/hour' })).allowed, false)

  const b = await l.block(c, '/block', { quota: '50/second', durationMs: 300 })
  assert.equal(b.allowed, false)
  assert.equal(b.retryAfterMs, 300)
  const blocked = await l.check(c, '/block', { quota: '50/second' })
  assert.equal(blocked.allowed, false)
  await sleep(blocked.retryAfterMs + 20)
  assert.equal((await l.check(c, '/block', { quota: '50/second' })).allowed, true)

  await l.reset(c, '/login')
  const fresh = await l.check(c, '/login', { quota: '5/minute;20/hour' })
  assert.deepEqual([fresh.allowed, fresh.remaining], [true, 4])
}

test('quotas and operations on memory://', async () => {
  await exercise(new Limiter(`memory://${randomUUID()}`))
})

test('quotas and operations on Redis', async () => {
  const server = await RedisServer.start()
  try {
    await exercise(new Limiter(server.url))
  } finally {
    await server.stop()
  }
})

test('bad quotas reject with RATEWARDEN_INVALID_ARGUMENT naming the part', async () => {
  const l = new Limiter(`memory://${randomUUID()}`)
  for (const quota of ['0/minute', '10/fortnight', '-1/s', '1e99/day', '', '5/', '/minute']) {
    for (const p of [
      l.check('c', '/x', { quota }),
      l.peek('c', '/x', { quota }),
      l.refund('c', '/x', { quota }),
      l.block('c', '/x', { quota, durationMs: 1000 })
    ]) {
      await assert.rejects(p, (e) => e.code === ErrorCode.InvalidArgument, quota)
    }
  }
  await assert.rejects(l.check('c', '/x', { quota: '10/fortnight' }), /fortnight/)
  await assert.rejects(l.check('c', '/x', { quota: '5/minute', capacity: 5, ratePerSecond: 5 }), /not both/)
  await assert.rejects(l.check('c', '/x', { capacity: 5, ratePerSecond: 5, periodMs: 1000 }), /not both/)
  await assert.rejects(l.check('c', '/x', { capacity: 5, periodMs: 0 }), (e) => e.code === ErrorCode.InvalidArgument)
  await assert.rejects(l.refund('c', '/x', { quota: '5/minute', cost: 0 }), /refund/)
  await assert.rejects(l.refund('c', '/x', { quota: '5/minute', cost: 6 }), /capacity/)
  await assert.rejects(l.block('c', '/x', { quota: '5/minute', durationMs: 0 }), /block/)
  await assert.rejects(l.block('c', '/x', { quota: '5/minute', durationMs: 1e30 }), (e) => e.code === ErrorCode.InvalidArgument)
  await assert.rejects(l.reset('', '/x'), (e) => e.code === ErrorCode.InvalidArgument)
  // Wrong JS types.
  await assert.rejects(l.check('c', '/x', { quota: 5 }), TypeError)
  await assert.rejects(l.peek('c', '/x', { capacity: '5', periodMs: 1 }), TypeError)
  await assert.rejects(l.block('c', '/x', { quota: '5/minute', durationMs: '1' }), TypeError)
  await assert.rejects(l.refund('c', '/x', null), TypeError)
  await assert.rejects(l.reset('c', 1), TypeError)
})

test('policies take any quota', async () => {
  const l = new Limiter(`memory://${randomUUID()}`)
  await l.setPolicy('/login', { quota: '5/minute;20/hour' })
  const p = await l.resolvedPolicy('/login')
  assert.equal(p.quota, '5/minute;20/hour')
  assert.equal(p.capacity, 5)
  assert.equal(p.periodMs, 60_000)
  assert.equal((await l.checkPolicy('u', '/login')).remaining, 4)
  await l.setPolicy('/seed', { capacity: 10, ratePerSecond: 10 })
  assert.equal((await l.resolvedPolicy('/seed')).quota, '10/second')
})
