// The package loads as an ES module too.
import test from 'node:test'
import assert from 'node:assert/strict'
import { Limiter, ErrorCode } from 'ratewarden'
import cjs from 'ratewarden'

test('ESM named and default imports', async () => {
  assert.equal(Limiter, cjs.Limiter)
  assert.equal(ErrorCode.Timeout, 'RATEWARDEN_TIMEOUT')
  assert.equal(await new Limiter('memory://esm').isAllowed('a', '/b', 1, 1), true)
})

test('ESM and CommonJS subpaths: ratewarden/express, ratewarden/fastify', async () => {
  const { createRequire } = await import('node:module')
  const require = createRequire(import.meta.url)
  const express = await import('ratewarden/express')
  const fastify = await import('ratewarden/fastify')
  assert.equal(express.rateLimit, require('ratewarden/express').rateLimit)
  assert.equal(express.default, express.rateLimit)
  assert.equal(fastify.default, require('ratewarden/fastify'))
  const { Rule, ClientIp } = await import('ratewarden')
  assert.equal(new Rule('5/minute').policyHeader, '"5/minute";q=5;w=60')
  assert.equal(new ClientIp().key('2001:db8::1'), '2001:db8::/64')
})
