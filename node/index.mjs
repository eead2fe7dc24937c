// ESM entry point: the same classes as the CommonJS one.
import cjs from './index.js'

export const { Limiter, ErrorCode, headers, ietfHeaders, Rule, ClientIp, setLogger } = cjs
export default cjs
