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

async function run (name, call) {
  const lat = []
  let n = 0
  const stop = Date.now() + seconds * 1000
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
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  lat.sort((a, b) => a - b)
  const p = (q) => lat[Math.min(lat.length - 1, Math.round((lat.length - 1) * q))].toFixed(0)
  const rate = n / secs
  console.log(`${name.padEnd(34)} ${rate.toFixed(0).padStart(8)} decisions/s  p50 ${p(0.5)} us  p99 ${p(0.99)} us`)
  return { rate, p99: Number(p(0.99)) }
}

async function main () {
  const limiter = new Limiter(url)
  await limiter.ping()
  const ours = await run('ratewarden (sliding log)', (k) => limiter.check(k, '/bench', { capacity: 100, ratePerSecond: 100 }))
  let Redis, RateLimiterRedis
  try {
    Redis = require('ioredis')
    ;({ RateLimiterRedis } = require('rate-limiter-flexible'))
  } catch {
    console.log('rate-limiter-flexible/ioredis not installed (npm install in node/) — no peer baseline')
    return
  }
  const client = new Redis(url, { enableOfflineQueue: true })
  const peer = new RateLimiterRedis({ storeClient: client, points: 100, duration: 1, keyPrefix: 'rlflx-bench' })
  const theirs = await run('rate-limiter-flexible RateLimiterRedis', (k) => peer.consume(k).catch(() => false))
  client.disconnect()
  console.log(`ratio ratewarden / rate-limiter-flexible: ${(ours.rate / theirs.rate).toFixed(2)} (throughput), p99 ${ours.p99} us vs ${theirs.p99} us`)
}

main().catch((e) => { console.error(e); process.exit(1) })
