'use strict'
// ratewarden/prometheus through the real prom-client: a Registry's text
// output carries the values of stats() after a known sequence of decisions,
// with the names and labels of the core's own text format.
const test = require('node:test')
const assert = require('node:assert/strict')
const { randomUUID } = require('node:crypto')
const client = require('prom-client')
const { Limiter } = require('..')
const { collectLimiters } = require('../prometheus')
const { RedisServer, freePort } = require('./helpers')

// The sample lines of a text exposition, comments dropped, as a set.
function samples (text) {
  return new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const [name, value] = l.split(/ (?=[^ ]+$)/)
    return `${name} ${Number(value)}`
  }))
}

test('one limiter scrapes as the core writes it', async () => {
  const server = await RedisServer.start()
  try {
    const l = new Limiter(server.url)
    const c = randomUUID()
    const got = []
    for (let i = 0; i < 5; i++) got.push((await l.check(c, '/p', { quota: '2/hour' })).allowed)
    assert.deepEqual(got, [true, true, false, false, false])
    const registry = new client.Registry()
    collectLimiters(l, { registry })
    const text = await registry.metrics()
    const s = l.stats()
    assert.deepEqual([s.allowed, s.denied, s.cacheHits, s.errors], [2, 3, 2, 0])
    assert.deepEqual(samples(text), samples(s.prometheus), text)
    const lines = samples(text)
    for (const line of [
      'ratewarden_decisions_total{result="allowed"} 2',
      'ratewarden_decisions_total{result="denied"} 3',
      'ratewarden_deny_cache_hits_total 2',
      'ratewarden_circuit_open 0',
      'ratewarden_decision_seconds_count 3',
      'ratewarden_decision_seconds_bucket{le="+Inf"} 3'
    ]) assert.ok(lines.has(line), `${line} in\n${text}`)
    // And as JSON, the shape prom-client's own metrics have.
    const json = await registry.getMetricsAsJSON()
    assert.equal(json.find((m) => m.name === 'ratewarden_decisions_total').type, 'counter')
  } finally {
    await server.stop()
  }
})

test('several limiters carry a limiter label; bad arguments are TypeErrors', async () => {
  const server = await RedisServer.start()
  try {
    const up = new Limiter(server.url)
    const down = new Limiter(`redis://127.0.0.1:${await freePort()}`, { timeoutMs: 300, failureMode: 'allow' })
    assert.equal(await up.isAllowed(randomUUID(), '/p', 5, 5), true)
    assert.equal(await down.isAllowed('x', '/p', 5, 5), true) // the failure mode's answer
    const registry = new client.Registry()
    collectLimiters({ up, down }, { registry, namespace: 'app_rl' })
    const lines = samples(await registry.metrics())
    for (const line of [
      'app_rl_decisions_total{limiter="up",result="allowed"} 1',
      'app_rl_decisions_total{limiter="down",result="allowed"} 1',
      'app_rl_fallbacks_total{limiter="down"} 1',
      'app_rl_fallbacks_total{limiter="up"} 0'
    ]) assert.ok(lines.has(line), `${line} in\n${[...lines].join('\n')}`)
    assert.throws(() => collectLimiters('memory://', { registry }), TypeError)
    assert.throws(() => collectLimiters({}, { registry }), TypeError)
    assert.throws(() => collectLimiters({ a: 1 }, { registry }), TypeError)
    assert.throws(() => collectLimiters(up, { registry, namespace: 'bad name' }), TypeError)
    assert.throws(() => collectLimiters(up, { registry: {} }), TypeError)
    // The same names twice in one registry: prom-client refuses.
    assert.throws(() => collectLimiters(up, { registry, namespace: 'app_rl' }), /already been registered/)
  } finally {
    await server.stop()
  }
})
