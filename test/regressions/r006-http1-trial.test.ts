/**
 * r006: what the trial of the HTTP/1.1 layers found (a tester attacking the proxy port on raw
 * sockets), each pinned down: Connection options that removed Host or a Vary field after the
 * key was made (cache poisoning), responses destroyed by a later pipelined request's parse
 * error, a half-closed client getting no answer, pipelined requests running in parallel after
 * a POST, Transfer-Encoding in HTTP/1.0 and unknown codings, other HTTP versions, fragments,
 * bare-LF requests left waiting, and Date on every error.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { RawConnection, parseRawResponse, rawExchange } from '../helpers/raw-socket.js'

let origin: TestOrigin
let proxy: TestProxy
let port: number
let version = 0

function sized(res: import('node:http').ServerResponse, headers: Record<string, string>, body: string): void {
  res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

before(async () => {
  origin = await startOrigin({
    '/vhost': (req, res) => sized(res, { 'cache-control': 'max-age=600' }, `vhost=${req.headers.host}`),
    '/vary': (req, res) => sized(res, { 'cache-control': 'max-age=600', vary: 'Accept-Language' }, `lang=${req.headers['accept-language'] ?? 'none'}`),
    '/slow': (req, res, body) => { setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`slow ${req.method} ${body}`) }, 200) },
    '/echo': (req, res, body) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`${req.method} ${body}`) },
    '/versioned': (req, res) => {
      if (req.method === 'POST') { version++; setTimeout(() => { res.writeHead(204); res.end() }, 150); return }
      res.writeHead(200, { 'cache-control': 'max-age=600' })
      res.end(`version ${version}`)
    },
  })
  proxy = await startProxy({ origin: origin.url })
  port = Number(new URL(proxy.url).port)
})
after(async () => { await proxy.close(); await origin.close() })

test('Connection: Host never removes Host: the origin gets the host the response is keyed under', async () => {
  const poisoned = await rawExchange(port, 'GET /vhost HTTP/1.1\r\nHost: victim.example\r\nConnection: Host, close\r\n\r\n')
  assert.equal(poisoned.body, 'vhost=victim.example')
  const normal = await rawExchange(port, 'GET /vhost HTTP/1.1\r\nHost: victim.example\r\nConnection: close\r\n\r\n')
  assert.equal(normal.body, 'vhost=victim.example')
})

test('a Connection option naming a Vary field: the variant is chosen from the request as forwarded', async () => {
  const stripped = await rawExchange(port, 'GET /vary HTTP/1.1\r\nHost: v\r\nAccept-Language: fr\r\nConnection: Accept-Language, close\r\n\r\n')
  assert.equal(stripped.body, 'lang=none')
  const french = await rawExchange(port, 'GET /vary HTTP/1.1\r\nHost: v\r\nAccept-Language: fr\r\nConnection: close\r\n\r\n')
  assert.equal(french.body, 'lang=fr', 'the fr variant is not the one stored without the field')
})

test('a malformed request pipelined after a POST: the POST\'s response comes first, then the error', async () => {
  const conn = await RawConnection.open(port)
  conn.write('POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nxFOO / HTTP/1.1\r\nHost: a\r\n\r\n')
  const first = await conn.read()
  assert.equal(first.status, 200)
  assert.equal(first.body.toString(), 'slow POST x')
  const second = await conn.read()
  assert.equal(second.status, 501)
  assert.ok(second.headers.date, 'an error answered by the parser has a Date')
  conn.destroy()
})

test('bytes after a request that closes the connection are ignored, not answered instead of it', async () => {
  const res = await rawExchange(port, 'POST /echo HTTP/1.0\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloX')
  assert.equal(res.status, 200)
  assert.equal(res.body, 'POST hello')
})

for (const [what, bytes, body] of [
  ['a GET (Lacquer\'s parser)', 'GET /echo?half HTTP/1.0\r\nHost: a\r\n\r\n', 'GET '],
  ['a POST (node\'s parser)', 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc', 'POST abc'],
] as const) {
  test(`a client that half-closes after ${what} still gets the response`, async () => {
    const raw = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = []
      const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.end(bytes))
      socket.on('data', (chunk: Buffer) => chunks.push(chunk))
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
      socket.on('error', () => {})
    })
    const res = parseRawResponse(raw)
    assert.equal(res.status, 200, raw.slice(0, 200))
    assert.ok(res.body.includes(body), res.body) // framed by length or in chunks
  })
}

test('a GET pipelined behind a POST to the same URL waits for it: it sees the POST\'s invalidation', async () => {
  await rawExchange(port, 'GET /versioned HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  const conn = await RawConnection.open(port)
  conn.write('POST /versioned HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nxGET /versioned HTTP/1.1\r\nHost: a\r\n\r\n')
  assert.equal((await conn.read()).status, 204)
  const after = await conn.read()
  assert.equal(after.body.toString(), `version ${version}`)
  assert.doesNotMatch(after.headers['cache-status'] ?? '', /; hit/)
  conn.destroy()
})

test('Transfer-Encoding in an HTTP/1.0 request is faulty framing: 400, nothing forwarded', async () => {
  const before = origin.received.length
  const res = await rawExchange(port, 'POST /echo HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.0\r\nHost: a\r\n\r\n')
  assert.equal(res.status, 400)
  assert.equal(res.headers.connection, 'close')
  assert.equal(origin.received.length, before)
})

test('a transfer coding other than chunked gets 501 ERR_HTTP_CODING_NOT_IMPLEMENTED', async () => {
  const res = await rawExchange(port, 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
  assert.equal(res.status, 501)
  assert.equal(res.headers['lacquer-error'], 'ERR_HTTP_CODING_NOT_IMPLEMENTED')
})

test('HTTP/2.0 in a request line gets 505; a #fragment in the target gets 400', async () => {
  const v2 = await rawExchange(port, 'GET /echo HTTP/2.0\r\nHost: a\r\n\r\n')
  assert.equal(v2.status, 505)
  assert.equal(v2.headers['lacquer-error'], 'ERR_HTTP_VERSION_NOT_SUPPORTED')
  const fragment = await rawExchange(port, 'GET /echo#top HTTP/1.1\r\nHost: a\r\n\r\n')
  assert.equal(fragment.status, 400)
})

test('a request with bare LF line ends, or no version, is answered at once (not after the 30 s head timeout)', async () => {
  for (const bytes of ['GET /echo HTTP/1.1\nHost: a\n\n', 'GET /echo\r\n']) {
    const started = Date.now()
    const res = await rawExchange(port, bytes, 3000)
    assert.equal(res.timedOut, false, JSON.stringify(bytes))
    assert.ok(Date.now() - started < 2000)
    assert.ok(res.status === 200 || res.status === 400, `${JSON.stringify(bytes)}: ${res.raw.slice(0, 100)}`)
  }
})

test('a stalled upload does not hold an origin connection: the body is read whole first (up to 1 MB)', async () => {
  const own = await startProxy({ origin: { url: origin.url, connections: 1 } })
  const ownPort = Number(new URL(own.url).port)
  try {
    const before = origin.received.length
    const stalled = await RawConnection.open(ownPort)
    stalled.write('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const started = Date.now()
    const normal = await rawExchange(ownPort, 'GET /echo?after-stall HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 2000)
    assert.equal(normal.status, 200)
    assert.ok(Date.now() - started < 1500)
    assert.deepEqual(origin.received.slice(before).map((r) => r.method), ['GET'], 'nothing of the stalled upload reached the origin')
    stalled.write('x'.repeat(97))
    const posted = await stalled.read()
    assert.equal(posted.body.toString(), `POST abc${'x'.repeat(97)}`)
    stalled.destroy()
    // chunked: forwarded whole, with its length
    const chunked = await rawExchange(ownPort, 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n')
    assert.ok(chunked.body.includes('POST abcde'), chunked.raw)
    const seen = origin.received.findLast((r) => r.method === 'POST' && r.body === 'abcde')
    assert.equal(seen?.headers['content-length'], '5')
  } finally {
    await own.close()
  }
})
