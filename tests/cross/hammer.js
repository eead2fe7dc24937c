'use strict'
// Cross-language test: N checks of QUOTA through the Node package.
const { Limiter } = require('../../node')

async function main () {
  const [url, client, endpoint, quota, n, startMs] = process.argv.slice(2)
  const l = new Limiter(url)
  await l.ping()
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startMs) - Date.now())))
  let admitted = 0
  for (let i = 0; i < Number(n); i++) {
    const d = await l.check(client, endpoint, { quota })
    if (d.limit !== 20) throw new Error(`limit ${d.limit}`)
    if (d.allowed) admitted++
  }
  console.log(admitted)
}
main().catch((e) => { console.error(e); process.exit(1) })
