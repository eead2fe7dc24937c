'use strict'
// The library's log records in the user's logger: Redis killed and brought
// back under a live limiter, the default (stderr at RATEWARDEN_LOG), bad
// loggers, and a logger that never keeps the process alive.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { Limiter, setLogger, ErrorCode } = require('..')
const { RedisServer, freePort } = require('./helpers')

const root = path.join(__dirname, '..')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// A logger that records what reaches it, with the time.
function recorder () {
  const seen = []
  const at = (level) => (message) => seen.push({ level, message, at: Date.now() })
  return { seen, logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } }
}

test('an outage reaches the logger in order: connected, warnings (one a second each), reconnected', async () => {
  const server = await RedisServer.start()
  const { seen, logger } = recorder()
  try {
    const l = new Limiter(server.url, { timeoutMs: 300, logger })
    assert.equal(await l.isAllowed('logs', '/l', 1000, 1000), true)
    await sleep(50)
    await server.kill()
    const down = Date.now()
    while (Date.now() - down < 2500) {
      await l.isAllowed('logs', '/l', 1000, 1000).then(
        () => assert.fail('admitted with Redis down'),
        (err) => assert.ok([ErrorCode.Connection, ErrorCode.Timeout].includes(err.code), err.message))
      await sleep(20)
    }
    await server.spawn()
    const t0 = Date.now()
    for (;;) {
      try {
        if (await l.isAllowed('logs', '/l', 1000, 1000)) break
      } catch (err) {
        assert.ok(Date.now() - t0 < 5000, `no recovery: ${err.message}`)
        await sleep(50)
      }
    }
    await sleep(100)
    for (const e of seen) console.log(`  +${e.at - down} ms ${e.level}: ${e.message}`)
    assert.ok(seen.every((e) => e.message.startsWith('ratewarden: ')), 'target prefix')
    assert.ok(seen.every((e) => e.level !== 'debug'), 'debug is below the default level of a logger (info)')
    assert.equal(seen[0].level, 'info')
    assert.match(seen[0].message, /connected to Redis/)
    const warns = seen.filter((e) => e.level === 'warn')
    assert.ok(warns.length >= 2 && warns.length <= 4, `${warns.length} warnings over 2.5 s down`)
    assert.ok(warns.every((w) => w.at >= down), 'no warning before Redis went down')
    for (let i = 0; i < warns.length; i++) {
      for (let j = 0; j < i; j++) {
        if (warns[j].message === warns[i].message) {
          assert.ok(warns[i].at - warns[j].at >= 900, `the same warning ${warns[i].at - warns[j].at} ms apart`)
        }
      }
    }
    assert.ok(seen.some((e) => e.level === 'info' && /circuit open/.test(e.message)), 'the circuit opening, at info')
    const lastWarn = seen.lastIndexOf(warns[warns.length - 1])
    const reconnect = seen.findIndex((e, i) => i > lastWarn && e.level === 'info' && /connected to Redis/.test(e.message))
    assert.ok(reconnect > lastWarn, 'the reconnection comes after the warnings')
    // Back to the default: this logger gets nothing more.
    setLogger(null)
    const before = seen.length
    await server.kill()
    await l.isAllowed('logs', '/l', 1000, 1000).catch(() => {})
    await sleep(200)
    assert.equal(seen.length, before)
  } finally {
    setLogger(null)
    await server.stop()
  }
})

test('setLogger checks its arguments; a throwing logger loses only its record', async () => {
  assert.throws(() => setLogger({ warn () {} }), TypeError)
  assert.throws(() => setLogger(42), TypeError)
  assert.throws(() => setLogger(console, { level: 'loud' }), TypeError)
  assert.throws(() => new Limiter('memory://', { logLevel: 'info' }), TypeError)
  let calls = 0
  const boom = () => {
    calls++
    throw new Error('logger failure')
  }
  setLogger({ error: boom, warn: boom, info: boom, debug: boom }, { level: 'warn' })
  try {
    const l = new Limiter(`redis://127.0.0.1:${await freePort()}`, { timeoutMs: 300 })
    await assert.rejects(l.isAllowed('x', '/x', 5, 5))
    await sleep(100)
    assert.ok(calls >= 1, 'the logger was called')
    assert.equal(await new Limiter().isAllowed('x', '/x', 5, 5), true, 'and the process goes on')
  } finally {
    setLogger(null)
  }
})

function run (code, env = {}) {
  const r = spawnSync(process.execPath, ['-e', code], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20000,
    env: { ...process.env, RATEWARDEN_LOG: '', ...env }
  })
  assert.notEqual(r.error && r.error.code, 'ETIMEDOUT', `the process did not exit:\n${r.stderr}`)
  return r
}

test('without a logger: warnings on stderr, RATEWARDEN_LOG sets the level', async () => {
  const url = `redis://127.0.0.1:${await freePort()}`
  const code = `
    const { Limiter } = require('.')
    const l = new Limiter(${JSON.stringify(url)}, { timeoutMs: 300 })
    l.isAllowed('x', '/x', 5, 5).catch(() => {})
  `
  const byDefault = run(code)
  assert.match(byDefault.stderr, / WARN ratewarden: cannot reach Redis/)
  assert.equal(run(code, { RATEWARDEN_LOG: 'off' }).stderr, '')
  assert.match(run(code, { RATEWARDEN_LOG: 'debug' }).stderr, /DEBUG ratewarden:/)
})

test('a logger never keeps the process alive, and nothing reaches it after exit', async () => {
  const url = `redis://127.0.0.1:${await freePort()}`
  // Calls keep failing (and logging) on a timer; the process exits by
  // process.exit and by running out of work (no timer left).
  const r = run(`
    const { Limiter, setLogger } = require('.')
    let exited = false, n = 0
    process.on('exit', () => { exited = true })
    setLogger({ error () {}, warn (m) { if (exited) process._rawDebug('LATE ' + m); n++ }, info () {}, debug () {} }, { level: 'debug' })
    const l = new Limiter(${JSON.stringify(url)}, { timeoutMs: 200, breakerThreshold: 1000 })
    const t = setInterval(() => l.isAllowed('x', '/x', 5, 5).catch(() => {}), 5)
    setTimeout(() => { clearInterval(t); console.log('records ' + n) }, 400)
  `)
  assert.equal(r.status, 0, r.stderr)
  assert.ok(!r.stderr.includes('LATE'), r.stderr)
  assert.match(r.stdout, /records [1-9]/)
})
