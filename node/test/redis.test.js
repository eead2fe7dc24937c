'use strict'
// Against real redis-server processes: exactness across promises, worker
// threads and processes; worker exit; Redis down and back.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { randomUUID } = require('node:crypto')
const { Worker } = require('node:worker_threads')
const { execFile } = require('node:child_process')
const { Limiter, ErrorCode } = require('..')
const { RedisServer, RedisCluster } = require('./helpers')

const worker = path.join(__dirname, 'hammer-worker.js')

function inWorker (data) {
  return new Promise((resolve, reject) => {
    const w = new Worker(worker, { workerData: data })
    w.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m.admitted)))
    w.once('error', reject)
  })
}

function inProcess (data) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [worker, JSON.stringify(data)], (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message} ${stderr}`))
      else resolve(JSON.parse(stdout).admitted)
    })
  })
}

test('Promise.all of 2000 calls admits exactly capacity', async () => {
  const server = await RedisServer.start()
  try {
    const l = new Limiter(server.url)
    const client = randomUUID()
    const results = await Promise.all(Array.from({ length: 2000 }, () => l.isAllowed(client, '/all', 150, 1)))
    assert.equal(results.filter(Boolean).length, 150)
  } finally {
    await server.stop()
  }
})

test('4 worker threads + 2 child processes share one limit exactly', async () => {
  const server = await RedisServer.start()
  try {
    const data = { url: server.url, client: randomUUID(), calls: 100, capacity: 250 }
    const counts = await Promise.all([inWorker(data), inWorker(data), inWorker(data), inWorker(data),
      inProcess(data), inProcess(data)])
    assert.equal(counts.reduce((a, b) => a + b, 0), 250, JSON.stringify(counts))
  } finally {
    await server.stop()
  }
})

test('a worker thread ending leaves other limiters working', async () => {
  const server = await RedisServer.start()
  try {
    const l = new Limiter(server.url)
    assert.equal(await l.isAllowed('main', '/w', 100, 1), true)
    const data = { url: server.url, client: randomUUID(), calls: 10, capacity: 100 }
    assert.equal(await inWorker(data), 10) // the worker exits after this
    assert.equal(await inWorker(data), 10)
    assert.equal(await l.isAllowed('main', '/w', 100, 1), true)
  } finally {
    await server.stop()
  }
})

test('Redis down rejects within the deadline, then the same Limiter recovers', async () => {
  const server = await RedisServer.start()
  try {
    const l = new Limiter(server.url, { timeoutMs: 300 })
    assert.equal(await l.isAllowed('down', '/d', 5, 5), true)
    await server.kill()
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now()
      await assert.rejects(l.isAllowed('down', '/d', 5, 5), (err) =>
        [ErrorCode.Connection, ErrorCode.Timeout].includes(err.code))
      assert.ok(Date.now() - t0 < 1300)
    }
    await server.spawn()
    const deadline = Date.now() + 5000
    for (;;) {
      try {
        assert.equal(await l.isAllowed('down', '/d', 5, 5), true)
        break
      } catch (err) {
        assert.ok([ErrorCode.Connection, ErrorCode.Timeout].includes(err.code), err.message)
        assert.ok(Date.now() < deadline, 'no recovery within 5 s')
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  } finally {
    await server.stop()
  }
})

const ALGORITHMS = ['sliding_window_log', 'sliding_window_counter', 'fixed_window', 'token_bucket', 'gcra', 'leaky_bucket']

test('every algorithm on Redis, per limiter and per call', async () => {
  const server = await RedisServer.start()
  try {
    for (const algorithm of ALGORITHMS) {
      const client = randomUUID()
      const l = new Limiter(server.url, { algorithm })
      assert.equal(l.algorithm, algorithm === 'leaky_bucket' ? 'gcra' : algorithm)
      // capacity 3, one more per 100 s: exactly 3 of 200 concurrent calls.
      const results = await Promise.all(Array.from({ length: 200 }, () => l.isAllowed(client, '/a', 3, 1)))
      assert.equal(results.filter(Boolean).length, 3, algorithm)
      const d = await l.check(client, '/a', { capacity: 3, ratePerSecond: 1 })
      assert.ok(!d.allowed && d.retryAfterMs > 0, algorithm)
      // Named per call on a default limiter: the same state.
      const other = new Limiter(server.url)
      assert.ok(!(await other.check(client, '/a', { capacity: 3, ratePerSecond: 1, algorithm })).allowed, algorithm)
    }
  } finally {
    await server.stop()
  }
})

test('checkAll is all or nothing under concurrency', async () => {
  const server = await RedisServer.start()
  try {
    const l = new Limiter(server.url)
    const client = randomUUID()
    const limits = [
      { endpoint: '/x', capacity: 10, ratePerSecond: 1 },
      { endpoint: '*', capacity: 4, ratePerSecond: 1, algorithm: 'fixed_window' }
    ]
    const results = await Promise.all(Array.from({ length: 50 }, () => l.checkAll(client, limits)))
    assert.equal(results.filter((m) => m.allowed).length, 4)
    for (const m of results.filter((r) => !r.allowed)) {
      assert.equal(m.limiting, 1)
      assert.ok(m.decisions[0].allowed && !m.decisions[1].allowed)
    }
    // Nothing was spent on /x by the 46 refusals.
    const d = await l.check(client, '/x', { capacity: 10, ratePerSecond: 1 })
    assert.equal(d.remaining, 5)
  } finally {
    await server.stop()
  }
})

test('policies: set, decide, change, delete', async () => {
  const server = await RedisServer.start()
  try {
    const admin = new Limiter(server.url)
    await admin.setPolicy('/users', { capacity: 2, ratePerSecond: 1, algorithm: 'gcra' })
    const l = new Limiter(server.url)
    const client = randomUUID()
    assert.ok((await l.checkPolicy(client, '/users')).allowed)
    assert.ok((await l.checkPolicy(client, '/users', { cost: 1 })).allowed)
    assert.ok(!(await l.checkPolicy(client, '/users')).allowed)
    await admin.setPolicy('/users', { capacity: 50, ratePerSecond: 1, algorithm: 'gcra' })
    const t0 = Date.now()
    while ((await l.checkPolicy(randomUUID(), '/users')).limit !== 50) {
      assert.ok(Date.now() - t0 < 1500, 'the change did not arrive within the refresh period')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await admin.deletePolicy('/users')
    await assert.rejects(admin.checkPolicy(client, '/users'), { code: 'RATEWARDEN_INVALID_ARGUMENT' })
    await assert.rejects(admin.setPolicy('/x', { capacity: 0, ratePerSecond: 1 }), { code: 'RATEWARDEN_INVALID_ARGUMENT' })
    await assert.rejects(admin.setPolicy('/x', null), TypeError)
    await assert.rejects(admin.checkPolicy(client, 5), TypeError)
  } finally {
    await server.stop()
  }
})

test('failure modes while Redis is down, and stats', async () => {
  const server = await RedisServer.start()
  const url = server.url
  const local = new Limiter(url, { timeoutMs: 200, failureMode: 'local', localShare: 0.5 })
  const allow = new Limiter(url, { timeoutMs: 200, failureMode: 'allow' })
  assert.ok((await local.check('c', '/up', { capacity: 4, ratePerSecond: 1 })).allowed)
  await server.stop()
  let admitted = 0
  for (let i = 0; i < 6; i++) admitted += (await local.check('c', '/down', { capacity: 4, ratePerSecond: 1 })).allowed ? 1 : 0
  assert.equal(admitted, 2) // half of capacity 4
  assert.ok((await allow.check('c', '/down', { capacity: 1, ratePerSecond: 1 })).allowed)
  const s = local.stats()
  assert.equal(s.fallbacks, 6)
  assert.ok(s.circuitOpen)
  assert.match(s.prometheus, /ratewarden_fallbacks_total 6/)
  assert.throws(() => new Limiter(url, { failureMode: 'sometimes' }), { code: 'RATEWARDEN_INVALID_ARGUMENT' })
  assert.throws(() => new Limiter(url, { localShare: 2 }), { code: 'RATEWARDEN_INVALID_ARGUMENT' })
  assert.throws(() => new Limiter(url, { failureMode: 1 }), TypeError)
})

test('Redis Cluster: exact per client across masters, multi-limit too', async () => {
  const cluster = await RedisCluster.start()
  try {
    const lim = new Limiter(cluster.url)
    const clients = Array.from({ length: 60 }, (_, i) => `node-${i}`)
    const calls = []
    for (let round = 0; round < 8; round++) {
      for (const c of clients) calls.push(lim.isAllowed(c, '/cluster', 5, 1).then((ok) => [c, ok]))
    }
    const admitted = new Map()
    for (const [c, ok] of await Promise.all(calls)) admitted.set(c, (admitted.get(c) || 0) + (ok ? 1 : 0))
    assert.deepEqual([...new Set(admitted.values())], [5])
    const sizes = cluster.nodes.map((n) => Number(cluster.cli(n, 'DBSIZE').trim()))
    assert.ok(sizes.every((s) => s > 0), String(sizes))
    assert.equal(sizes.reduce((a, b) => a + b), 60)
    const limits = [{ endpoint: '/a', capacity: 3, ratePerSecond: 1 }, { endpoint: '*', capacity: 2, ratePerSecond: 1, algorithm: 'gcra' }]
    const got = []
    for (let i = 0; i < 3; i++) got.push((await lim.checkAll('multi', limits)).allowed)
    assert.deepEqual(got, [true, true, false])
  } finally {
    await cluster.stop()
  }
})
