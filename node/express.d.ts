// ratewarden/express: rate limiting middleware for Express 4/5 and node:http.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Limiter, Verdict, WebLimitOptions } from './web'

export interface RateLimitOptions<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>
  extends WebLimitOptions<Req> {
  /** The limiter (its failure mode decides when Redis is away). */
  limiter: Limiter
  /** Answer a refusal yourself (headers are set already) instead of the JSON 429. */
  onLimited?: (req: Req, res: Res, next: (err?: unknown) => void, verdict: Verdict) => void
}

/**
 * @example
 * app.post('/login', rateLimit({ limiter, quota: '5/minute' }), login)
 */
export declare function rateLimit<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
  options: RateLimitOptions<Req, Res>
): (req: Req, res: Res, next: (err?: unknown) => void) => void

export default rateLimit
