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
