// The small Node.js servers of the benchmark (bench/run.mjs starts each as its own process, so
// that it can be pinned to a core and stopped by PID):
//
//   node bench/servers.mjs origin            the app: /1k /10k /100k cacheable for an hour, /pass never
//                                            stored; GET /__stats answers its request and connection counts
//   node bench/servers.mjs node-http         the ceiling for any Node.js proxy: node:http answering a
//                                            preallocated body (no origin, no cache)
//   node bench/servers.mjs node-net          a bare net server writing one preserialised response per request
//   node bench/servers.mjs naive ORIGIN_URL  a naive proxy without cache: node:http + undici.request
//
// Each listens on 127.0.0.1 port 0 and prints `listening PORT` on stdout once ready.
import http from 'node:http'
import net from 'node:net'

const SIZES = { '/1k': 1024, '/10k': 10 * 1024, '/100k': 100 * 1024 }
const PASS_PATH = '/pass'
const PASS_SIZE = 1024

/** A deterministic body of `size` bytes (printable, so a curl of it stays readable). */
function makeBody(size) {
  const line = Buffer.from('lacquer-bench-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n')
  const body = Buffer.alloc(size)
  for (let at = 0; at < size; at += line.length) line.copy(body, at, 0, Math.min(line.length, size - at))
  return body
}

const BODIES = new Map(Object.entries(SIZES).map(([path, size]) => [path, makeBody(size)]))
const PASS_BODY = makeBody(PASS_SIZE)
const CACHEABLE = 'public, max-age=3600'
const UNCACHEABLE = 'private, no-store'

function listen(server) {
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`))
}

function origin() {
  const counts = { connections: 0 }
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/'
    if (path === '/__stats') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(counts))
      return
    }
    counts[path] = (counts[path] ?? 0) + 1
    const body = path === PASS_PATH ? PASS_BODY : BODIES.get(path)
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' })
      res.end('not found\n')
      return
    }
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': body.length,
      'cache-control': path === PASS_PATH ? UNCACHEABLE : CACHEABLE,
    })
    res.end(body)
  })
  server.on('connection', () => { counts.connections++ })
  listen(server)
}

function nodeHttp() {
  const notFound = Buffer.from('not found\n')
  listen(http.createServer((req, res) => {
    const body = BODIES.get(req.url) ?? (req.url === PASS_PATH ? PASS_BODY : undefined)
    if (!body) { res.writeHead(404, { 'content-length': notFound.length }); res.end(notFound); return }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length, 'cache-control': CACHEABLE })
    res.end(body)
  }))
}

function nodeNet() {
  // one response per request head, whatever the path: wrk hits one URL per run; the response
  // is chosen by the path of the first request on the connection
  const date = new Date().toUTCString()
  const responses = new Map([...BODIES, [PASS_PATH, PASS_BODY]].map(([path, body]) => [path, Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${body.length}\r\n`
      + `Cache-Control: ${CACHEABLE}\r\nDate: ${date}\r\nConnection: keep-alive\r\n\r\n`),
    body,
  ])]))
  const END = Buffer.from('\r\n\r\n')
  listen(net.createServer((socket) => {
    socket.setNoDelay(true)
    let response
    let tail = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      if (!response) {
        const path = /^[A-Z]+ (\S+)/.exec(chunk.toString('latin1', 0, 200))?.[1]
        response = responses.get(path) ?? responses.get('/1k')
      }
      // count the request heads in this chunk (GETs without bodies; a head may span chunks)
      const data = tail.length ? Buffer.concat([tail, chunk]) : chunk
      let at = 0
      let heads = 0
      for (;;) {
        const found = data.indexOf(END, at)
        if (found < 0) break
        heads++
        at = found + END.length
      }
      tail = data.subarray(Math.max(at, data.length - 3))
      for (let i = 0; i < heads; i++) socket.write(response)
    })
    socket.on('error', () => socket.destroy())
  }))
}

async function naive(originUrl) {
  const { request } = await import('undici')
  const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'host'])
  listen(http.createServer(async (req, res) => {
    try {
      const headers = {}
      for (const [name, value] of Object.entries(req.headers)) if (!HOP.has(name)) headers[name] = value
      const upstream = await request(originUrl + req.url, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req })
      const out = {}
      for (const [name, value] of Object.entries(upstream.headers)) if (!HOP.has(name)) out[name] = value
      res.writeHead(upstream.statusCode, out)
      for await (const chunk of upstream.body) res.write(chunk)
      res.end()
    } catch {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    }
  }))
}

const [kind, arg] = process.argv.slice(2)
if (kind === 'origin') origin()
else if (kind === 'node-http') nodeHttp()
else if (kind === 'node-net') nodeNet()
else if (kind === 'naive' && arg) await naive(arg)
else {
  process.stderr.write('usage: node bench/servers.mjs origin | node-http | node-net | naive ORIGIN_URL\n')
  process.exit(2)
}

// exit through process.exit, so that `node --cpu-prof` writes its profile (bench/profile.mjs)
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0))
