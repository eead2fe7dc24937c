'use strict'
// ratewarden/express and ratewarden/fastify under Node's http server, real
// requests (http.request, with a chosen source address where the test needs
// an untrusted peer), real Redis. Two app instances with their own Limiter
// share one Redis, as two processes of a service would.
const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const { Limiter } = require('../index.js')
const { rateLimit } = require('../express.js')
const ratewardenFastify = require('../fastify.js')
const { RedisServer } = require('./helpers.js')
const { listen, fastifyApp } = require('./webapps/apps.js')

let n = 0
const freshIp = () => { n++; return `198.51.${Math.floor(n / 250)}.${(n % 250) + 1}` }

function get (base, path, { ip, source, headers = {} } = {}) {
  const h = { ...headers }
  if (ip) h['x-forwarded-for'] = ip
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { headers: h, localAddress: source, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

const STATE = /^"5\/minute";r=(\d+);t=(\d+)$/

function checkHeaders (r) {
  assert.equal(r.headers['ratelimit-policy'], '"5/minute";q=5;w=60')
  const m = STATE.exec(r.headers.ratelimit)
  assert.ok(m, r.headers.ratelimit)
  const remaining = Number(m[1])
  const t = Number(m[2])
  assert.ok(t >= 1 && t <= 60)
  if (r.status === 429) {
    assert.equal(remaining, 0)
    const retry = Number(r.headers['retry-after'])
    assert.ok(retry >= 1 && retry <= 60)
    assert.deepEqual(JSON.parse(r.body), { error: 'rate_limited', retry_after: retry })
    assert.equal(r.headers['content-type'].split(';')[0], 'application/json')
  } else {
    assert.equal(r.status, 200)
    assert.equal(r.headers['retry-after'], undefined)
  }
  return remaining
}

for (const framework of ['express', 'fastify']) {
  test(`${framework}: real server, real Redis`, async (t) => {
    const redis = await RedisServer.start()
    const limiters = [0, 1].map(() => new Limiter(redis.url, { keyPrefix: `web-${framework}:` }))
    const apps = await Promise.all(limiters.map((l) => listen(framework, l)))
    const bases = apps.map((a) => a.base)
    t.after(async () => { for (const a of apps) await a.close(); await redis.stop() })
    let turn = 0
    const any = () => bases[turn++ % 2] // alternate between the two instances

    await t.test('exactly 5 of 20 concurrent requests pass across two instances', async () => {
      const ip = freshIp()
      const rs = await Promise.all(Array.from({ length: 20 }, () => get(any(), '/login', { ip })))
      assert.equal(rs.filter((r) => r.status === 200).length, 5)
      assert.equal(rs.filter((r) => r.status === 429).length, 15)
      assert.deepEqual(rs.filter((r) => r.status === 200).map(checkHeaders).sort(), [0, 1, 2, 3, 4])
      rs.forEach(checkHeaders)
    })

    await t.test('the sequence counts down; Retry-After is right', async () => {
      const ip = freshIp()
      const seen = []
      for (let i = 0; i < 5; i++) seen.push(checkHeaders(await get(any(), '/login', { ip })))
      assert.deepEqual(seen, [4, 3, 2, 1, 0])
      const r = await get(any(), '/login', { ip })
      assert.equal(r.status, 429)
      assert.ok(['59', '60'].includes(r.headers['retry-after']))
    })

    await t.test('routes, clients and skip are independent', async () => {
      const a = freshIp()
      const b = freshIp()
      for (let i = 0; i < 5; i++) assert.equal((await get(any(), '/login', { ip: a })).status, 200)
      assert.equal((await get(any(), '/login', { ip: a })).status, 429)
      assert.equal(checkHeaders(await get(any(), '/other', { ip: a })), 4)
      assert.equal(checkHeaders(await get(any(), '/login', { ip: b })), 4)
      for (let i = 0; i < 3; i++) {
        const r = await get(any(), '/login', { ip: a, headers: { 'x-skip': '1' } })
        assert.equal(r.status, 200)
        assert.equal(r.headers.ratelimit, undefined)
      }
    })

    await t.test('a cost function counts units', async () => {
      const ip = freshIp()
      assert.equal(checkHeaders(await get(any(), '/upload', { ip, headers: { 'x-cost': '3' } })), 2)
      assert.equal((await get(any(), '/upload', { ip, headers: { 'x-cost': '3' } })).status, 429)
      assert.equal(checkHeaders(await get(any(), '/upload', { ip, headers: { 'x-cost': '2' } })), 0)
    })

    await t.test('IPv6 clients are grouped by /64', async () => {
      const k = (++n).toString(16)
      for (let i = 1; i <= 5; i++) assert.equal((await get(any(), '/login', { ip: `2001:db8:${k}:7::${i}` })).status, 200)
      assert.equal((await get(any(), '/login', { ip: `2001:db8:${k}:7:ffff::9` })).status, 429)
      assert.equal((await get(any(), '/login', { ip: `2001:db8:${k}:8::1` })).status, 200)
    })

    await t.test('a spoofed X-Forwarded-For from an untrusted peer changes nothing', async () => {
      const source = `127.0.${++n % 250}.${9 + (n % 200)}`
      const codes = []
      for (let i = 0; i < 7; i++) codes.push((await get(any(), '/login', { ip: freshIp(), source })).status)
      assert.deepEqual(codes, [200, 200, 200, 200, 200, 429, 429])
    })

    await t.test('several quotas per route are all-or-nothing', async () => {
      const ip = freshIp()
      const rs = []
      for (let i = 0; i < 3; i++) rs.push(await get(any(), '/multi', { ip }))
      assert.deepEqual(rs.map((r) => r.status), [200, 200, 429])
      assert.equal(rs[0].headers['ratelimit-policy'], '"2/second";q=2;w=1, "3/minute";q=3;w=60')
      assert.match(rs[0].headers.ratelimit, /^"2\/second";r=1;t=1, "3\/minute";r=2;t=60$/)
      assert.match(rs[2].headers.ratelimit, /^"2\/second";r=0;t=1, "3\/minute";r=1;t=60$/)
      assert.equal(rs[2].headers['retry-after'], '1')
      await new Promise((resolve) => setTimeout(resolve, 1100))
      assert.equal((await get(any(), '/multi', { ip })).status, 200)
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const r = await get(any(), '/multi', { ip })
      assert.equal(r.status, 429)
      assert.ok(Number(r.headers['retry-after']) >= 56)
    })

    await t.test('the app-wide quota is one budget across routes', async () => {
      const ip = freshIp()
      const codes = []
      for (let i = 0; i < 5; i++) codes.push((await get(any(), `/app/${i}`, { ip })).status)
      assert.deepEqual(codes, [200, 200, 200, 429, 429])
      assert.equal((await get(any(), '/app/x', { ip })).headers['ratelimit-policy'], '"3/minute";q=3;w=60')
      assert.equal((await get(any(), '/pid', { ip })).status, 200)
    })
  })
}

const MODES = { express: ['deny', 'error'], fastify: ['allow'] }
for (const [framework, modes] of Object.entries(MODES)) {
  for (const mode of modes) {
    test(`${framework}: Redis stopped mid-test, failure mode "${mode}", then back`, async () => {
      const redis = await RedisServer.start()
      const limiter = new Limiter(redis.url, { failureMode: mode, timeoutMs: 300, breakerOpenForMs: 200 })
      const app = await listen(framework, limiter)
      try {
        const ip = freshIp()
        assert.equal(checkHeaders(await get(app.base, '/login', { ip })), 4)
        await redis.kill()
        for (let i = 0; i < 3; i++) {
          const start = Date.now()
          const r = await get(app.base, '/login', { ip })
          assert.ok(Date.now() - start < 3000, 'no hang beyond the deadline')
          if (mode === 'allow') {
            assert.equal(r.status, 200)
            assert.equal(r.headers['ratelimit-policy'], '"5/minute";q=5;w=60')
            assert.equal(r.headers.ratelimit, undefined)
          } else if (mode === 'deny') {
            assert.equal(r.status, 503)
            assert.equal(r.headers.ratelimit, undefined)
            assert.deepEqual(JSON.parse(r.body), { error: 'rate_limiter_unavailable', retry_after: Number(r.headers['retry-after']) })
          } else {
            assert.equal(r.status, 500)
          }
        }
        await redis.spawn()
        const deadline = Date.now() + 10000
        let r
        for (;;) {
          r = await get(app.base, '/login', { ip })
          if (r.status === 200 && r.headers.ratelimit) break
          assert.ok(Date.now() < deadline, `did not recover: ${r.status}`)
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
        assert.equal(checkHeaders(r), 4)
      } finally {
        await app.close()
        await redis.stop()
      }
    })
  }
}

test('bad configuration fails when the middleware or route is made', async () => {
  const limiter = new Limiter('memory://web-bad')
  assert.throws(() => rateLimit({ limiter, quota: '5/fortnight' }), /fortnight/)
  assert.throws(() => rateLimit({ limiter, quota: '5/minute', key: 'ip' }), /key must be a function/)
  assert.throws(() => rateLimit({ limiter: {}, quota: '5/minute' }), /ratewarden Limiter/)
  assert.throws(() => rateLimit({ limiter, quota: 5 }), /quota must be notation/)
  assert.throws(() => rateLimit({ limiter, quota: '5/minute', trustedProxies: ['10.0.0.0/33'] }), /trusted proxy/)
  assert.throws(() => rateLimit({ limiter, quota: '5/minute', headers: 'draft-12' }), /header set/)
  assert.throws(() => rateLimit({ limiter, quota: '5/minute', cost: 0 }), /cost/)
  await assert.rejects(fastifyApp(limiter, '0/minute'), /must be at least 1/)
  const Fastify = require('fastify')
  await assert.rejects(async () => {
    const app = Fastify()
    await app.register(ratewardenFastify, { limiter, quota: 'often' })
    await app.ready()
  }, /often/)
})

test('legacy header sets and onLimited', async () => {
  const express = require('express')
  const limiter = new Limiter('memory://web-legacy')
  const app = express()
  app.get('/', rateLimit({
    limiter,
    quota: '1/minute',
    headers: ['draft-11', 'draft-06', 'x-ratelimit'],
    onLimited: (req, res, next, verdict) => res.status(418).json({ mine: verdict.status })
  }), (req, res) => res.send('ok'))
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  try {
    const base = `http://127.0.0.1:${server.address().port}`
    const r = await get(base, '/')
    assert.equal(r.status, 200)
    assert.equal(r.headers['ratelimit-limit'], '1')
    assert.equal(r.headers['ratelimit-remaining'], '0')
    assert.equal(r.headers['x-ratelimit-reset'], '60')
    const refused = await get(base, '/')
    assert.equal(refused.status, 418)
    assert.deepEqual(JSON.parse(refused.body), { mine: 429 })
    assert.equal(refused.headers['retry-after'], '60')
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
})
