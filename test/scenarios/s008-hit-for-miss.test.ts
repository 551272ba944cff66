/**
 * s008: hit-for-miss memory (Varnish's name). Once a key's answer could be neither stored nor
 * shared, later requests for it go to the origin at once and in parallel — not one by one
 * behind a coalesced fetch whose answer they could not use — and say detail=HIT-FOR-MISS.
 * A stored answer ends the memory; `hitForMiss: false` turns it off.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { deferred } from '../helpers/rfc-scenario.js'

const CLIENTS = 10
let origin: TestOrigin
let proxy: TestProxy
let noMemoryProxy: TestProxy

/**
 * An origin path that holds its answers until CLIENTS requests are in flight at once (or
 * 3 s passed), and records the most it saw in flight together.
 */
function parallelProbe(path: string, headers: Record<string, string>) {
  let inFlight = 0
  let maxInFlight = 0
  let all = deferred()
  let n = 0
  origin.on(path, async (_req, res) => {
    const mine = ++n
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    if (inFlight >= CLIENTS) all.resolve()
    if (mine > 1) await Promise.race([all.promise, new Promise((r) => setTimeout(r, 3000))])
    inFlight--
    res.writeHead(200, { 'content-type': 'text/plain', ...headers })
    res.end(`answer #${mine}`)
  })
  return { get maxInFlight() { return maxInFlight }, reset() { maxInFlight = 0; all = deferred() } }
}

before(async () => {
  origin = await startOrigin()
  proxy = await startProxy({ origin: origin.url })
  noMemoryProxy = await startProxy({ origin: origin.url, hitForMiss: false })
})
after(async () => { await proxy.close(); await noMemoryProxy.close(); await origin.close() })

for (const [what, headers, detail] of [
  ['Set-Cookie', { 'set-cookie': 'session=abc; HttpOnly', 'cache-control': 'max-age=60' }, 'RESPONSE-SET-COOKIE'],
  ['Cache-Control: private', { 'cache-control': 'private, max-age=60' }, 'RESPONSE-PRIVATE'],
  ['Cache-Control: no-store', { 'cache-control': 'no-store' }, 'RESPONSE-NO-STORE'],
] as const) {
  test(`after one ${what} answer, ${CLIENTS} concurrent requests reach the origin together, not one by one`, async () => {
    const path = `/s008/${encodeURIComponent(what)}`
    const probe = parallelProbe(path, headers)
    const first = await request(`${proxy.url}${path}`)
    assert.match(cacheStatus(first), new RegExp(`detail=${detail}`))
    const all = await Promise.all(Array.from({ length: CLIENTS }, () => request(`${proxy.url}${path}`)))
    assert.equal(probe.maxInFlight, CLIENTS, 'every request was at the origin at the same time')
    for (const res of all) {
      assert.equal(res.status, 200)
      assert.match(cacheStatus(res), /detail=HIT-FOR-MISS/)
      assert.doesNotMatch(cacheStatus(res), /collapsed/)
    }
    assert.equal(new Set(all.map((r) => r.body)).size, CLIENTS, 'each got its own answer')
    const stats = JSON.parse((await request(`${proxy.adminUrl}/stats`)).body)
    assert.ok(stats.hitForMissKeys >= 1)
  })
}

test('hitForMiss: false — the same requests queue behind one fetch, then go one at a time (what the memory avoids)', async () => {
  const path = '/s008/no-memory'
  const probe = parallelProbe(path, { 'set-cookie': 'session=abc', 'cache-control': 'max-age=60' })
  await request(`${noMemoryProxy.url}${path}`)
  const all = await Promise.all(Array.from({ length: CLIENTS }, () => request(`${noMemoryProxy.url}${path}`)))
  assert.ok(probe.maxInFlight < CLIENTS, `max in flight ${probe.maxInFlight}`)
  for (const res of all) assert.doesNotMatch(cacheStatus(res), /HIT-FOR-MISS/)
})

test('a hit-for-miss key whose answer becomes cacheable is stored, and the memory ends', async () => {
  const path = '/s008/becomes-cacheable'
  let n = 0
  origin.on(path, (_req, res) => {
    n++
    res.writeHead(200, n === 1 ? { 'cache-control': 'no-store' } : { 'cache-control': 'max-age=60' })
    res.end(`#${n}`)
  })
  await request(`${proxy.url}${path}`)
  const second = await request(`${proxy.url}${path}`)
  assert.match(cacheStatus(second), /stored; detail=HIT-FOR-MISS/)
  const third = await request(`${proxy.url}${path}`)
  assert.equal(third.body, '#2')
  assert.match(cacheStatus(third), /; hit/)
  const fourthKey = await request(`${proxy.url}${path}?other`)
  assert.doesNotMatch(cacheStatus(fourthKey), /HIT-FOR-MISS/)
})
