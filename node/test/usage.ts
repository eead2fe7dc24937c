// Type-checked by `npm run typecheck` (tsc --noEmit): the public types as a user sees them.
import { Limiter, ErrorCode, headers, ietfHeaders, type Decision, type MultiDecision, type PolicySpec, type RatewardenError } from 'ratewarden'

async function handle(ip: string): Promise<number> {
  const limiter = new Limiter('redis://127.0.0.1:6379', { timeoutMs: 250, keyPrefix: 'app:', failureMode: 'local', localShare: 0.5, breakerThreshold: 5, breakerOpenForMs: 200 })
  const fallbacks: number = limiter.stats().fallbacks
  void fallbacks
  try {
    const d: Decision = await limiter.check(ip, 'GET /search', { capacity: 10, ratePerSecond: 10 })
    if (!d.allowed) return d.retryAfterSecs
    const h: Record<string, string> = headers(d, 'x-ratelimit')
    const i: Record<string, string> = ietfHeaders(d, 'search', 1000)
    void [h, i]
    const all: Record<string, PolicySpec> = await limiter.policies()
    const one: PolicySpec = await limiter.resolvedPolicy('GET /search')
    const key: Buffer | null = limiter.redisKey(ip, 'GET /search', 10, 10)
    void [all, one, key, limiter.timeoutMs, limiter.failureMode]
    const ok: boolean = await limiter.isAllowed(ip, 'GET /search', 10, 10)
    const g: Decision = await limiter.check(ip, 'GET /search', { capacity: 10, ratePerSecond: 10, algorithm: 'gcra' })
    const m: MultiDecision = await limiter.checkAll(ip, [
      { endpoint: 'GET /search', capacity: 10, ratePerSecond: 10 },
      { endpoint: '*', capacity: 1200, ratePerSecond: 20, algorithm: 'token_bucket' }
    ])
    await limiter.setPolicy('GET /search', { capacity: 10, ratePerSecond: 10, algorithm: 'gcra' })
    const p: Decision = await limiter.checkPolicy(ip, 'GET /search', { cost: 1 })
    const login: Decision = await limiter.check(ip, '/login', { quota: '5/minute;20/hour' })
    const period: Decision = await limiter.check(ip, '/login', { capacity: 5, periodMs: 60_000, cost: 1 })
    const looked: Decision = await limiter.peek(ip, '/login', { quota: '5/minute' })
    await limiter.refund(ip, '/login', { quota: '5/minute', cost: 1 })
    await limiter.block(ip, '/login', { quota: '5/minute', durationMs: 900_000 })
    await limiter.reset(ip, '/login')
    await limiter.setPolicy('/login', { quota: '5/minute' })
    if (!login.allowed || !period.allowed || !looked.allowed) return looked.retryAfterMs
    if (!g.allowed || !m.allowed || !p.allowed) return m.decisions[m.limiting].retryAfterMs
    return ok ? 0 : 1
  } catch (e) {
    const err = e as RatewardenError
    if (err.code === ErrorCode.Timeout && err.outcomeUnknown) return -1
    throw e
  }
}

void handle

// Web middleware, as Express and Fastify users write it.
import { Rule, ClientIp, type Verdict, setLogger, type Logger } from 'ratewarden'

const logger: Logger = console
setLogger(logger, { level: 'info' })
setLogger(null)
void new Limiter('memory://', { logger: console, logLevel: 'warn' })
import { rateLimit } from 'ratewarden/express'
import { collectLimiters } from 'ratewarden/prometheus'
import { Registry } from 'prom-client'
void collectLimiters({ api: new Limiter() }, { registry: new Registry(), namespace: 'app' })
import ratewardenFastify, { type RouteRateLimit } from 'ratewarden/fastify'
import type { IncomingMessage } from 'node:http'

async function web(limiter: Limiter): Promise<void> {
  const mw = rateLimit({
    limiter,
    quota: ['10/second', '1000/hour'],
    key: (req: IncomingMessage) => String(req.headers['x-api-key'] ?? ''),
    skip: (req) => req.url === '/health',
    cost: 2,
    headers: ['draft-11', 'draft-06'],
    trustedProxies: ['10.0.0.0/8'],
    onLimited: (req, res, next, v: Verdict) => { res.statusCode = v.status; res.end() }
  })
  void mw
  const route: RouteRateLimit = { quota: '5/minute' }
  void [route, ratewardenFastify]
  const rule = new Rule('5/minute', 'draft-11')
  const key: string = new ClientIp({ trustedProxies: ['loopback'], ipv6Subnet: 56 }).key('::1', null)
  const v: Verdict = await limiter.checkHttp(key, '/login', rule)
  const pairs: Array<[string, string]> = v.headers
  const policy: string | null = rule.policyHeader
  void [pairs, policy, v.status, v.fallback]
}
void web
