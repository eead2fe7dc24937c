// ratewarden/fastify: a Fastify 4/5 plugin with per-route `config.rateLimit`.
import type { Limiter, Verdict, WebLimitOptions } from './web'

/** A route's `config.rateLimit`: its own quota (inheriting the plugin's options), or false for none. */
export type RouteRateLimit = false | (Partial<Omit<WebLimitOptions<any>, 'quota'>> & { quota: string | string[] })

export interface RatewardenFastifyOptions extends Partial<WebLimitOptions<any>> {
  /** The limiter (its failure mode decides when Redis is away). */
  limiter: Limiter
  /** Answer a refusal yourself (headers are set already) instead of the JSON 429. */
  onLimited?: (request: any, reply: any, verdict: Verdict) => unknown
}

/**
 * @example
 * await app.register(ratewardenFastify, { limiter, quota: '100/minute' })
 * app.post('/login', { config: { rateLimit: { quota: '5/minute' } } }, login)
 */
export declare function ratewardenFastify(fastify: any, options: RatewardenFastifyOptions): Promise<void>

export default ratewardenFastify
