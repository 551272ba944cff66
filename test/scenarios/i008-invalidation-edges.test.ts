/**
 * i008: invalidation edge cases. Trust is decided by the socket's address, never by what the
 * client claims (X-Forwarded-For, X-Real-IP); `Fastly-Soft-Purge: 1` is a soft purge too; a
 * purge issued after the head arrived, while the body is still streaming, still keeps that
 * response out of the store and out of reach of later requests; the tags of an entry follow
 * its stored fields when a 304 revalidation updates them (RFC 9111 §4.3.4).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { adminPurge, countingRoute, eventually, originGets, purge } from '../helpers/invalidation.js'

let origin: TestOrigin
let proxy: TestProxy
let untrusted: TestProxy
let headSent = 0

before(async () => {
  origin = await startOrigin({
    '/edge/plain': countingRoute(),
    '/edge/streaming': async (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=300', 'content-type': 'text/plain' })
      res.write('first part, ')
      const serial = ++headSent
      await sleep(300)
      res.end(`second part #${serial}`)
    },
  })
  proxy = await startProxy({ origin: origin.url })
  untrusted = await startProxy({ origin: origin.url, trust: { allow: ['10.0.0.0/8'] } })
})
after(async () => { await proxy.close(); await untrusted.close(); await origin.close() })

test('trust comes from the socket address: X-Forwarded-For / X-Real-IP / Forwarded claiming loopback do not help', async () => {
  await request(`${untrusted.url}/edge/plain`)
  assert.ok(isHit(await request(`${untrusted.url}/edge/plain`)))
  const res = await purge(untrusted.url, '/edge/plain', { 'x-forwarded-for': '10.1.2.3, 127.0.0.1', 'x-real-ip': '10.1.2.3', forwarded: 'for=10.1.2.3' })
  assert.equal(res.status, 403)
  const debug = await request(`${untrusted.url}/edge/plain`, { headers: { 'lacquer-debug': 'tags', 'x-forwarded-for': '10.1.2.3' } })
  assert.ok(isHit(debug), 'still stored')
})

test('Fastly-Soft-Purge: 1 is a soft purge', async () => {
  await request(`${proxy.url}/edge/plain`)
  const res = await purge(proxy.url, '/edge/plain', { 'fastly-soft-purge': '1' })
  const receipt = JSON.parse(res.body)
  assert.equal(receipt.mode, 'soft')
  assert.equal(receipt.invalidated.urls, 1)
})

test('a purge after the head arrived, while the body streams: the response is completed for A, not stored, and B does not join it', async () => {
  let aDone = false
  const a = request(`${proxy.url}/edge/streaming`).finally(() => { aDone = true })
  await eventually(() => headSent === 1, 2000, 'the head and first part to be sent')
  await sleep(20)
  const res = await purge(proxy.url, '/edge/streaming')
  assert.equal(res.status, 200)
  assert.equal(aDone, false)
  const b = await request(`${proxy.url}/edge/streaming`)
  assert.doesNotMatch(cacheStatus(b), /collapsed/, cacheStatus(b))
  const resA = await a
  assert.equal(resA.isAborted, false)
  assert.equal(resA.body, 'first part, second part #1')
  assert.equal(b.body, 'first part, second part #2')
  assert.equal(originGets(origin, '/edge/streaming'), 2)
})

test('a purge after the head arrived, while the body streams: the response is not stored (the next GET goes to the origin)', async () => {
  origin.on('/edge/streaming2', async (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=300', 'content-type': 'text/plain' })
    res.write('first part, ')
    await sleep(300)
    res.end('second part')
  })
  const a = request(`${proxy.url}/edge/streaming2`)
  await eventually(() => originGets(origin, '/edge/streaming2') === 1, 2000, 'A to reach the origin')
  await sleep(50)
  await purge(proxy.url, '/edge/streaming2')
  const resA = await a
  assert.equal(resA.body, 'first part, second part')
  assert.match(cacheStatus(resA), /stored/, 'it was meant to be stored when its head arrived')
  await sleep(20)
  const next = await request(`${proxy.url}/edge/streaming2`)
  assert.ok(!isHit(next), cacheStatus(next))
  assert.equal(originGets(origin, '/edge/streaming2'), 2)
})

test('a 304 that changes Surrogate-Key: the entry is purged by its new tag', async () => {
  let tag = 'old-tag'
  origin.on('/edge/retag', (req, res) => {
    if (req.headers['if-none-match'] === '"r1"') {
      res.writeHead(304, { etag: '"r1"', 'cache-control': 'max-age=300', 'surrogate-key': tag })
      res.end()
      return
    }
    res.writeHead(200, { etag: '"r1"', 'cache-control': 'max-age=300', 'surrogate-key': tag })
    res.end('retag body')
  })
  await request(`${proxy.url}/edge/retag`)
  // a soft purge makes the next request revalidate; the origin now tags it differently
  await adminPurge(proxy.adminUrl, { urls: [`${proxy.url}/edge/retag`], soft: true })
  tag = 'new-tag'
  const revalidated = await request(`${proxy.url}/edge/retag`, { headers: { 'lacquer-debug': 'tags' } })
  assert.match(cacheStatus(revalidated), /fwd-status=304/)
  assert.equal(revalidated.headers['surrogate-key'], 'new-tag', 'the stored fields now say new-tag')
  const fresh = await request(`${proxy.url}/edge/retag`)
  assert.ok(isHit(fresh), cacheStatus(fresh))
  const res = await adminPurge(proxy.adminUrl, { tags: ['new-tag'] })
  assert.deepEqual(res.body.invalidated, { urls: 0, tags: 1, bans: 0 })
  assert.ok(!isHit(await request(`${proxy.url}/edge/retag`)))
})
