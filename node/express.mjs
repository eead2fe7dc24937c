// ESM entry point of ratewarden/express: the same function as the CommonJS one.
import cjs from './express.js'

export const { rateLimit } = cjs
export default cjs.rateLimit
