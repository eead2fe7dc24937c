'use strict'
// Express with ratewarden: node app.js  (RATEWARDEN_URL=redis://127.0.0.1:6379 to share state).
const express = require('express')
const { Limiter } = require('ratewarden')
const { rateLimit } = require('ratewarden/express')

const limiter = new Limiter(process.env.RATEWARDEN_URL || 'memory://')
const app = express()
app.use(rateLimit({ limiter, quota: '100/minute' })) // one budget per client
app.post('/login', rateLimit({ limiter, quota: '5/minute' }), (req, res) => res.json({ ok: true }))
app.get('/', (req, res) => res.json({ hello: 'world' }))

const port = Number(process.env.PORT || 3000)
app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`))
