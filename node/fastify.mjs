// ESM entry point of ratewarden/fastify: the same plugin as the CommonJS one.
import cjs from './fastify.js'

export const { ratewardenFastify } = cjs
export default cjs
