'use strict'
// What the Express and Fastify middleware share: the settings of one rate
// limit, checked when the middleware is made (so a bad quota or a
// non-function key fails at startup), and the client key of a request.
// The verdict — status, RateLimit-Policy / RateLimit / Retry-After headers,
// JSON body — is the core's (`Limiter#checkHttp`), the same bytes as in
// Python.
const { Limiter, Rule, ClientIp } = require('./index.js')

const fn = (name, v) => {
  if (v !== undefined && typeof v !== 'function') throw new TypeError(`${name} must be a function of the request, got ${v === null ? 'null' : typeof v}`)
  return v
}

function headerSets (h) {
  if (h === undefined || h === null || h === true) return 'draft-11'
  if (h === false) return 'none'
  if (typeof h === 'string') return h
  if (Array.isArray(h) && h.every((s) => typeof s === 'string')) return h.length ? h.join(',') : 'none'
  throw new TypeError("headers must be 'draft-11', a list such as ['draft-11', 'draft-06'], or false")
}

function quotaOf (q) {
  if (typeof q === 'string') return q
  if (Array.isArray(q) && q.length && q.every((s) => typeof s === 'string')) return q.join(';')
  throw new TypeError("quota must be notation such as '5/minute' (or a list of them), got " + (q === null ? 'null' : typeof q))
}

/**
 * @param {object} o the options of `rateLimit(o)` / the plugin / a route's `config.rateLimit`
 * @param {object} [base] settings these override (a route's over the plugin's)
 */
function settings (o, base) {
  if (o === null || typeof o !== 'object') throw new TypeError('the rate limit options must be an object')
  const limiter = o.limiter ?? base?.limiter
  if (!(limiter instanceof Limiter)) throw new TypeError("limiter must be a ratewarden Limiter (new Limiter('redis://...'))")
  const pick = (name) => (o[name] !== undefined ? o[name] : base?.options[name])
  const cost = pick('cost')
  if (cost !== undefined && typeof cost !== 'function' && !(Number.isInteger(cost) && cost >= 1)) {
    throw new TypeError('cost must be a positive integer or a function of the request')
  }
  const scope = o.scope
  if (scope !== undefined && typeof scope !== 'function' && (typeof scope !== 'string' || !scope)) {
    throw new TypeError('scope must be a non-empty string or a function of the request')
  }
  const trusted = pick('trustedProxies') ?? []
  if (!Array.isArray(trusted) || !trusted.every((t) => typeof t === 'string')) throw new TypeError('trustedProxies must be an array of strings')
  const proxyHeader = pick('proxyHeader') ?? 'x-forwarded-for'
  const ipv6Subnet = pick('ipv6Subnet') ?? 64
  if (typeof proxyHeader !== 'string') throw new TypeError('proxyHeader must be a string')
  if (!Number.isInteger(ipv6Subnet)) throw new TypeError('ipv6Subnet must be an integer')
  const options = {
    cost,
    key: fn('key', pick('key')),
    skip: fn('skip', pick('skip')),
    onLimited: fn('onLimited', pick('onLimited')),
    headers: pick('headers'),
    trustedProxies: trusted,
    proxyHeader,
    ipv6Subnet
  }
  return {
    limiter,
    options,
    rule: new Rule(quotaOf(o.quota), headerSets(options.headers)),
    client: new ClientIp({ trustedProxies: trusted, proxyHeader, ipv6Subnet }),
    scope,
    ...options
  }
}

/** The client key: the user's function, or the client IP (forwarding header only from trusted proxies). */
async function keyOf (s, req, peer, headers) {
  if (s.key) {
    const k = await s.key(req)
    if (typeof k !== 'string') throw new TypeError(`the key function returned ${typeof k}, not a string`)
    return k
  }
  const name = s.client.header
  const value = name ? headers[name] : undefined
  return s.client.key(peer ?? null, Array.isArray(value) ? value.join(', ') : value ?? null)
}

/** The verdict on `req`, or null when `skip` says so. */
async function decide (s, req, peer, headers, scope) {
  if (s.skip && (await s.skip(req))) return null
  const key = await keyOf(s, req, peer, headers)
  const cost = typeof s.cost === 'function' ? await s.cost(req) : s.cost ?? 1
  return s.limiter.checkHttp(key, scope, s.rule, cost)
}

module.exports = { settings, decide }
