'use strict'
// Decisions/s, p99 and client CPU per decision with 64 calls in flight
// against one Redis, for ratewarden and, in alternating rounds of the same
// run, rate-limiter-flexible's RateLimiterRedis (ioredis) as the peer
// baseline; at each capacity (rate = capacity per second).
//
//   cd node && npm install && node bench/bench.js redis://127.0.0.1:6379 [seconds] [capacities, default 100000,10]
const { Limiter } = require('..')

const url = process.argv[2]
const seconds = Number(process.argv[3] || 5)
const capacities = (process.argv[4] || '100000,10').split(',').map(Number)
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
  const cpu0 = process.cpuUsage()
  await Promise.all(Array.from({ length: inflight }, async (_, w) => {
    let i = w * 7919
    while (Date.now() < stop) {
      const s = process.hrtime.bigint()
      await call(`bench-node-${i++ % keys}`)
      lat.push(Number(process.hrtime.bigint() - s) / 1000)
      n++
    }
  }))
  const cpu = process.cpuUsage(cpu0)
  return { n, secs: Number(process.hrtime.bigint() - t0) / 1e9, cpuUs: cpu.user + cpu.system }
}

function report (name, total) {
  total.lat.sort((a, b) => a - b)
  const p = (q) => total.lat[Math.min(total.lat.length - 1, Math.round((total.lat.length - 1) * q))].toFixed(0)
  const rate = total.n / total.secs
  const cpu = (total.cpuUs / Math.max(total.n, 1)).toFixed(1)
  console.log(`  ${name.padEnd(40)} ${rate.toFixed(0).padStart(8)} decisions/s  p50 ${p(0.5)} us  p99 ${p(0.99)} us  ${cpu} us client CPU/decision`)
  return { rate, p99: Number(p(0.99)) }
}

async function main () {
  const limiter = new Limiter(url)
  await limiter.ping()
  let Redis, RateLimiterRedis
  try {
    Redis = require('ioredis')
    ;({ RateLimiterRedis } = require('rate-limiter-flexible'))
  } catch {
    console.log('rate-limiter-flexible/ioredis not installed (npm install in node/) — no peer baseline')
  }
  const client = Redis ? new Redis(url, { enableOfflineQueue: true }) : null
  for (const cap of capacities) {
    const ours = (k) => limiter.check(k, '/bench', { capacity: cap, ratePerSecond: cap })
    let theirs = null
    if (client) {
      const peer = new RateLimiterRedis({ storeClient: client, points: cap, duration: 1, keyPrefix: `rlflx-bench-${cap}` })
      theirs = (k) => peer.consume(k).catch(() => false)
    }
    // Warm-up (untimed), then alternate short rounds so that drift on a
    // shared machine hits both alike.
    await round(ours, 1, [])
    if (theirs) await round(theirs, 1, [])
    const rounds = 4
    const a = { n: 0, secs: 0, cpuUs: 0, lat: [] }
    const b = { n: 0, secs: 0, cpuUs: 0, lat: [] }
    for (let r = 0; r < rounds; r++) {
      for (const [call, acc] of [[ours, a], [theirs, b]]) {
        if (!call) continue
        const x = await round(call, seconds / rounds, acc.lat)
        acc.n += x.n
        acc.secs += x.secs
        acc.cpuUs += x.cpuUs
      }
    }
    console.log(`capacity = rate = ${cap}/s, ${keys} keys, ${inflight} in flight:`)
    const mine = report(`ratewarden (${limiter.algorithm})`, a)
    if (!theirs) continue
    const peer = report('rate-limiter-flexible RateLimiterRedis', b)
    console.log(`  ratio ratewarden / rate-limiter-flexible: ${(mine.rate / peer.rate).toFixed(2)} (throughput), p99 ${mine.p99} us vs ${peer.p99} us`)
  }
  if (client) client.disconnect()
}

main().catch((e) => { console.error(e); process.exit(1) })
