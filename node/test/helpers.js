'use strict'
// Throwaway redis-server processes on free 127.0.0.1 ports.
const { spawn, execFileSync } = require('node:child_process')
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

// A free port whose cluster bus port (+10000) is valid and free too.
async function freeClusterPort () {
  for (;;) {
    const port = await freePort()
    if (port > 55535) continue
    const busFree = await new Promise((resolve) => {
      const srv = net.createServer()
      srv.unref()
      srv.on('error', () => resolve(false))
      srv.listen(port + 10000, '127.0.0.1', () => srv.close(() => resolve(true)))
    })
    if (busFree) return port
  }
}

class RedisServer {
  static async start (extra = []) {
    const s = new RedisServer()
    s.extra = extra
    s.port = extra.includes('--cluster-enabled') ? await freeClusterPort() : await freePort()
    s.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ratewarden-node-'))
    await s.spawn()
    return s
  }

  get url () { return `redis://127.0.0.1:${this.port}` }

  async spawn () {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', this.dir, '--loglevel', 'warning', ...this.extra], { stdio: 'ignore' })
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

// Three masters, no replicas, made with redis-cli --cluster create.
class RedisCluster {
  static async start () {
    const c = new RedisCluster()
    c.nodes = []
    for (let i = 0; i < 3; i++) {
      c.nodes.push(await RedisServer.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', '5000']))
    }
    execFileSync('redis-cli', ['--cluster', 'create', ...c.nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' })
    const deadline = Date.now() + 30000
    while (!c.nodes.every((n) => c.cli(n, 'CLUSTER', 'INFO').includes('cluster_state:ok'))) {
      if (Date.now() > deadline) throw new Error('the cluster did not become healthy')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return c
  }

  get url () { return `redis+cluster://127.0.0.1:${this.nodes[0].port}` }

  cli (node, ...args) {
    return execFileSync('redis-cli', ['-p', String(node.port), ...args]).toString()
  }

  async stop () {
    for (const n of this.nodes) await n.stop()
  }
}

module.exports = { RedisServer, RedisCluster, freePort }
