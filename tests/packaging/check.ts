// Type-checked (tsc --strict, module node16) against the installed packages'
// declarations: the exports map's "types" conditions, main and subpaths.
import { Limiter, ErrorCode, type Decision } from 'ratewarden'
import { rateLimit } from 'ratewarden/express'
import fastifyPlugin from 'ratewarden/fastify'

export async function check (url: string): Promise<boolean> {
  const limiter = new Limiter(url, { timeoutMs: 2000, failureMode: 'local' })
  const d: Decision = await limiter.check('ts', '/pkg', { quota: '3/minute' })
  const middleware = rateLimit({ limiter, quota: '5/minute' })
  const code: string = ErrorCode.Timeout
  return d.allowed && typeof middleware === 'function' && typeof fastifyPlugin === 'function' && code.length > 0
}
