/** Options for `new Limiter(url, options)`. */
export interface LimiterOptions {
  /** Per-call deadline in milliseconds (default 1000). */
  timeoutMs?: number
  /** Prefix of every Redis key (default "ratewarden:"; no braces). */
  keyPrefix?: string
  /** Bound on calls outstanding on the connection (default 1024). */
  maxInFlight?: number
  /** Algorithm of calls that name none (default "sliding_window_log"). */
  algorithm?: Algorithm
  /**
   * While Redis is unreachable: "error" (default: reject), "allow", "deny", or
   * "local" (an in-process limiter with `localShare` of each quota). A circuit
   * breaker fails calls fast after 3 consecutive outages and probes every 500 ms.
   */
  failureMode?: 'error' | 'allow' | 'deny' | 'local'
  /** Share (0..1] of each quota the local failure mode grants (default 1). */
  localShare?: number
  /** Entries of the local deny cache (default 10000; 0 turns it off). */
  denyCache?: number
  /** Trust this PEM CA certificate for rediss:// instead of the system's roots. */
  tlsRootCertPem?: string | Buffer
  /**
   * Present this PEM client certificate to TLS servers that require one (Redis
   * `tls-auth-clients yes`); give `tlsClientKeyPem` with it.
   */
  tlsClientCertPem?: string | Buffer
  /** The PEM private key of `tlsClientCertPem`. */
  tlsClientKeyPem?: string | Buffer
  /** Consecutive outages that open the circuit (1..1000; default 3). */
  breakerThreshold?: number
  /** How long the circuit stays open before a probe, in ms (1..3600000; default 500). */
  breakerOpenForMs?: number
  /** Where the library's log records go, for the whole process: see `setLogger`. */
  logger?: Logger
  /** The lowest level passed to `logger` (default: `RATEWARDEN_LOG`, else "info"). */
  logLevel?: LogLevel
}

/** Any logger with these methods: console, pino, winston fit as they are. */
export interface Logger {
  error(message: string): unknown
  warn(message: string): unknown
  info(message: string): unknown
  debug(message: string): unknown
  trace?(message: string): unknown
}

export type LogLevel = 'off' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * Send the library's log records (failures at warn, reconnects and circuit
 * changes at info, decisions at trace) to `logger`, on this thread, for every
 * limiter of the process; `null`: back to warnings on stderr (at
 * `RATEWARDEN_LOG`). Never keeps the process alive.
 *
 * ```js
 * setLogger(console, { level: 'info' })
 * ```
 */
export function setLogger(logger: Logger | null, options?: { level?: LogLevel }): void

/** A limiter's counters since it was created. */
export interface Stats {
  allowed: number
  denied: number
  errors: number
  fallbacks: number
  /** Refusals answered by the local deny cache (no round trip). */
  cacheHits: number
  circuitOpen: boolean
  latencyCount: number
  latencySumMs: number
  /** The latency histogram: upper bound in seconds (`Infinity` last), count per bucket (not cumulative). */
  latencyBuckets: Array<{ le: number; count: number }>
  /** All of it in the Prometheus text exposition format. */
  prometheus: string
}

/** The algorithms, by the names every front door uses ("leaky_bucket" = "gcra"). */
export type Algorithm =
  | 'sliding_window_log'
  | 'sliding_window_counter'
  | 'fixed_window'
  | 'token_bucket'
  | 'gcra'
  | 'leaky_bucket'

/** A quota and the cost of this request. */
export interface RateQuota {
  /** Burst size, 1..1e9. */
  capacity: number
  /** Sustained rate per second, 1..1e9. */
  ratePerSecond: number
}

/** `capacity` requests per `periodMs` milliseconds (1 µs .. 1e12 ms). */
export interface PeriodQuota {
  /** Burst size, 1..1e9. */
  capacity: number
  /** The period in milliseconds. */
  periodMs: number
}

/** A quota in the notation: '5/minute', '10 per second', '10/second;1000/hour'. */
export interface NotationQuota {
  quota: string
}

/** A quota in any of its three forms. */
export type QuotaSpec = RateQuota | PeriodQuota | NotationQuota

/** The third argument of `check`: a quota, the cost and the algorithm. */
export type Quota = QuotaSpec & {
  /** Units this request counts as, 1..capacity (default 1). */
  cost?: number
  /** Algorithm for this call (default: the limiter's). */
  algorithm?: Algorithm
}

/** One limit of `checkAll`: a scope (an endpoint, or a label such as "*") and its quota. */
export interface LimitSpec extends RateQuota {
  /** Units this request counts as, 1..capacity (default 1). */
  cost?: number
  /** Algorithm for this limit (default: the limiter's). */
  algorithm?: Algorithm
  /** The scope. */
  endpoint: string
}

/** The answer to `checkAll`. */
export interface MultiDecision {
  /** Whether every limit had room (and the request was counted in all of them). */
  allowed: boolean
  /** Index of the deciding limit: the refusing one with the longest wait, or the one with the fewest remaining. */
  limiting: number
  /** One decision per limit, in order (`allowed` there: that limit alone had room). */
  decisions: Decision[]
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
  /** `Retry-After`: whole seconds, rounded up (0 when allowed). */
  retryAfterSecs: number
  /** Seconds until the window is empty again, rounded up. */
  resetAfterSecs: number
}

/** A stored policy. */
export interface PolicySpec {
  /** Of the first quota. */
  capacity: number
  /** Of the first quota (may be fractional). */
  ratePerSecond: number
  /** The period of the first quota, in milliseconds. */
  periodMs: number
  /** Every quota, in the notation ('5/minute;100/hour'). */
  quota: string
  /** Undefined: the deciding limiter's algorithm. */
  algorithm?: Algorithm
}

/**
 * The HTTP headers of a decision, rendered by the core (the same bytes in
 * every language): "draft-06" (default) `RateLimit-Limit`, `-Remaining`,
 * `-Reset`, or "x-ratelimit"; plus `Retry-After` when refused.
 *
 * ```ts
 * res.set(headers(await limiter.check(ip, '/search', { capacity: 10, ratePerSecond: 10 })))
 * ```
 */
export declare function headers(decision: Decision, set?: 'draft-06' | 'x-ratelimit'): Record<string, string>

/**
 * The draft-ietf-httpapi-ratelimit-headers-11 headers of a decision under the
 * quota policy `name` (1..64 printable ASCII characters) whose window is
 * `windowMs`: `RateLimit-Policy: "name";q=..;w=..`, `RateLimit: "name";r=..;t=..`,
 * and `Retry-After` when refused — rendered by the core.
 */
export declare function ietfHeaders(decision: Decision, name: string, windowMs: number): Record<string, string>

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
  /** True for a timeout, or a broken connection, after the script was sent: the decision may have been taken. */
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
/** A route's quotas and header sets, checked once (a bad quota throws here). */
export declare class Rule {
  /** `quota`: notation, "5/minute" or "10/second;1000/hour"; `headers`: "draft-11" (default), "draft-11,draft-06", "x-ratelimit", "none". */
  constructor(quota: string, headers?: string)
  /** The quotas in notation, `;`-separated. */
  get quota(): string
  /** The header sets, canonical. */
  get headers(): string
  /** The `RateLimit-Policy` value, or null without draft-11 headers. */
  get policyHeader(): string | null
}

/** How the default web key is found: the peer, or behind trusted proxies the forwarded client. */
export interface ClientIpOptions {
  /** Addresses, networks ("10.0.0.0/8"), "loopback" or "private" whose forwarding header is believed. */
  trustedProxies?: string[]
  /** "x-forwarded-for" (default) or "forwarded". */
  proxyHeader?: 'x-forwarded-for' | 'forwarded'
  /** IPv6 clients are grouped by this prefix (32..128, default 64). */
  ipv6Subnet?: number
}

/** The client key of a request. */
export declare class ClientIp {
  constructor(options?: ClientIpOptions)
  /** The forwarding header read (lowercase), or null when no proxy is trusted. */
  get header(): string | null
  /** The key of a request from `peer` with the forwarding header's value (lines joined with ", "). */
  key(peer?: string | null, forwarded?: string | null): string
}

/** What a request gets under a rule, rendered by the core. */
export interface Verdict {
  allowed: boolean
  /** 200; 429 when refused; 503 when the "deny" failure mode refused (Redis away). */
  status: number
  /** Milliseconds until the request would be admitted (0 when allowed). */
  retryAfterMs: number
  /** The failure mode that decided because Redis could not. */
  fallback?: 'allow' | 'deny' | 'local'
  /** `[name, value]` pairs in order: RateLimit-Policy, RateLimit, legacy sets, Retry-After. */
  headers: Array<[string, string]>
  /** The JSON body of a refusal. */
  body?: string
  /** One decision per quota of the rule. */
  decisions: Decision[]
}

export declare class Limiter {
  /**
   * `url`: "memory://" (default), "redis://[user:pass@]host:port[/db]", "rediss://...",
   * "redis+cluster://h1:p1,h2:p2" or "redis+sentinel://h:p/master" (TLS: "rediss+cluster://", "rediss+sentinel://"). A bad URL or
   * option throws an `Error` with `code`.
   */
  constructor(url?: string, options?: LimiterOptions)
  /** The per-call deadline in milliseconds. */
  readonly timeoutMs: number
  /** The failure mode. */
  readonly failureMode: 'error' | 'allow' | 'deny' | 'local'
  /** May `clientId` call `apiEndpoint` now? Counts the request if so. */
  isAllowed(clientId: string, apiEndpoint: string, capacity: number, ratePerSecond: number): Promise<boolean>
  /** The full decision for a request of `quota.cost` units (all or nothing), with `quota.algorithm` or the limiter's. */
  check(clientId: string, apiEndpoint: string, quota: Quota): Promise<Decision>
  /**
   * Several limits for one client in one atomic step (one round trip):
   * admitted only if every limit has room, and then counted in all of them.
   *
   * ```ts
   * const m = await limiter.checkAll(userId, [
   *   { endpoint: 'POST /upload', capacity: 10, ratePerSecond: 10 },
   *   { endpoint: '*', capacity: 1200, ratePerSecond: 20, algorithm: 'gcra' },
   * ])
   * if (!m.allowed) res.status(429)
   * ```
   */
  checkAll(clientId: string, limits: LimitSpec[]): Promise<MultiDecision>
  /**
   * The verdict on an HTTP request: `key` on `scope` (a route or "*") under `rule`, counting `cost` (default 1).
   * @example
   * const v = await limiter.checkHttp(new ClientIp().key(req.socket.remoteAddress), '/login', new Rule('5/minute'))
   * for (const [name, value] of v.headers) res.setHeader(name, value)
   */
  checkHttp(key: string, scope: string, rule: Rule, cost?: number): Promise<Verdict>
  /** The algorithm of calls that name none. */
  readonly algorithm: Algorithm
  /**
   * Decide by the policy stored for `apiEndpoint` (or the default policy "*");
   * a change made anywhere reaches this limiter within 1 s.
   */
  checkPolicy(clientId: string, apiEndpoint: string, options?: { cost?: number }): Promise<Decision>
  /** Store a policy (name: an endpoint, or "*" for the default) for every limiter on this backend. */
  setPolicy(name: string, policy: QuotaSpec & { algorithm?: Algorithm }): Promise<void>
  /**
   * The decision a cost-1 `check` would get now, counting nothing.
   *
   * ```js
   * const d = await limiter.peek(ip, '/login', { quota: '5/minute' })
   * ```
   */
  peek(clientId: string, apiEndpoint: string, quota: QuotaSpec): Promise<Decision>
  /**
   * Give back `cost` units (default 1) of the latest admissions; resolves to
   * what a cost-1 check would get afterwards.
   *
   * ```js
   * await limiter.refund(user, 'POST /pay', { quota: '10/hour', cost: 1 })
   * ```
   */
  refund(clientId: string, apiEndpoint: string, options: QuotaSpec & { cost?: number }): Promise<Decision>
  /**
   * Refuse this client, endpoint and quota for `durationMs`; then the full quota is back.
   *
   * ```js
   * await limiter.block(ip, '/login', { quota: '5/minute', durationMs: 15 * 60_000 })
   * ```
   */
  block(clientId: string, apiEndpoint: string, options: QuotaSpec & { durationMs: number }): Promise<Decision>
  /**
   * Forget all state of (clientId, apiEndpoint): every algorithm and quota.
   *
   * ```js
   * await limiter.reset(user, '/login')
   * ```
   */
  reset(clientId: string, apiEndpoint: string): Promise<void>
  /** Remove a policy (no-op if absent). */
  deletePolicy(name: string): Promise<void>
  /** Every stored policy, read from the backend now. */
  policies(): Promise<Record<string, PolicySpec>>
  /** The policy `checkPolicy` applies to `apiEndpoint` now (its own or the default "*"). */
  resolvedPolicy(apiEndpoint: string): Promise<PolicySpec>
  /** The Redis key a decision for these arguments uses (for inspection); null on memory://. */
  redisKey(clientId: string, apiEndpoint: string, capacity: number, ratePerSecond: number): Buffer | null
  /** Counters since the limiter was created. */
  stats(): Stats
  /** Round trip to the backend within the deadline. */
  ping(): Promise<void>
}
