'use strict'
// A Node process that ends with calls still in flight (Redis slow, down or
// fine) exits by itself, promptly and silently: the addon keeps no handle
// alive and nothing crashes at teardown. A panic inside an export is a
// thrown Error, not an abort.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { RedisServer, freePort } = require('./helpers')

const root = path.join(__dirname, '..')
const FORBIDDEN = ['panicked', 'Aborted', 'Segmentation', 'FATAL', 'napi_fatal']

function run (code) {
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', timeout: 20000 })
  assert.notEqual(r.error && r.error.code, 'ETIMEDOUT', `the process did not exit:\n${r.stderr}`)
  for (const word of FORBIDDEN) assert.ok(!r.stderr.includes(word), `${word} in:\n${r.stderr}`)
  return r
}

const SCRIPTS = {
  // Calls in flight, nobody awaits them.
  pending: (url) => `
    const { Limiter } = require('.')
    const l = new Limiter(${JSON.stringify(url)}, { timeoutMs: 2000 })
    for (let i = 0; i < 50; i++) l.check('c' + i, '/e', { quota: '5/second' }).catch(() => {})
  `,
  // process.exit() while calls are in flight.
  exit: (url) => `
    const { Limiter } = require('.')
    const l = new Limiter(${JSON.stringify(url)}, { timeoutMs: 2000 })
    for (let i = 0; i < 50; i++) l.check('c' + i, '/e', { quota: '5/second' }).catch(() => {})
    setImmediate(() => process.exit(0))
  `,
  // An uncaught exception while calls are in flight.
  throws: (url) => `
    const { Limiter } = require('.')
    const l = new Limiter(${JSON.stringify(url)}, { timeoutMs: 2000 })
    for (let i = 0; i < 50; i++) l.check('c' + i, '/e', { quota: '5/second' }).catch(() => {})
    setImmediate(() => { throw new Error('boom') })
  `
}

test('exit with calls in flight: Redis up, down, or not answering', async () => {
  const server = await RedisServer.start()
  const paused = await RedisServer.start()
  try {
    process.kill(paused.proc.pid, 'SIGSTOP')
    const urls = { up: server.url, down: `redis://127.0.0.1:${await freePort()}`, paused: paused.url }
    for (const [where, url] of Object.entries(urls)) {
      for (const [name, script] of Object.entries(SCRIPTS)) {
        const started = Date.now()
        const r = run(script(url))
        if (name === 'throws') {
          assert.equal(r.status, 1, `${where}/${name}: ${r.stderr}`)
          assert.match(r.stderr, /Error: boom/)
        } else {
          assert.equal(r.status, 0, `${where}/${name}: status ${r.status}\n${r.stderr}`)
        }
        // A pending call may keep the process only until its own deadline.
        assert.ok(Date.now() - started < 8000, `${where}/${name} took ${Date.now() - started} ms`)
      }
    }
  } finally {
    try { process.kill(paused.proc.pid, 'SIGCONT') } catch {}
    await paused.stop()
    await server.stop()
  }
})

test('a panic inside an export is a thrown Error', () => {
  const native = require('../native.js')
  assert.throws(() => native.__panicForTest(), (e) => e instanceof Error && /panic/i.test(String(e.message)))
  // The addon still works afterwards.
  assert.equal(typeof native.optionKinds(), 'object')
})
