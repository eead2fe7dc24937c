'use strict'
/**
 * ratewarden for Node: exact distributed rate limiting on Redis.
 *
 *   const { Limiter } = require('ratewarden')
 *   const limiter = new Limiter('redis://127.0.0.1:6379')
 *   if (!(await limiter.isAllowed(ip, 'GET /search', 10, 10))) res.status(429)
 *
 * This wrapper checks JavaScript argument types (TypeError); everything else —
 * option names and ranges, limits, errors with their stable `err.code` — is
 * the Rust core's.
 */
const native = loadNative()

// The napi-rs loader (native.js) finds the addon: a ratewarden.<platform>.node
// file next to it (a build from source), else the platform package
// ratewarden-<platform> (an optional dependency). When neither is there, say
// which platform that was and what to do.
function loadNative () {
  try {
    return require('./native.js')
  } catch (cause) {
    let platform = `${process.platform}-${process.arch}`
    if (process.platform === 'linux') {
      const glibc = process.report && process.report.getReport().header.glibcVersionRuntime
      platform += glibc ? '-gnu' : '-musl'
    }
    const err = new Error(
      `ratewarden: no native addon for ${platform}. Prebuilt addons come as the optional dependency ` +
        `ratewarden-${platform} (published for: linux-x64-gnu); check that npm installed it (not with ` +
        '--omit=optional or --no-optional). To build from source (Rust 1.88 or newer): git clone ' +
        'https://github.com/ratewarden/ratewarden && cd ratewarden/node && npm ci && npm run build, then ' +
        `install that directory (npm install ./ratewarden/node) or set NAPI_RS_NATIVE_LIBRARY_PATH to its ratewarden.${platform}.node.`
    )
    err.code = 'ERR_RATEWARDEN_NATIVE_ADDON'
    err.cause = cause
    throw err
  }
}

// From the core's table: each option's JavaScript name and kind.
const OPTION_KINDS = native.optionKinds()

function str (name, v) {
  if (typeof v !== 'string') throw new TypeError(`${name} must be a string, got ${v === null ? 'null' : typeof v}`)
}

function num (name, v) {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${v === null ? 'null' : typeof v}`)
}

function optStr (name, v) {
  if (v !== undefined) str(name, v)
}

const allowedOf = (d) => d.allowed

function optNum (name, v) {
  if (v !== undefined) num(name, v)
}

// The quota fields of an options object, type-checked; which combinations
// are valid is the core's to say.
function quotaArgs (o) {
  if (o === null || typeof o !== 'object') throw new TypeError('the quota must be { quota } or { capacity, ratePerSecond | periodMs }')
  const { quota, capacity, ratePerSecond, periodMs } = o
  optStr('quota', quota)
  optNum('capacity', capacity)
  optNum('ratePerSecond', ratePerSecond)
  optNum('periodMs', periodMs)
  return { quota, capacity, ratePerSecond, periodMs }
}

const LOG_LEVELS = ['off', 'error', 'warn', 'info', 'debug', 'trace']

/**
 * Send the library's log records to `logger` — any object with `error`,
 * `warn`, `info` and `debug` methods (console, pino, winston as they are;
 * `trace` is used when it has one) — on this thread, from now on and for
 * every limiter of the process. `level` ('off' … 'trace') is the lowest
 * level passed on; default: `RATEWARDEN_LOG`, else 'info'. `null` goes back
 * to the default: warnings on stderr (at `RATEWARDEN_LOG`). Delivery never
 * keeps the process alive, and stops when the process (or worker) exits.
 *
 *   setLogger(pino(), { level: 'info' })
 *
 * @param {import('./index').Logger | null} logger
 * @param {{ level?: 'off' | 'error' | 'warn' | 'info' | 'debug' | 'trace' }} [options]
 */
function setLogger (logger, options = {}) {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  const { level } = options
  let min
  if (level !== undefined) {
    str('options.level', level)
    min = LOG_LEVELS.indexOf(level)
    if (min < 0) throw new TypeError(`options.level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`)
  }
  if (logger === null || logger === undefined) return native.setLogSink(null, 0)
  if (typeof logger !== 'object' && typeof logger !== 'function') throw new TypeError('logger must be an object with error/warn/info/debug methods')
  for (const m of ['error', 'warn', 'info', 'debug']) {
    if (typeof logger[m] !== 'function') throw new TypeError(`logger.${m} must be a function`)
  }
  const method = [null, 'error', 'warn', 'info', 'debug', typeof logger.trace === 'function' ? 'trace' : 'debug']
  native.setLogSink((lvl, target, message) => {
    logger[method[lvl] || 'info'](`${target}: ${message}`)
  }, min)
}

class Limiter {
  #native

  /**
   * @param {string} [url='memory://'] memory://, redis://[user:pass@]host:port[/db], rediss://...,
   *   redis+cluster://h1:p1,h2:p2 or redis+sentinel://h:p/master
   * @param {import('./index').LimiterOptions} [options] checked by the core (see `optionKinds()`)
   */
  constructor (url = 'memory://', options = {}) {
    str('url', url)
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const given = {}
    for (const [name, value] of Object.entries(options)) {
      if (value === undefined || value === null || name === 'logger' || name === 'logLevel') continue
      const kind = OPTION_KINDS[name]
      if (kind === 'bytes' && Buffer.isBuffer(value)) {
        given[name] = value.toString('utf8') // a PEM certificate is text
        continue
      }
      if (kind === 'integer' || kind === 'number') num(`options.${name}`, value)
      else if (kind === 'string' || kind === 'bytes') str(`options.${name}`, value)
      // An unknown name goes on as it is: the core says which options exist.
      given[name] = typeof value === 'number' || typeof value === 'string' ? value : String(value)
    }
    if (options.logger !== undefined && options.logger !== null) {
      // Process-wide, like `setLogger` (the core's records name no limiter).
      setLogger(options.logger, { level: options.logLevel })
    } else if (options.logLevel !== undefined) {
      throw new TypeError('options.logLevel needs options.logger')
    }
    this.#native = new native.Limiter(url, given)
  }

  /** The per-call deadline in milliseconds. */
  get timeoutMs () {
    return this.#native.timeoutMs
  }

  /** The failure mode: "error", "allow", "deny" or "local". */
  get failureMode () {
    return this.#native.failureMode
  }

  /** The algorithm of calls that name none. */
  get algorithm () {
    return this.#native.algorithm
  }

  /** May `clientId` call `apiEndpoint` now? Counts the request if so. */
  isAllowed (clientId, apiEndpoint, capacity, ratePerSecond) {
    try {
      str('clientId', clientId)
      str('apiEndpoint', apiEndpoint)
      num('capacity', capacity)
      num('ratePerSecond', ratePerSecond)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.check(clientId, apiEndpoint, capacity, ratePerSecond, 1, undefined).then(allowedOf)
  }

  /**
   * The full decision for a request of `cost` units (default 1), with `algorithm` or the limiter's.
   * The quota is `{ capacity, ratePerSecond }`, `{ capacity, periodMs }` or `{ quota: '5/minute' }`.
   */
  check (clientId, apiEndpoint, quota) {
    let cost, algorithm, q
    try {
      str('clientId', clientId)
      str('apiEndpoint', apiEndpoint)
      if (quota === null || typeof quota !== 'object') throw new TypeError('the third argument must be { capacity, ratePerSecond | periodMs, cost?, algorithm? } or { quota, cost?, algorithm? }')
      ;({ cost = 1, algorithm } = quota)
      num('cost', cost)
      optStr('algorithm', algorithm)
      q = quotaArgs(quota)
    } catch (e) {
      return Promise.reject(e)
    }
    if (q.quota === undefined && q.periodMs === undefined && q.capacity !== undefined && q.ratePerSecond !== undefined) {
      return this.#native.check(clientId, apiEndpoint, q.capacity, q.ratePerSecond, cost, algorithm)
    }
    return this.#native.checkQuota(clientId, apiEndpoint, q, cost, algorithm)
  }

  /** The decision a cost-1 `check` would get now, counting nothing (`{ quota }` or numbers). */
  peek (clientId, apiEndpoint, quota) {
    let q
    try {
      str('clientId', clientId)
      str('apiEndpoint', apiEndpoint)
      q = quotaArgs(quota)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.peek(clientId, apiEndpoint, q)
  }

  /** Give back `cost` units (default 1) of the latest admissions: `refund(c, e, { quota, cost })`. */
  refund (clientId, apiEndpoint, options) {
    let q, cost
    try {
      str('clientId', clientId)
      str('apiEndpoint', apiEndpoint)
      q = quotaArgs(options)
      cost = options.cost === undefined ? 1 : options.cost
      num('cost', cost)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.refund(clientId, apiEndpoint, q, cost)
  }

  /** Refuse this client, endpoint and quota for `durationMs`: `block(c, e, { quota, durationMs })`. */
  block (clientId, apiEndpoint, options) {
    let q
    try {
      str('clientId', clientId)
      str('apiEndpoint', apiEndpoint)
      q = quotaArgs(options)
      num('durationMs', options.durationMs)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.block(clientId, apiEndpoint, q, options.durationMs)
  }

  /**
   * The verdict on an HTTP request: `key` (e.g. `new ClientIp(...).key(peer, xff)`)
   * on `scope` (a route, or "*") under `rule` (a `Rule`), counting `cost`:
   * `{ allowed, status, headers: [[name, value], ...], body, retryAfterMs, fallback, decisions }`,
   * rendered by the core. What `ratewarden/express` and `ratewarden/fastify` answer with.
   */
  checkHttp (key, scope, rule, cost = 1) {
    try {
      str('key', key)
      str('scope', scope)
      if (!(rule instanceof native.Rule)) throw new TypeError('rule must be a ratewarden Rule')
      num('cost', cost)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.checkHttp(key, scope, rule, cost)
  }

  /** Forget all state of (clientId, apiEndpoint): every algorithm and quota. */
  reset (clientId, apiEndpoint) {
    try {
      str('clientId', clientId)
      str('apiEndpoint', apiEndpoint)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.reset(clientId, apiEndpoint)
  }

  /**
   * Several limits for one client in one atomic step: admitted only if every
   * limit has room, and then counted in all of them.
   * @param {string} clientId
   * @param {Array<{endpoint: string, capacity: number, ratePerSecond: number, cost?: number, algorithm?: string}>} limits
   */
  checkAll (clientId, limits) {
    let specs
    try {
      str('clientId', clientId)
      if (!Array.isArray(limits)) throw new TypeError('limits must be an array of { endpoint, capacity, ratePerSecond, cost?, algorithm? }')
      specs = limits.map((l, i) => {
        if (l === null || typeof l !== 'object') throw new TypeError(`limits[${i}] must be an object`)
        const { endpoint, capacity, ratePerSecond, cost = 1, algorithm } = l
        str(`limits[${i}].endpoint`, endpoint)
        num(`limits[${i}].capacity`, capacity)
        num(`limits[${i}].ratePerSecond`, ratePerSecond)
        num(`limits[${i}].cost`, cost)
        optStr(`limits[${i}].algorithm`, algorithm)
        return { endpoint, capacity, ratePerSecond, cost, algorithm }
      })
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.checkAll(clientId, specs)
  }

  /** Decide by the policy stored for `apiEndpoint` (or the default policy "*"). */
  checkPolicy (clientId, apiEndpoint, options = {}) {
    let cost
    try {
      str('clientId', clientId)
      str('apiEndpoint', apiEndpoint)
      if (options === null || typeof options !== 'object') throw new TypeError('options must be { cost? }')
      cost = options.cost === undefined ? 1 : options.cost
      num('cost', cost)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.checkPolicy(clientId, apiEndpoint, cost)
  }

  /** Store a policy (name: an endpoint, or "*" for the default) for every limiter on this backend. */
  setPolicy (name, policy) {
    let q
    try {
      str('name', name)
      if (policy === null || typeof policy !== 'object') throw new TypeError('policy must be { capacity, ratePerSecond | periodMs, algorithm? } or { quota, algorithm? }')
      optStr('algorithm', policy.algorithm)
      q = quotaArgs(policy)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.setPolicy(name, q, policy.algorithm)
  }

  /** Remove a policy (no-op if absent). */
  deletePolicy (name) {
    try {
      str('name', name)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.deletePolicy(name)
  }

  /** Every stored policy, read from the backend now: `{ name: { capacity, ratePerSecond, algorithm? } }`. */
  policies () {
    return this.#native.policies()
  }

  /** The policy `checkPolicy` applies to `apiEndpoint` now (its own or the default "*"). */
  resolvedPolicy (apiEndpoint) {
    try {
      str('apiEndpoint', apiEndpoint)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.resolvedPolicy(apiEndpoint)
  }

  /** The Redis key a decision for these arguments uses (a Buffer), or null on memory:// or for invalid arguments. */
  redisKey (clientId, apiEndpoint, capacity, ratePerSecond) {
    str('clientId', clientId)
    str('apiEndpoint', apiEndpoint)
    num('capacity', capacity)
    num('ratePerSecond', ratePerSecond)
    return this.#native.redisKey(clientId, apiEndpoint, capacity, ratePerSecond)
  }

  /** Counters since the limiter was created (decisions, errors, fallbacks, circuit state, latency, Prometheus text). */
  stats () {
    return this.#native.stats()
  }

  /** Round trip to the backend within the deadline. */
  ping () {
    return this.#native.ping()
  }
}

/** Stable error codes, one per core error kind (from the core's table). */
const ErrorCode = Object.freeze(native.errorCodes())

/**
 * The HTTP headers of a decision, rendered by the core (the same bytes in
 * every language): `set` "draft-06" (default: `RateLimit-Limit`,
 * `-Remaining`, `-Reset`) or "x-ratelimit"; plus `Retry-After` when refused.
 * @param {import('./index').Decision} decision
 * @param {'draft-06' | 'x-ratelimit'} [set]
 * @returns {Record<string, string>}
 */
function headers (decision, set = 'draft-06') {
  if (decision === null || typeof decision !== 'object') throw new TypeError('decision must be a Decision')
  str('set', set)
  return Object.fromEntries(native.decisionHeaders(decision, set))
}

/**
 * The draft-ietf-httpapi-ratelimit-headers-11 headers of a decision under the
 * quota policy `name` whose window is `windowMs`, rendered by the core:
 * `RateLimit-Policy`, `RateLimit`, and `Retry-After` when refused.
 * @param {import('./index').Decision} decision
 * @param {string} name
 * @param {number} windowMs
 * @returns {Record<string, string>}
 */
function ietfHeaders (decision, name, windowMs) {
  if (decision === null || typeof decision !== 'object') throw new TypeError('decision must be a Decision')
  str('name', name)
  num('windowMs', windowMs)
  return Object.fromEntries(native.decisionIetfHeaders(decision, name, windowMs))
}

/**
 * A route's quotas and header sets, checked once: `new Rule('5/minute')`,
 * `new Rule('10/second;1000/hour', 'draft-11,draft-06')`.
 */
class Rule extends native.Rule {
  constructor (quota, headers = 'draft-11') {
    str('quota', quota)
    str('headers', headers)
    super(quota, headers)
  }
}

/**
 * The client key of a request: `new ClientIp({ trustedProxies, proxyHeader, ipv6Subnet }).key(peer, forwarded)`.
 */
class ClientIp extends native.ClientIp {
  constructor (options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const { trustedProxies = [], proxyHeader = 'x-forwarded-for', ipv6Subnet = 64 } = options
    if (!Array.isArray(trustedProxies) || !trustedProxies.every((t) => typeof t === 'string')) throw new TypeError('trustedProxies must be an array of strings')
    str('proxyHeader', proxyHeader)
    num('ipv6Subnet', ipv6Subnet)
    super(trustedProxies, proxyHeader, ipv6Subnet)
  }

  /** The client key of a request from `peer` with the forwarding header's value (strings, or null/undefined). */
  key (peer, forwarded) {
    if (peer != null) str('peer', peer)
    if (forwarded != null) str('forwarded', forwarded)
    return super.key(peer ?? null, forwarded ?? null)
  }
}

module.exports = { Limiter, ErrorCode, headers, ietfHeaders, Rule, ClientIp, setLogger }
