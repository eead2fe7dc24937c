// ESM entry point: the same classes as the CommonJS one.
import cjs from './index.js'

export const { Limiter, ErrorCode } = cjs
export default cjs
