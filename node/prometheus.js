'use strict'
/**
 * ratewarden/prometheus: the counters of one or more limiters as prom-client
 * metrics, read from `stats()` at each scrape, with the names, types and
 * labels of the core's text format (`stats().prometheus`):
 *
 *   ratewarden_decisions_total{result="allowed"|"denied"}  counter
 *   ratewarden_errors_total, ratewarden_fallbacks_total,
 *   ratewarden_deny_cache_hits_total                        counters
 *   ratewarden_circuit_open                                 gauge (0/1)
 *   ratewarden_decision_seconds                             histogram
 *
 * With several limiters ({ name: limiter }), each sample also carries
 * limiter="<name>". prom-client is an optional peer: npm install prom-client.
 *
 *   const client = require('prom-client')
 *   const { collectLimiters } = require('ratewarden/prometheus')
 *   collectLimiters(limiter)                    // into client.register
 *   app.get('/metrics', async (req, res) => res.type(client.register.contentType).send(await client.register.metrics()))
 */
const { Limiter } = require('./index.js')

let client
try {
  client = require('prom-client')
} catch (cause) {
  const err = new Error('ratewarden/prometheus needs prom-client: npm install prom-client')
  err.code = 'ERR_RATEWARDEN_NO_PROM_CLIENT'
  err.cause = cause
  throw err
}

// A bucket bound as the core writes it: "0.00005", "1", "+Inf".
const bound = (le) => (le === Infinity ? '+Inf' : String(Number(le.toFixed(6))))

/**
 * Register the metrics of `limiters` in `options.registry` (default
 * prom-client's global `register`); returns the metric objects.
 *
 * @param {Limiter | Record<string, Limiter>} limiters
 * @param {{ registry?: import('prom-client').Registry, namespace?: string }} [options]
 */
function collectLimiters (limiters, options = {}) {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  const { registry = client.register, namespace = 'ratewarden' } = options
  if (typeof namespace !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(namespace)) {
    throw new TypeError(`namespace must be a metric name prefix, got ${JSON.stringify(namespace)}`)
  }
  if (!registry || typeof registry.registerMetric !== 'function') throw new TypeError('options.registry must be a prom-client Registry')
  let entries
  if (limiters instanceof Limiter) {
    entries = [[null, limiters]]
  } else if (limiters !== null && typeof limiters === 'object') {
    entries = Object.entries(limiters)
    if (entries.length === 0) throw new TypeError('limiters: give at least one')
    for (const [name, l] of entries) {
      if (!(l instanceof Limiter)) throw new TypeError(`limiters.${name} must be a Limiter`)
    }
  } else {
    throw new TypeError('limiters must be a Limiter or an object of named Limiters')
  }
  const label = (name, more = {}) => (name === null ? { ...more } : { limiter: name, ...more })
  const n = namespace
  // Each metric reads stats() when scraped; one read per limiter per scrape.
  let snapshot = null
  const read = () => {
    if (!snapshot) {
      snapshot = entries.map(([name, l]) => [name, l.stats()])
      queueMicrotask(() => { snapshot = null })
    }
    return snapshot
  }
  const metric = (name, help, type, values) => ({
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values(read()) })
  })
  const simple = (field, transform = (v) => v) => (stats) =>
    stats.map(([name, s]) => ({ labels: label(name), value: transform(s[field]) }))
  const metrics = [
    metric(`${n}_decisions_total`, 'Decisions, by result (fallbacks included).', 'counter', (stats) =>
      stats.flatMap(([name, s]) => [
        { labels: label(name, { result: 'allowed' }), value: s.allowed },
        { labels: label(name, { result: 'denied' }), value: s.denied }
      ])),
    metric(`${n}_errors_total`, 'Decisions that returned a backend error.', 'counter', simple('errors')),
    metric(`${n}_fallbacks_total`, 'Decisions taken by the failure mode.', 'counter', simple('fallbacks')),
    metric(`${n}_deny_cache_hits_total`, 'Refusals answered by the local deny cache.', 'counter', simple('cacheHits')),
    metric(`${n}_circuit_open`, '1 while the circuit breaker is open.', 'gauge', simple('circuitOpen', (v) => (v ? 1 : 0))),
    metric(`${n}_decision_seconds`, 'Latency of backend decisions.', 'histogram', (stats) =>
      stats.flatMap(([name, s]) => {
        let cumulative = 0
        const out = s.latencyBuckets.map((b) => {
          cumulative += b.count
          return { metricName: `${n}_decision_seconds_bucket`, labels: label(name, { le: bound(b.le) }), value: cumulative }
        })
        out.push({ metricName: `${n}_decision_seconds_sum`, labels: label(name), value: s.latencySumMs / 1000 })
        out.push({ metricName: `${n}_decision_seconds_count`, labels: label(name), value: cumulative })
        return out
      }))
  ]
  for (const m of metrics) registry.registerMetric(m)
  return metrics
}

module.exports = { collectLimiters }
