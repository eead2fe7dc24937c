// ESM entry point of ratewarden/prometheus: the same function as the CommonJS one.
import cjs from './prometheus.js'

export const { collectLimiters } = cjs
export default cjs
