'use strict'
// The Express and Fastify apps of the web tests, the same routes as the
// Python test apps (python/tests/webapps): /login and /other "5/minute" each,
// /multi "2/second;3/minute", /app/:item under the app-wide "3/minute",
// /pid unlimited. X-Skip: 1 skips; 127.0.0.1 is the trusted proxy.
const express = require('express')
const Fastify = require('fastify')
const { rateLimit } = require('../../express.js')
const ratewardenFastify = require('../../fastify.js')

const TRUSTED = ['127.0.0.1']
const skip = (req) => req.headers['x-skip'] === '1'
const costOf = (req) => Number(req.headers['x-cost'] || 1)

function expressApp (limiter, login = '5/minute') {
  const app = express()
  const opts = { limiter, trustedProxies: TRUSTED, skip }
  const ok = (req, res) => res.json({ pid: process.pid })
  app.get('/pid', ok)
  app.use('/app', rateLimit({ ...opts, quota: '3/minute' }))
  app.get('/app/:item', ok)
  app.get('/login', rateLimit({ ...opts, quota: login }), ok)
  app.get('/other', rateLimit({ ...opts, quota: login }), ok)
  app.get('/multi', rateLimit({ ...opts, quota: ['2/second', '3/minute'] }), ok)
  app.get('/upload', rateLimit({ ...opts, quota: login, cost: costOf }), ok)
  // the "error" failure mode hands the error to Express: a 500
  app.use((err, req, res, next) => res.status(500).json({ error: String(err.code || err) }))
  return app
}

async function fastifyApp (limiter, login = '5/minute') {
  const app = Fastify()
  await app.register(ratewardenFastify, { limiter, quota: '3/minute', trustedProxies: TRUSTED, skip })
  const ok = async () => ({ pid: process.pid })
  app.get('/pid', { config: { rateLimit: false } }, ok)
  app.get('/app/:item', ok)
  app.get('/login', { config: { rateLimit: { quota: login } } }, ok)
  app.get('/other', { config: { rateLimit: { quota: login } } }, ok)
  app.get('/multi', { config: { rateLimit: { quota: '2/second;3/minute' } } }, ok)
  app.get('/upload', { config: { rateLimit: { quota: login, cost: costOf } } }, ok)
  return app
}

/** Listen on 127.0.0.1 (a free port unless given); resolves to { base, close }. */
async function listen (framework, limiter, login, port = 0) {
  if (framework === 'express') {
    const server = expressApp(limiter, login).listen(port, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    return { base: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((resolve) => server.close(resolve)) }
  }
  const app = await fastifyApp(limiter, login)
  await app.listen({ port, host: '127.0.0.1' })
  return { base: `http://127.0.0.1:${app.server.address().port}`, close: () => app.close() }
}

module.exports = { listen, expressApp, fastifyApp }
