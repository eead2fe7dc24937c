// Options shared by ratewarden/express and ratewarden/fastify.
import type { Limiter, Verdict } from './index'

/** What a rate limit is made of; checked when the middleware is made. */
export interface WebLimitOptions<Req> {
  /** Notation, "5/minute"; several ("10/second;1000/hour" or a list) are all-or-nothing. */
  quota: string | string[]
  /** The client key (default: the client IP, IPv6 by /64, forwarding headers only from `trustedProxies`). */
  key?: (req: Req) => string | Promise<string>
  /** Requests for which this is true pass uncounted, without headers. */
  skip?: (req: Req) => boolean | Promise<boolean>
  /** Units a request counts as (default 1). */
  cost?: number | ((req: Req) => number | Promise<number>)
  /** "draft-11" (default), a list adding "draft-06" / "x-ratelimit", or false. */
  headers?: string | string[] | boolean
  /** The budget's scope (default: "*" app-wide, the route's pattern per route). */
  scope?: string | ((req: Req) => string)
  /** Addresses, networks ("10.0.0.0/8"), "loopback" or "private" whose forwarding header is believed. */
  trustedProxies?: string[]
  /** "x-forwarded-for" (default) or "forwarded". */
  proxyHeader?: 'x-forwarded-for' | 'forwarded'
  /** IPv6 prefix length clients are grouped by (32..128, default 64). */
  ipv6Subnet?: number
}

export type { Limiter, Verdict }
