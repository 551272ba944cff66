/**
 * s003: malformed requests are answered by Lacquer itself and never reach the origin:
 * request smuggling framing (Content-Length with Transfer-Encoding), an oversized header
 * section or too many header fields (431), a missing, repeated or malformed Host, a garbage
 * request line, a request target that is neither origin-form nor absolute-form (400). After
 * each, the proxy still serves a normal request. Requests are written byte for byte on raw
 * sockets, so nothing in a client library can tidy them up.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { rawExchange, type RawResponse } from '../helpers/raw-socket.js'

let origin: TestOrigin
let proxy: TestProxy
let port: number

before(async () => {
  origin = await startOrigin({
    '*': (req, res) => { res.writeHead(200, { 'cache-control': 'no-store', 'content-type': 'text/plain' }); res.end(`ok ${req.url}`) },
  })
  proxy = await startProxy({ origin: origin.url })
  port = Number(new URL(proxy.url).port)
})
after(async () => { await proxy.close(); await origin.close() })

/** Sends `bytes`, asserts the status, that the origin got nothing, and that the proxy still works. */
async function rejects(bytes: string, status: number): Promise<RawResponse> {
  const before = origin.received.length
  const res = await rawExchange(port, bytes)
  assert.equal(res.status, status, `expected ${status}, got: ${JSON.stringify(res.raw.slice(0, 300))} ${res.error ?? ''}`)
  assert.equal(res.timedOut, false, 'the proxy closed the connection after the error')
  assert.equal(origin.received.length, before, `the origin received nothing, got ${JSON.stringify(origin.received.slice(before).map((r) => r.url))}`)
  const normal = await request(`${proxy.url}/after-bad-request`)
  assert.equal(normal.status, 200)
  assert.equal(normal.body, 'ok /after-bad-request')
  assert.equal(origin.received.length, before + 1)
  return res
}

const host = () => `127.0.0.1:${port}`

test('a well-formed raw request is served (the raw client itself works)', async () => {
  const res = await rawExchange(port, `GET /raw-ok HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`)
  assert.equal(res.status, 200)
  assert.match(res.body, /ok \/raw-ok/)
  assert.equal(origin.count('/raw-ok'), 1)
})

test('Content-Length together with Transfer-Encoding → 400, nothing forwarded', async () => {
  await rejects(`POST /smuggle HTTP/1.1\r\nHost: ${host()}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${host()}\r\n\r\n`, 400)
  assert.equal(origin.count('/smuggled'), 0)
  assert.equal(origin.count('/smuggle'), 0)
})

test('Transfer-Encoding together with Content-Length on a GET → 400, nothing forwarded', async () => {
  await rejects(`GET /smuggle-get HTTP/1.1\r\nHost: ${host()}\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n`, 400)
})

test('other ambiguous body framing (smuggling variants) → 400, nothing forwarded', async () => {
  const h = `Host: ${host()}\r\n`
  for (const bytes of [
    `POST /dup-cl HTTP/1.1\r\n${h}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`,
    `POST /x-chunked HTTP/1.1\r\n${h}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
    `POST /te-space HTTP/1.1\r\n${h}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
    `POST /plus-cl HTTP/1.1\r\n${h}Content-Length: +4\r\n\r\nabcd`,
    `POST /chunked-identity HTTP/1.1\r\n${h}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
  ]) await rejects(bytes, 400)
})

test('a request header section larger than maxHeaderSize (32kb) → 431', async () => {
  const res = await rejects(`GET /huge HTTP/1.1\r\nHost: ${host()}\r\nX-Big: ${'a'.repeat(40 * 1024)}\r\n\r\n`, 431)
  assert.equal(res.headers['lacquer-error'], 'ERR_HTTP_HEADERS_TOO_LARGE')
})

test('more than 100 header fields → 431; exactly 100 are accepted', async () => {
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-F${i}: ${i}\r\n`).join('')
  const res = await rejects(`GET /many HTTP/1.1\r\nHost: ${host()}\r\n${fields(100)}\r\n`, 431)
  assert.equal(res.headers['lacquer-error'], 'ERR_HTTP_HEADERS_TOO_LARGE')
  await rejects(`GET /very-many HTTP/1.1\r\nHost: ${host()}\r\n${fields(300)}\r\n`, 431)
  // Host + 98 + Connection = 100 fields: within the limit
  const ok = await rawExchange(port, `GET /hundred HTTP/1.1\r\nHost: ${host()}\r\n${fields(98)}Connection: close\r\n\r\n`)
  assert.equal(ok.status, 200)
  assert.equal(origin.count('/hundred'), 1)
})

test('no Host (HTTP/1.1 and HTTP/1.0) → 400', async () => {
  await rejects('GET /no-host HTTP/1.1\r\nConnection: close\r\n\r\n', 400)
  await rejects('GET /no-host-10 HTTP/1.0\r\n\r\n', 400)
})

test('two Host lines → 400', async () => {
  await rejects(`GET /two-hosts HTTP/1.1\r\nHost: ${host()}\r\nHost: evil.example\r\n\r\n`, 400)
  await rejects(`GET /two-hosts-same HTTP/1.1\r\nHost: ${host()}\r\nHost: ${host()}\r\n\r\n`, 400)
})

test('a malformed Host → 400', async () => {
  for (const bad of ['a b', 'evil.example/path', 'user@evil.example', 'a:b:c', 'example.com:99999999', '']) {
    await rejects(`GET /bad-host HTTP/1.1\r\nHost: ${bad}\r\n\r\n`, 400)
  }
})

test('a garbage request line → 400', async () => {
  await rejects('THIS IS NOT HTTP\r\n\r\n', 400)
  await rejects(`GET /x HTTP/9.9\r\nHost: ${host()}\r\n\r\n`, 400)
  await rejects(`GET\r\nHost: ${host()}\r\n\r\n`, 400)
  await rejects(`G@T /x HTTP/1.1\r\nHost: ${host()}\r\n\r\n`, 400)
})

test('a request target that does not start with / (and is not absolute-form) → 400', async () => {
  await rejects(`GET x HTTP/1.1\r\nHost: ${host()}\r\n\r\n`, 400)
  await rejects(`GET example.com/x HTTP/1.1\r\nHost: ${host()}\r\n\r\n`, 400)
  await rejects(`GET *x HTTP/1.1\r\nHost: ${host()}\r\n\r\n`, 400)
  await rejects(`GET * HTTP/1.1\r\nHost: ${host()}\r\n\r\n`, 400)
  await rejects(`GET ${host()} HTTP/1.1\r\nHost: ${host()}\r\n\r\n`, 400)
  await rejects(`GET ftp://evil.example/x HTTP/1.1\r\nHost: ${host()}\r\n\r\n`, 400)
})

test('CONNECT (authority-form target) → 400 from Lacquer, not a silently dropped connection', async () => {
  const res = await rejects(`CONNECT ${host()} HTTP/1.1\r\nHost: ${host()}\r\n\r\n`, 400)
  assert.equal(res.headers['lacquer-error'], 'ERR_HTTP_BAD_REQUEST')
})

test('OPTIONS * is not reported as an unreachable origin', async () => {
  const res = await rawExchange(port, `OPTIONS * HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`)
  assert.ok(res.status >= 200, `an answer: ${JSON.stringify(res.raw.slice(0, 200))}`)
  // the origin is up: a 502 blaming it (Lacquer-Error ERR_ORIGIN_UNREACHABLE) is wrong
  assert.notEqual(res.headers['lacquer-error'], 'ERR_ORIGIN_UNREACHABLE', res.raw.slice(0, 400))
  assert.notEqual(res.status, 502, res.raw.slice(0, 400))
  assert.equal(proxy.proxy.counters.originErrors, 0, 'not counted as an origin error: ' + JSON.stringify(proxy.logs.filter((l) => l.level !== 'info')))
})
