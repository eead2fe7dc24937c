// The installed npm packages, as a CommonJS user would load them: a memory://
// and a Redis limiter, a quota in the notation, the middleware subpaths.
// Usage: node check.cjs REDIS_URL RUN_ID
'use strict'
const assert = require('node:assert')
const path = require('node:path')
const { Limiter, ErrorCode } = require('ratewarden')
const { rateLimit } = require('ratewarden/express')
const fastifyPlugin = require('ratewarden/fastify')

async function admitted (limiter, client) {
  let n = 0
  for (let i = 0; i < 5; i++) if ((await limiter.check(client, '/pkg', { quota: '3/minute' })).allowed) n++
  return n
}

async function main () {
  const [url, run] = process.argv.slice(2)
  const where = path.dirname(require.resolve('ratewarden'))
  assert.ok(where.includes('node_modules'), `not the installed package: ${where}`)
  assert.strictEqual(typeof rateLimit, 'function')
  assert.strictEqual(typeof fastifyPlugin, 'function')
  const onMemory = await admitted(new Limiter('memory://'), `js-${run}`)
  const onRedis = await admitted(new Limiter(url, { timeoutMs: 2000 }), `js-${run}`)
  await assert.rejects(new Limiter('memory://').check('c', '/x', { quota: '3/fortnight' }),
    (err) => err.code === ErrorCode.InvalidArgument)
  console.log(`check.cjs (ratewarden ${require('ratewarden/package.json').version} from ${where}): memory:// ${onMemory} of 5, Redis ${onRedis} of 5`)
  assert.deepStrictEqual([onMemory, onRedis], [3, 3])
}

main().catch((err) => { console.error(err); process.exit(1) })
