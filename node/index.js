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

class Limiter {
  #native

  /**
   * @param {string} [url='memory://'] memory://, redis://[user:pass@]host:port[/db] or rediss://...
   * @param {{timeoutMs?: number, keyPrefix?: string, maxInFlight?: number}} [options]
   */
  constructor (url = 'memory://', options = {}) {
    str('url', url)
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const { timeoutMs, keyPrefix, maxInFlight } = options
    if (timeoutMs !== undefined) num('options.timeoutMs', timeoutMs)
    if (keyPrefix !== undefined) str('options.keyPrefix', keyPrefix)
    if (maxInFlight !== undefined) {
      num('options.maxInFlight', maxInFlight)
      if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > 1048576) {
        throw wrapError(new Error(`RATEWARDEN_INVALID_ARGUMENT: invalid argument: maxInFlight must be 1..1048576, got ${maxInFlight}`))
      }
    }
    try {
      this.#native = new native.Limiter(url, { timeoutMs, keyPrefix, maxInFlight })
    } catch (e) {
      throw wrapError(e)
    }
  }

  /** May `clientId` call `apiEndpoint` now? Counts the request if so. */
  async isAllowed (clientId, apiEndpoint, capacity, ratePerSecond) {
    str('clientId', clientId)
    str('apiEndpoint', apiEndpoint)
    num('capacity', capacity)
    num('ratePerSecond', ratePerSecond)
    try {
      return (await this.#native.check(clientId, apiEndpoint, capacity, ratePerSecond, 1)).allowed
    } catch (e) {
      throw wrapError(e)
    }
  }

  /** The full decision for a request of `cost` units (default 1). */
  async check (clientId, apiEndpoint, quota) {
    str('clientId', clientId)
    str('apiEndpoint', apiEndpoint)
    if (quota === null || typeof quota !== 'object') throw new TypeError('the third argument must be { capacity, ratePerSecond, cost? }')
    const { capacity, ratePerSecond, cost = 1 } = quota
    num('capacity', capacity)
    num('ratePerSecond', ratePerSecond)
    num('cost', cost)
    try {
      return await this.#native.check(clientId, apiEndpoint, capacity, ratePerSecond, cost)
    } catch (e) {
      throw wrapError(e)
    }
  }

  /** Round trip to the backend within the deadline. */
  async ping () {
    try {
      await this.#native.ping()
    } catch (e) {
      throw wrapError(e)
    }
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
