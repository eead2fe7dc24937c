'use strict'
/**
 * Rate limiting for Fastify (4 and 5), as a plugin:
 *
 *   const { Limiter } = require('ratewarden')
 *   const limiter = new Limiter('redis://127.0.0.1:6379')
 *   await app.register(require('ratewarden/fastify'), { limiter, quota: '100/minute' })
 *   app.post('/login', { config: { rateLimit: { quota: '5/minute' } } }, login)
 *   app.get('/health', { config: { rateLimit: false } }, health)
 *
 * Register it before the routes. The plugin's quota counts every route
 * without its own in one budget per client (scope "*"); a route's
 * `config.rateLimit` replaces it and counts per route (scope: the route's
 * URL pattern), inheriting the plugin's key, skip, cost, headers and proxy
 * options. Headers, refusals and failure modes as in `ratewarden/express`.
 */
const { settings, decide } = require('./web.js')

async function ratewardenFastify (fastify, options) {
  const base = { limiter: options.limiter, options }
  const global = options.quota === undefined ? null : settings(options)
  fastify.addHook('onRoute', (route) => {
    const own = route.config?.rateLimit
    if (own === false) return
    let s, scope
    if (own !== undefined && own !== null) {
      s = settings(own, base) // a bad route quota fails when the route is added
      scope = s.scope ?? route.url
    } else if (global) {
      s = global
      scope = s.scope ?? '*'
    } else {
      return
    }
    const hook = async (request, reply) => {
      const where = typeof scope === 'function' ? scope(request) : scope
      const verdict = await decide(s, request, request.raw.socket?.remoteAddress, request.headers, where)
      if (verdict === null) return
      for (const [name, value] of verdict.headers) reply.header(name, value)
      if (verdict.allowed) return
      if (s.onLimited) return s.onLimited(request, reply, verdict)
      reply.code(verdict.status).type('application/json').send(verdict.body)
      return reply
    }
    const existing = route.onRequest
    route.onRequest = existing === undefined ? [hook] : [].concat(existing, hook)
  })
}

// What fastify-plugin does: the hooks apply to the routes of the parent
// scope too, not only to routes registered inside the plugin.
ratewardenFastify[Symbol.for('skip-override')] = true
ratewardenFastify[Symbol.for('fastify.display-name')] = 'ratewarden'
ratewardenFastify[Symbol.for('plugin-meta')] = { name: 'ratewarden', fastify: '>=4' }

module.exports = ratewardenFastify
module.exports.default = ratewardenFastify
module.exports.ratewardenFastify = ratewardenFastify
