import type { Registry } from 'prom-client'
import type { Limiter } from './index'

/**
 * Register the counters of `limiters` (one, or named ones: each sample then
 * carries `limiter="<name>"`) as prom-client metrics in `options.registry`
 * (default: prom-client's global register), read from `stats()` at each
 * scrape, with the names of the core's text format
 * (`ratewarden_decisions_total{result}`, `..._errors_total`,
 * `..._fallbacks_total`, `..._deny_cache_hits_total`, `..._circuit_open`,
 * `..._decision_seconds` histogram).
 *
 * ```js
 * collectLimiters(limiter)
 * collectLimiters({ api, login }, { registry, namespace: 'app_rl' })
 * ```
 */
export function collectLimiters(
  limiters: Limiter | Record<string, Limiter>,
  options?: { registry?: Registry; namespace?: string }
): unknown[]
