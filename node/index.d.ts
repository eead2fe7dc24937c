/** Options for `new Limiter(url, options)`. */
export interface LimiterOptions {
  /** Per-call deadline in milliseconds (default 1000). */
  timeoutMs?: number
  /** Prefix of every Redis key (default "ratewarden:"; no braces). */
  keyPrefix?: string
  /** Bound on calls outstanding on the connection (default 1024). */
  maxInFlight?: number
}

/** A quota and the cost of this request. */
export interface Quota {
  /** Burst size, 1..1e9. */
  capacity: number
  /** Sustained rate per second, 1..1e9. */
  ratePerSecond: number
  /** Units this request counts as, 1..capacity (default 1). */
  cost?: number
}

/** The answer to one check. */
export interface Decision {
  /** Whether the request (all of its cost) was admitted. */
  allowed: boolean
  /** The capacity that applied. */
  limit: number
  /** Units that could still be admitted right now. */
  remaining: number
  /** 0 when allowed; else milliseconds until a request of the same cost would be admitted. */
  retryAfterMs: number
  /** Milliseconds until the window is empty again. */
  resetAfterMs: number
}

/** Errors rejected by ratewarden carry one of these codes in `err.code`. */
export declare const ErrorCode: {
  readonly InvalidArgument: 'RATEWARDEN_INVALID_ARGUMENT'
  readonly Config: 'RATEWARDEN_CONFIG'
  readonly Connection: 'RATEWARDEN_CONNECTION'
  readonly Timeout: 'RATEWARDEN_TIMEOUT'
  readonly Server: 'RATEWARDEN_SERVER'
  readonly Usage: 'RATEWARDEN_USAGE'
  readonly Internal: 'RATEWARDEN_INTERNAL'
}

/** An `Error` from ratewarden. */
export interface RatewardenError extends Error {
  code: (typeof ErrorCode)[keyof typeof ErrorCode]
  /** True for a timeout after the script was sent: the decision may have been taken. */
  outcomeUnknown: boolean
}

/**
 * A rate limiter. Every method returns a Promise; the event loop never waits
 * on Redis, and concurrent calls are pipelined on one shared connection.
 *
 * ```ts
 * const limiter = new Limiter('redis://127.0.0.1:6379', { timeoutMs: 250 })
 * const d = await limiter.check(ip, 'GET /search', { capacity: 10, ratePerSecond: 10 })
 * if (!d.allowed) res.set('Retry-After', String(Math.ceil(d.retryAfterMs / 1000))).status(429)
 * ```
 */
export declare class Limiter {
  /** `url`: "memory://" (default), "redis://[user:pass@]host:port[/db]" or "rediss://...". */
  constructor(url?: string, options?: LimiterOptions)
  /** May `clientId` call `apiEndpoint` now? Counts the request if so. */
  isAllowed(clientId: string, apiEndpoint: string, capacity: number, ratePerSecond: number): Promise<boolean>
  /** The full decision for a request of `quota.cost` units (all or nothing). */
  check(clientId: string, apiEndpoint: string, quota: Quota): Promise<Decision>
  /** Round trip to the backend within the deadline. */
  ping(): Promise<void>
}
