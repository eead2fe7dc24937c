// The same packages as an ES module user imports them.
// Usage: node check.mjs REDIS_URL RUN_ID
import assert from 'node:assert'
import { Limiter } from 'ratewarden'
import { rateLimit } from 'ratewarden/express'
import fastifyPlugin from 'ratewarden/fastify'

const [url, run] = process.argv.slice(2)
assert.strictEqual(typeof rateLimit, 'function')
assert.strictEqual(typeof fastifyPlugin, 'function')
const limiter = new Limiter(url, { timeoutMs: 2000 })
let n = 0
for (let i = 0; i < 5; i++) if ((await limiter.check(`esm-${run}`, '/pkg', { quota: '3/minute' })).allowed) n++
console.log(`check.mjs: Redis ${n} of 5`)
assert.strictEqual(n, 3)
