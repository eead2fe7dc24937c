'use strict'
// Throwaway redis-server processes on free 127.0.0.1 ports.
const { spawn } = require('node:child_process')
const net = require('node:net')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function ping (port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.setTimeout(1000)
    s.on('connect', () => s.write('PING\r\n'))
    s.on('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')) })
    s.on('error', () => resolve(false))
    s.on('timeout', () => { s.destroy(); resolve(false) })
  })
}

class RedisServer {
  static async start () {
    const s = new RedisServer()
    s.port = await freePort()
    s.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ratewarden-node-'))
    await s.spawn()
    return s
  }

  get url () { return `redis://127.0.0.1:${this.port}` }

  async spawn () {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', this.dir, '--loglevel', 'warning'], { stdio: 'ignore' })
    const deadline = Date.now() + 10000
    while (!(await ping(this.port))) {
      if (Date.now() > deadline) throw new Error('redis-server did not start')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  async kill () {
    if (!this.proc) return
    const p = this.proc
    this.proc = null
    const exited = new Promise((resolve) => p.once('exit', resolve))
    p.kill('SIGKILL')
    await exited
  }

  async stop () {
    await this.kill()
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

module.exports = { RedisServer, freePort }
