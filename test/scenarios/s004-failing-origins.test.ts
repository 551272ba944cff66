/**
 * s004: an origin that is down, silent or not speaking HTTP gets the client a clear answer
 * (502 ORIGIN-UNREACHABLE, 504 ORIGIN-TIMEOUT, 502 ORIGIN-BAD-RESPONSE, each with a
 * Lacquer-Error code), nothing is stored, and the proxy keeps serving normal requests.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { closedPort, startRawOrigin, type RawOrigin } from '../helpers/raw-socket.js'

let silentOrigin: TestOrigin
let garbageOrigin: RawOrigin
let silentProxy: TestProxy
let garbageProxy: TestProxy
const toClose: Array<() => Promise<void>> = []

const OK_RESPONSE = 'HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: close\r\n\r\nall good'

before(async () => {
  silentOrigin = await startOrigin({
    '/silent': () => { /* never answers */ },
    '/ok': (_req, res) => { res.writeHead(200, { 'cache-control': 'no-store' }); res.end('fine') },
  })
  silentProxy = await startProxy({ origin: { url: silentOrigin.url, firstByteTimeout: '300ms' } })
  garbageOrigin = await startRawOrigin((line) => (line.includes('/garbage') ? 'NOT HTTP\r\n\r\n' : OK_RESPONSE))
  garbageProxy = await startProxy({ origin: garbageOrigin.url })
  toClose.push(() => silentProxy.close(), () => silentOrigin.close(), () => garbageProxy.close(), () => garbageOrigin.close())
})
after(async () => { for (const close of toClose) await close() })

test('origin port closed → 502, detail=ORIGIN-UNREACHABLE, Lacquer-Error; the proxy recovers when the origin comes up', async () => {
  const port = await closedPort()
  const proxy = await startProxy({ origin: `http://127.0.0.1:${port}` })
  toClose.unshift(() => proxy.close())
  for (let i = 0; i < 2; i++) {
    const res = await request(`${proxy.url}/page`)
    assert.equal(res.status, 502)
    assert.match(cacheStatus(res), /detail=ORIGIN-UNREACHABLE/)
    assert.equal(res.headers['lacquer-error'], 'ERR_ORIGIN_UNREACHABLE')
    assert.ok(!isHit(res), 'an error is never served from the store')
  }
  // the origin comes up on that port: the next request is served normally
  const server = http.createServer((_req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60' }); res.end('back up') })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve) })
  toClose.push(() => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections() }))
  const res = await request(`${proxy.url}/page`)
  assert.equal(res.status, 200)
  assert.equal(res.body, 'back up')
  assert.equal((await request(`${proxy.adminUrl}/healthz`)).status, 200)
})

test('an origin that never answers → 504 after firstByteTimeout, detail=ORIGIN-TIMEOUT; nothing stored', async () => {
  const startedAt = Date.now()
  const res = await request(`${silentProxy.url}/silent`)
  const took = Date.now() - startedAt
  assert.equal(res.status, 504)
  assert.equal(res.headers['lacquer-error'], 'ERR_ORIGIN_TIMEOUT')
  assert.match(cacheStatus(res), /detail=ORIGIN-TIMEOUT/)
  assert.ok(took >= 250 && took < 3000, `took ${took} ms`)
  const again = await request(`${silentProxy.url}/silent`)
  assert.equal(again.status, 504)
  assert.equal(silentOrigin.count('/silent'), 2, 'the error was not stored; the origin was asked again')
  const ok = await request(`${silentProxy.url}/ok`)
  assert.equal(ok.status, 200)
  assert.equal(ok.body, 'fine')
})

test('an origin that answers garbage bytes → 502, detail=ORIGIN-BAD-RESPONSE; nothing stored', async () => {
  for (let i = 1; i <= 2; i++) {
    const res = await request(`${garbageProxy.url}/garbage`)
    assert.equal(res.status, 502)
    assert.equal(res.headers['lacquer-error'], 'ERR_ORIGIN_BAD_RESPONSE')
    assert.match(cacheStatus(res), /detail=ORIGIN-BAD-RESPONSE/)
    assert.doesNotMatch(res.body, /NOT HTTP/, 'the garbage is not relayed')
  }
  assert.equal(garbageOrigin.requestLines.filter((l) => l.startsWith('GET /garbage ')).length, 2, 'asked again: nothing stored')
  const ok = await request(`${garbageProxy.url}/fine`)
  assert.equal(ok.status, 200)
  assert.equal(ok.body, 'all good')
  assert.equal(garbageProxy.proxy.counters.originErrors, 2)
})
