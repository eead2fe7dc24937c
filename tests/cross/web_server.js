'use strict'
// node tests/cross/web_server.js express|fastify PORT REDIS_URL PREFIX:
// the Node test app (node/test/webapps, the same routes as the Python test
// apps) on 127.0.0.1:PORT until killed.
const { Limiter } = require('../../node/index.js')
const { listen } = require('../../node/test/webapps/apps.js')

const [framework, port, url, prefix] = process.argv.slice(2)
listen(framework, new Limiter(url, { keyPrefix: prefix }), undefined, Number(port))
  .then(() => console.log('listening'), (e) => { console.error(e); process.exit(1) })
