'use strict'
/**
 * Rate limiting for Express (4 and 5) and plain `http` handlers.
 *
 *   const { Limiter } = require('ratewarden')
 *   const { rateLimit } = require('ratewarden/express')
 *   const limiter = new Limiter('redis://127.0.0.1:6379')
 *   app.use(rateLimit({ limiter, quota: '100/minute' }))            // one budget per client for the app
 *   app.post('/login', rateLimit({ limiter, quota: '5/minute' }), login)  // per route
 *
 * Every limited response carries RateLimit-Policy and RateLimit
 * (draft-ietf-httpapi-ratelimit-headers-11); a refusal is 429 with
 * Retry-After and {"error":"rate_limited","retry_after":N}. When Redis is
 * away the limiter's failure mode decides ("error" passes the error to
 * next(err), "deny" answers 503, "allow"/"local" go on) and no counts Redis
 * did not give are sent.
 */
const { settings, decide } = require('./web.js')

const LISTS = new Set(['RateLimit-Policy', 'RateLimit'])

/**
 * @param {import('./express').RateLimitOptions} options
 * @returns {(req: any, res: any, next: (err?: unknown) => void) => void}
 */
function rateLimit (options) {
  const s = settings(options)
  return function ratewardenRateLimit (req, res, next) {
    // App-wide: "*"; mounted on a route: the route's path (baseUrl + pattern).
    const scope = typeof s.scope === 'function'
      ? s.scope(req)
      : s.scope ?? (req.route ? (req.baseUrl || '') + req.route.path : '*')
    decide(s, req, req.socket?.remoteAddress, req.headers, scope).then((verdict) => {
      if (verdict === null) return next()
      for (const [name, value] of verdict.headers) {
        // RateLimit-Policy and RateLimit are lists: an app-wide and a route
        // limit both report; the single-valued headers are the last one's.
        if (LISTS.has(name) && res.hasHeader(name)) res.setHeader(name, `${res.getHeader(name)}, ${value}`)
        else res.setHeader(name, value)
      }
      if (verdict.allowed) return next()
      if (s.onLimited) return s.onLimited(req, res, next, verdict)
      res.statusCode = verdict.status
      res.setHeader('Content-Type', 'application/json')
      res.end(verdict.body)
    }, next)
  }
}

module.exports = { rateLimit }
module.exports.default = rateLimit
