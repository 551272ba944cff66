/**
 * Regressions from the first new-user trial of issue 2 (each named after what it guards):
 * one answer per malformed request, Lacquer's own answer for a missing Host and a bad Expect,
 * no Content-Length on a 204, no internal error text in a 502, Authorization answers shared
 * only when public, a closing Lacquer that finishes the response under way, and a warning
 * for an admin port beyond loopback.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { rawExchange, startRawOrigin, type RawOrigin } from '../helpers/raw-socket.js'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, request, startProxy, type TestProxy } from '../helpers/proxy.js'

let origin: TestOrigin
let proxy: TestProxy
let port: number
let raw: RawOrigin
let rawProxy: TestProxy

before(async () => {
  origin = await startOrigin({
    '/no-content': (_req, res) => { res.socket!.write('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nCache-Control: max-age=60\r\n\r\n'); res.socket!.end() },
    '/api/me': (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60, must-revalidate' }); res.end(`me=${req.headers.authorization ?? 'nobody'}`) },
    '/slow': (_req, res) => { setTimeout(() => { res.writeHead(200, { 'cache-control': 'no-store' }); res.end('finished') }, 400) },
  })
  proxy = await startProxy({ origin: origin.url })
  port = Number(new URL(proxy.url).port)
  raw = await startRawOrigin(() => 'HTTP/1.1 099 Weird\r\nContent-Length: 2\r\n\r\nhi')
  rawProxy = await startProxy({ origin: raw.url })
})
after(async () => { await proxy.close(); await rawProxy.close(); await origin.close(); await raw.close() })

test('a request Transfer-Encoding not ending in chunked gets exactly one 400', async () => {
  const res = await rawExchange(port, 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n', 1500)
  assert.equal(res.status, 400)
  assert.equal(res.raw.match(/HTTP\/1\.1 \d{3}/g)?.length, 1, res.raw)
})

test('a missing Host is answered by Lacquer with its error code', async () => {
  const res = await rawExchange(port, 'GET / HTTP/1.1\r\n\r\n', 1500)
  assert.equal(res.status, 400)
  assert.equal(res.headers['lacquer-error'], 'ERR_HTTP_BAD_HOST')
  assert.match(res.headers['cache-status'] ?? '', /detail=BAD-REQUEST/)
})

test('an Expect other than 100-continue gets 417 with Lacquer\'s error code', async () => {
  const res = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nExpect: garbage\r\n\r\n', 1500)
  assert.equal(res.status, 417)
  assert.equal(res.headers['lacquer-error'], 'ERR_HTTP_EXPECTATION_FAILED')
})

test('a 204 from the origin is delivered and stored without its Content-Length (RFC 9110 §8.6)', async () => {
  for (let i = 0; i < 2; i++) {
    const res = await request(`${proxy.url}/no-content`)
    assert.equal(res.status, 204)
    assert.equal(res.headers['content-length'], undefined)
  }
})

test('an origin status that is not valid HTTP gives 502 ERR_ORIGIN_BAD_RESPONSE without internal text', async () => {
  const res = await request(`${rawProxy.url}/weird`)
  assert.equal(res.status, 502)
  assert.equal(res.headers['lacquer-error'], 'ERR_ORIGIN_BAD_RESPONSE')
  assert.doesNotMatch(res.body, /assert|expression|undici/i)
})

test('an Authorization answer with only max-age and must-revalidate is never handed to another client', async () => {
  const alice = await request(`${proxy.url}/api/me`, { headers: { authorization: 'Bearer alice' } })
  assert.match(cacheStatus(alice), /detail=REQUEST-AUTHORIZATION/)
  const anonymous = await request(`${proxy.url}/api/me`)
  assert.equal(anonymous.body, 'me=nobody')
})

test('closing Lacquer lets the response under way finish', async () => {
  const own = await startProxy({ origin: origin.url })
  const pending = request(`${own.url}/slow`)
  await sleep(100)
  await own.close()
  const res = await pending
  assert.equal(res.status, 200)
  assert.equal(res.body, 'finished')
  assert.equal(res.isAborted, false)
})

test('an admin port beyond loopback is started with a warning in the log', async () => {
  const exposed = await startProxy({ origin: origin.url, admin: '0.0.0.0:0' })
  try {
    assert.ok(exposed.logs.some((l) => l.level === 'warn' && /admin port listens beyond loopback/.test(l.msg)), JSON.stringify(exposed.logs))
  } finally {
    await exposed.close()
  }
  const local = await startProxy({ origin: origin.url })
  await local.close()
  assert.ok(!local.logs.some((l) => /beyond loopback/.test(l.msg)))
})

