/**
 * b001: a cacheable page is fetched once and then answered from the store, with Age,
 * Via and Cache-Status; a page that is not cacheable is fetched every time.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'

let origin: TestOrigin
let proxy: TestProxy

before(async () => {
  origin = await startOrigin({
    '/cacheable': (_req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }); res.end('hello') },
    '/uncacheable': (_req, res) => { res.writeHead(200, { 'cache-control': 'no-store' }); res.end('fresh every time') },
  })
  proxy = await startProxy({ origin: origin.url })
})
after(async () => { await proxy.close(); await origin.close() })

test('a cacheable response is stored on the first request and served from the store on the second', async () => {
  const first = await request(`${proxy.url}/cacheable`)
  assert.equal(first.status, 200)
  assert.equal(first.body, 'hello')
  assert.match(cacheStatus(first), /^lacquer; fwd=uri-miss; fwd-status=200; stored/)
  const second = await request(`${proxy.url}/cacheable`)
  assert.equal(second.body, 'hello')
  assert.ok(isHit(second), cacheStatus(second))
  assert.match(String(second.headers.age), /^\d+$/)
  assert.match(String(second.headers.via), /1\.1 lacquer/)
  assert.equal(origin.count('/cacheable'), 1)
})

test('a no-store response is fetched every time and says why in Cache-Status', async () => {
  const first = await request(`${proxy.url}/uncacheable`)
  assert.match(cacheStatus(first), /detail=RESPONSE-NO-STORE/)
  const second = await request(`${proxy.url}/uncacheable`)
  assert.equal(second.body, 'fresh every time')
  // remembered as uncacheable (hit-for-miss): fetched at once, without waiting behind another request
  assert.match(cacheStatus(second), /detail=HIT-FOR-MISS/)
  assert.equal(origin.count('/uncacheable'), 2)
})

test('the admin /stats counts hits and misses and /healthz answers', async () => {
  const stats = JSON.parse((await request(`${proxy.adminUrl}/stats`)).body)
  assert.ok(stats.hits >= 1)
  assert.ok(stats.misses >= 1)
  assert.ok(stats.store.objects >= 1)
  // the process's memory, for capacity planning (bench/memory.mjs reads it)
  for (const field of ['rssBytes', 'heapTotalBytes', 'heapUsedBytes', 'externalBytes', 'arrayBuffersBytes']) assert.ok(stats.memory[field] > 0, field)
  assert.ok(stats.memory.heapUsedBytes <= stats.memory.heapTotalBytes)
  assert.equal((await request(`${proxy.adminUrl}/healthz`)).status, 200)
})
