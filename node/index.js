'use strict'
/**
 * ratewarden for Node: exact distributed rate limiting on Redis.
 *
 *   const { Limiter } = require('ratewarden')
 *   const limiter = new Limiter('redis://127.0.0.1:6379')
 *   if (!(await limiter.isAllowed(ip, 'GET /search', 10, 10))) res.status(429)
 *
 * This wrapper checks argument types (TypeError) and moves the stable error
 * code of the native addon into `err.code`; all logic is in the Rust core.
 */
const native = require('./native.js')

const CODE = /^(RATEWARDEN_[A-Z_]+): ([\s\S]*)$/

function wrapError (e) {
  if (e instanceof Error) {
    const m = CODE.exec(e.message)
    if (m) {
      e.code = m[1]
      e.outcomeUnknown = m[2].endsWith('[outcome unknown]')
      e.message = m[2]
    }
  }
  return e
}

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

class Limiter {
  #native

  /**
   * @param {string} [url='memory://'] memory://, redis://[user:pass@]host:port[/db] or rediss://...
   * @param {{timeoutMs?: number, keyPrefix?: string, maxInFlight?: number, algorithm?: string, failureMode?: string, localShare?: number}} [options]
   */
  constructor (url = 'memory://', options = {}) {
    str('url', url)
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const { timeoutMs, keyPrefix, maxInFlight, algorithm, failureMode, localShare, denyCache } = options
    if (denyCache !== undefined) num('options.denyCache', denyCache)
    if (timeoutMs !== undefined) num('options.timeoutMs', timeoutMs)
    if (localShare !== undefined) num('options.localShare', localShare)
    optStr('options.keyPrefix', keyPrefix)
    optStr('options.algorithm', algorithm)
    optStr('options.failureMode', failureMode)
    if (maxInFlight !== undefined) {
      num('options.maxInFlight', maxInFlight)
      if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > 1048576) {
        throw wrapError(new Error(`RATEWARDEN_INVALID_ARGUMENT: invalid argument: maxInFlight must be 1..1048576, got ${maxInFlight}`))
      }
    }
    try {
      this.#native = new native.Limiter(url, { timeoutMs, keyPrefix, maxInFlight, algorithm, failureMode, localShare, denyCache })
    } catch (e) {
      throw wrapError(e)
    }
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

  /** The full decision for a request of `cost` units (default 1), with `algorithm` or the limiter's. */
  check (clientId, apiEndpoint, quota) {
    let capacity, ratePerSecond, cost, algorithm
    try {
      str('clientId', clientId)
      str('apiEndpoint', apiEndpoint)
      if (quota === null || typeof quota !== 'object') throw new TypeError('the third argument must be { capacity, ratePerSecond, cost?, algorithm? }')
      ;({ capacity, ratePerSecond, cost = 1, algorithm } = quota)
      num('capacity', capacity)
      num('ratePerSecond', ratePerSecond)
      num('cost', cost)
      optStr('algorithm', algorithm)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.check(clientId, apiEndpoint, capacity, ratePerSecond, cost, algorithm)
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
    try {
      str('name', name)
      if (policy === null || typeof policy !== 'object') throw new TypeError('policy must be { capacity, ratePerSecond, algorithm? }')
      num('capacity', policy.capacity)
      num('ratePerSecond', policy.ratePerSecond)
      optStr('algorithm', policy.algorithm)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.#native.setPolicy(name, policy.capacity, policy.ratePerSecond, policy.algorithm)
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

  /** Counters since the limiter was created (decisions, errors, fallbacks, circuit state, latency, Prometheus text). */
  stats () {
    return this.#native.stats()
  }

  /** Round trip to the backend within the deadline. */
  ping () {
    return this.#native.ping()
  }
}

/** Stable error codes, one per core error kind. */
const ErrorCode = Object.freeze({
  InvalidArgument: 'RATEWARDEN_INVALID_ARGUMENT',
  Config: 'RATEWARDEN_CONFIG',
  Connection: 'RATEWARDEN_CONNECTION',
  Timeout: 'RATEWARDEN_TIMEOUT',
  Server: 'RATEWARDEN_SERVER',
  Usage: 'RATEWARDEN_USAGE',
  Internal: 'RATEWARDEN_INTERNAL'
})

module.exports = { Limiter, ErrorCode }
