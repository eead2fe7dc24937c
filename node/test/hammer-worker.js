'use strict'
// Run by redis.test.js as a worker thread or a child process: hammer one key
// and report how many calls were admitted.
const { Limiter } = require('..')

async function hammer ({ url, client, calls, capacity }) {
  const l = new Limiter(url)
  const results = await Promise.all(Array.from({ length: calls }, () => l.isAllowed(client, '/shared', capacity, 1)))
  return results.filter(Boolean).length
}

const { parentPort, workerData, isMainThread } = require('node:worker_threads')
if (!isMainThread) {
  hammer(workerData).then((n) => parentPort.postMessage({ admitted: n }), (e) => parentPort.postMessage({ error: String(e) }))
} else if (process.argv[2]) {
  hammer(JSON.parse(process.argv[2])).then((n) => { process.stdout.write(JSON.stringify({ admitted: n })) },
    (e) => { process.stderr.write(String(e)); process.exit(1) })
}
