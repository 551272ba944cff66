/**
 * s009: coalesced waiters are bounded. At most `coalescing.maxWaiters` requests wait for one
 * object's fetch, each at most `coalescing.waitTimeout`; beyond them a client gets a 503 with
 * Retry-After at once (ERR_ORIGIN_TOO_MANY_WAITERS / ERR_ORIGIN_WAIT_TIMEOUT), while the
 * requests within the bounds are served normally. A waiter with a stale copy gets the stale copy.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, request, startProxy, type TestProxy } from '../helpers/proxy.js'
import { deferred, waitUntil } from '../helpers/rfc-scenario.js'

let origin: TestOrigin
let capped: TestProxy
let impatient: TestProxy

before(async () => {
  origin = await startOrigin()
  capped = await startProxy({ origin: origin.url, coalescing: { maxWaiters: 5 } })
  impatient = await startProxy({ origin: origin.url, coalescing: { waitTimeout: '200ms' } })
})
after(async () => { await capped.close(); await impatient.close(); await origin.close() })

/** `path` holds its first answer until released; later answers go at once. */
function held(path: string, headers: Record<string, string> = { 'cache-control': 'max-age=60' }) {
  const gate = deferred()
  let n = 0
  origin.on(path, async (_req, res) => {
    if (++n === 1) await gate.promise
    res.writeHead(200, { 'content-type': 'text/plain', ...headers })
    res.end(`page #${n}`)
  })
  return { release: () => gate.resolve() }
}

test('maxWaiters 5: of 11 concurrent requests, 1 fetches, 5 wait, 5 get a quick 503 with Retry-After', async () => {
  const path = '/s009/capped'
  const gate = held(path)
  const leader = request(`${capped.url}${path}`)
  await waitUntil(() => origin.count(path) === 1, 2000, 'the leader at the origin')
  const waiters = Array.from({ length: 5 }, () => request(`${capped.url}${path}`))
  await waitUntil(() => capped.proxy.counters.coalesced === 5, 2000, 'five waiters')
  // the origin still holds its answer: these are refused without waiting for it
  const refused = await Promise.all(Array.from({ length: 5 }, () => request(`${capped.url}${path}`)))
  for (const res of refused) {
    assert.equal(res.status, 503)
    assert.equal(res.headers['retry-after'], '1')
    assert.equal(res.headers['lacquer-error'], 'ERR_ORIGIN_TOO_MANY_WAITERS')
    assert.match(cacheStatus(res), /detail=TOO-MANY-WAITERS/)
  }
  gate.release()
  for (const res of [await leader, ...await Promise.all(waiters)]) {
    assert.equal(res.status, 200)
    assert.equal(res.body, 'page #1')
  }
  assert.equal(origin.count(path), 1)
  assert.equal(JSON.parse((await request(`${capped.adminUrl}/stats`)).body).waitersShed, 5)
})

test('waitTimeout 200ms: waiters get a 503 with Retry-After when the head is late; the leader is still served', async () => {
  const path = '/s009/slow'
  const gate = held(path)
  const leader = request(`${impatient.url}${path}`)
  await waitUntil(() => origin.count(path) === 1, 2000, 'the leader at the origin')
  const waiters = await Promise.all(Array.from({ length: 3 }, () => request(`${impatient.url}${path}`)))
  for (const res of waiters) {
    assert.equal(res.status, 503)
    assert.equal(res.headers['retry-after'], '1')
    assert.equal(res.headers['lacquer-error'], 'ERR_ORIGIN_WAIT_TIMEOUT')
    assert.match(cacheStatus(res), /collapsed; detail=WAIT-TIMEOUT/)
  }
  gate.release()
  assert.equal((await leader).body, 'page #1')
  assert.equal((await request(`${impatient.url}${path}`)).body, 'page #1', 'stored by the leader')
})

test('waitTimeout with a stale copy: the waiter gets the stale copy instead of a 503', async () => {
  const path = '/s009/stale'
  const gate = deferred()
  let n = 0
  origin.on(path, async (_req, res) => {
    const mine = ++n
    if (mine === 2) await gate.promise // the revalidation is slow
    res.writeHead(200, { 'cache-control': 'max-age=1', age: mine === 1 ? '5' : '0', etag: `"v${mine}"` })
    res.end(`v${mine}`)
  })
  assert.equal((await request(`${impatient.url}${path}`)).body, 'v1')
  const revalidating = request(`${impatient.url}${path}`)
  await waitUntil(() => origin.count(path) === 2, 2000, 'the revalidation at the origin')
  const waiter = await request(`${impatient.url}${path}`)
  assert.equal(waiter.status, 200)
  assert.equal(waiter.body, 'v1')
  assert.match(cacheStatus(waiter), /hit; fwd=stale; collapsed; .*detail=WAIT-TIMEOUT/)
  gate.resolve()
  assert.equal((await revalidating).body, 'v2')
})
