/**
 * s002: bodies stream through as they arrive, and a body that is cut short is never passed
 * off as whole nor stored. A slow body reaches the client chunk by chunk (first bytes long
 * before the origin finished); an origin that breaks its Content-Length promise, or cuts a
 * chunked body mid-stream, makes the client's response abort and leaves nothing stored; a body
 * larger than maxObjectSize is streamed through whole but not stored (detail=TOO-LARGE).
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'

const SLOW_CHUNKS = 6
const SLOW_DELAY_MS = 120
const LARGE_BODY = 'x'.repeat(5000) // maxObjectSize is 1kb below

let origin: TestOrigin
let proxy: TestProxy

before(async () => {
  origin = await startOrigin({
    '/slow': async (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
      for (let i = 0; i < SLOW_CHUNKS; i++) {
        res.write(`chunk ${i}\n`)
        await sleep(SLOW_DELAY_MS)
      }
      res.end('done\n')
    },
    '/short-content-length': (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', 'content-length': '1000' })
      res.write('0123456789')
      setTimeout(() => res.socket?.destroy(), 30)
    },
    '/cut-chunked': async (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
      for (let i = 0; i < 3; i++) {
        res.write(`part ${i} `.repeat(50))
        await sleep(20)
      }
      res.socket?.destroy()
    },
    '/large-with-length': (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', 'content-length': String(LARGE_BODY.length) })
      res.end(LARGE_BODY)
    },
    '/large-chunked': async (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
      for (let i = 0; i < 5; i++) {
        res.write(LARGE_BODY.slice(i * 1000, (i + 1) * 1000))
        await sleep(10)
      }
      res.end()
    },
  })
  proxy = await startProxy({ origin: origin.url, store: { maxObjectSize: '1kb', size: '1mb' } })
})
after(async () => { await proxy.close(); await origin.close() })

/** A GET that records when the head, the first body byte and the end arrived. */
function timedGet(url: string): Promise<{ status: number; body: string; headAt: number; firstDataAt: number; endAt: number; startedAt: number }> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now()
    let firstDataAt = 0
    http.get(url, { agent: false }, (res) => {
      const headAt = Date.now()
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { if (!firstDataAt) firstDataAt = Date.now(); body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headAt, firstDataAt, endAt: Date.now(), startedAt }))
      res.on('error', reject)
    }).on('error', reject)
  })
}

test('a slow body is streamed: the client gets the first chunk long before the origin finished', async () => {
  const res = await timedGet(`${proxy.url}/slow`)
  assert.equal(res.status, 200)
  const expected = Array.from({ length: SLOW_CHUNKS }, (_, i) => `chunk ${i}\n`).join('') + 'done\n'
  assert.equal(res.body, expected)
  const total = res.endAt - res.startedAt
  const toFirst = res.firstDataAt - res.startedAt
  assert.ok(total >= SLOW_CHUNKS * SLOW_DELAY_MS - 50, `the body took ${total} ms`)
  assert.ok(toFirst < total / 2, `first data after ${toFirst} ms of ${total} ms: not buffered until the end`)
  assert.ok(res.endAt - res.firstDataAt >= (SLOW_CHUNKS - 1) * SLOW_DELAY_MS - 50, `first data ${res.endAt - res.firstDataAt} ms before the end`)
  // and it was stored whole
  const again = await request(`${proxy.url}/slow`)
  assert.ok(isHit(again), cacheStatus(again))
  assert.equal(again.body, expected)
})

test('an origin that sends 10 of 1000 promised bytes then closes: the client response is aborted and nothing is stored', async () => {
  const first = await request(`${proxy.url}/short-content-length`)
  assert.equal(first.isAborted, true, `response must not look complete (status ${first.status}, ${first.body.length} bytes)`)
  assert.ok(first.body.length < 1000)
  const before = origin.count('/short-content-length')
  const second = await request(`${proxy.url}/short-content-length`)
  assert.equal(second.isAborted, true)
  assert.ok(!isHit(second), cacheStatus(second))
  assert.equal(origin.count('/short-content-length'), before + 1, 'the second request went to the origin again')
  assert.ok(proxy.proxy.counters.incompleteBodies >= 2)
})

test('a chunked body cut off mid-stream: the client response is aborted and nothing is stored', async () => {
  const first = await request(`${proxy.url}/cut-chunked`)
  assert.equal(first.isAborted, true, `response must not look complete (status ${first.status}, ${first.body.length} bytes)`)
  const second = await request(`${proxy.url}/cut-chunked`)
  assert.equal(second.isAborted, true)
  assert.ok(!isHit(second), cacheStatus(second))
  assert.equal(origin.count('/cut-chunked'), 2, 'the second request went to the origin again')
})

test('a body over maxObjectSize (with Content-Length) is passed through whole, not stored, and says TOO-LARGE', async () => {
  for (let i = 1; i <= 2; i++) {
    const res = await request(`${proxy.url}/large-with-length`)
    assert.equal(res.status, 200)
    assert.equal(res.isAborted, false, `request ${i}: the client got a whole response (${res.body.length} bytes)`)
    assert.equal(res.body, LARGE_BODY)
    assert.ok(!isHit(res))
    assert.match(cacheStatus(res), /detail=TOO-LARGE/)
    assert.doesNotMatch(cacheStatus(res), /; stored/)
  }
  assert.equal(origin.count('/large-with-length'), 2)
})

test('a chunked body that grows over maxObjectSize is passed through whole and not stored', async () => {
  for (let i = 1; i <= 2; i++) {
    const res = await request(`${proxy.url}/large-chunked`)
    assert.equal(res.status, 200)
    assert.equal(res.isAborted, false, `request ${i}: the client got a whole response (${res.body.length} bytes)`)
    assert.equal(res.body, LARGE_BODY)
    assert.ok(!isHit(res))
  }
  assert.equal(origin.count('/large-chunked'), 2)
  assert.equal(proxy.proxy.store.stats().objects, 1, 'only /slow is stored')
})
