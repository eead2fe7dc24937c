'use strict'
// Decisions/s and p99 with 64 calls in flight against one Redis, for
// ratewarden and, in the same run, rate-limiter-flexible's RateLimiterRedis
// (ioredis) as the peer baseline.
//
//   cd node && npm install && node bench/bench.js redis://127.0.0.1:6379 [seconds]
const { Limiter } = require('..')

const url = process.argv[2]
const seconds = Number(process.argv[3] || 5)
const inflight = 64
const keys = 10000
if (!url) {
  console.error('usage: node bench/bench.js redis://host:port [seconds]')
  process.exit(2)
}

// One measured round: `inflight` loops calling `call` until `secs` pass.
async function round (call, secs, lat) {
  let n = 0
  const stop = Date.now() + secs * 1000
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: inflight }, async (_, w) => {
    let i = w * 7919
    while (Date.now() < stop) {
      const s = process.hrtime.bigint()
      await call(`bench-node-${i++ % keys}`)
      lat.push(Number(process.hrtime.bigint() - s) / 1000)
      n++
    }
  }))
  return { n, secs: Number(process.hrtime.bigint() - t0) / 1e9 }
}

function report (name, total) {
  total.lat.sort((a, b) => a - b)
  const p = (q) => total.lat[Math.min(total.lat.length - 1, Math.round((total.lat.length - 1) * q))].toFixed(0)
  const rate = total.n / total.secs
  console.log(`${name.padEnd(40)} ${rate.toFixed(0).padStart(8)} decisions/s  p50 ${p(0.5)} us  p99 ${p(0.99)} us`)
  return { rate, p99: Number(p(0.99)) }
}

async function main () {
  const limiter = new Limiter(url)
  await limiter.ping()
  const ours = (k) => limiter.check(k, '/bench', { capacity: 100, ratePerSecond: 100 })
  let theirs = null
  let client = null
  try {
    const Redis = require('ioredis')
    const { RateLimiterRedis } = require('rate-limiter-flexible')
    client = new Redis(url, { enableOfflineQueue: true })
    const peer = new RateLimiterRedis({ storeClient: client, points: 100, duration: 1, keyPrefix: 'rlflx-bench' })
    theirs = (k) => peer.consume(k).catch(() => false)
  } catch {
    console.log('rate-limiter-flexible/ioredis not installed (npm install in node/) — no peer baseline')
  }
  // Warm-up (untimed), then alternate short rounds so that drift on a shared
  // machine hits both alike.
  await round(ours, 1, [])
  if (theirs) await round(theirs, 1, [])
  const rounds = 4
  const a = { n: 0, secs: 0, lat: [] }
  const b = { n: 0, secs: 0, lat: [] }
  for (let r = 0; r < rounds; r++) {
    const x = await round(ours, seconds / rounds, a.lat)
    a.n += x.n
    a.secs += x.secs
    if (theirs) {
      const y = await round(theirs, seconds / rounds, b.lat)
      b.n += y.n
      b.secs += y.secs
    }
  }
  const mine = report(`ratewarden (${limiter.algorithm}, ${inflight} in flight)`, a)
  if (!theirs) return
  const peer = report('rate-limiter-flexible RateLimiterRedis', b)
  client.disconnect()
  console.log(`ratio ratewarden / rate-limiter-flexible: ${(mine.rate / peer.rate).toFixed(2)} (throughput), p99 ${mine.p99} us vs ${peer.p99} us`)
}

main().catch((e) => { console.error(e); process.exit(1) })
