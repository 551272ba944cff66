/**
 * s007: a traffic spike, the test-suite size (the 2,000-client run is bench/spike.mjs).
 * A burst of 300 concurrent clients on one cold URL of a slow (200 ms) origin makes one origin
 * request and every client gets the page. Stale objects within grace (RFC 5861 §3
 * stale-while-revalidate, or a rule's `grace`) are served at once to 300 concurrent clients
 * while exactly one background fetch refreshes them, however many requests arrive meanwhile.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, test } from 'node:test'
import { sleep, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { cacheStatus, isHit, request, startProxy, type TestProxy, type TestResponse } from '../helpers/proxy.js'
import { deferred, waitUntil } from '../helpers/rfc-scenario.js'

const CLIENTS = 300
let origin: TestOrigin
let proxy: TestProxy
const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS })

before(async () => {
  origin = await startOrigin({
    '/cold': async (_req, res) => {
      await sleep(200)
      // on a loaded machine the burst may take longer to arrive than 200 ms: the answer waits
      // (at most 5 s) until every client has joined the one fetch, so each is a waiter
      for (const deadline = Date.now() + 5000; proxy.proxy.counters.coalesced < CLIENTS - 1 && Date.now() < deadline;) await sleep(10)
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/html' })
      res.end('<h1>the popular page</h1>'.repeat(200))
    },
  })
  proxy = await startProxy({ origin: origin.url, rules: [{ match: { path: '/graced/**' }, grace: '1m' }] })
})
after(async () => { agent.destroy(); await proxy.close(); await origin.close() })

const burst = (path: string): Promise<TestResponse[]> =>
  Promise.all(Array.from({ length: CLIENTS }, () => request(`${proxy.url}${path}`, { agent })))

test(`${CLIENTS} concurrent clients on one cold URL of a 200 ms origin: one origin request, every client served`, async () => {
  const all = await burst('/cold')
  assert.equal(origin.count('/cold'), 1)
  for (const res of all) {
    assert.equal(res.status, 200)
    assert.equal(res.isAborted, false)
    assert.equal(res.body, '<h1>the popular page</h1>'.repeat(200))
  }
  assert.equal(all.filter((res) => /collapsed/.test(cacheStatus(res))).length, CLIENTS - 1)
})

/**
 * `path` first answers a response already stale on arrival (with `cc`), then holds every
 * refresh until `release` is called.
 */
function staleThenHeld(path: string, cc: string) {
  const gate = deferred()
  let n = 0
  origin.on(path, async (_req, res) => {
    const version = ++n
    if (version > 1) await gate.promise
    res.writeHead(200, version === 1 ? { 'cache-control': cc, age: '5', etag: '"v1"' } : { 'cache-control': 'max-age=60', etag: `"v${version}"` })
    res.end(`v${version}`)
  })
  return { release: () => gate.resolve() }
}

async function oneRefreshUnderConcurrency(path: string, cc: string): Promise<void> {
  const held = staleThenHeld(path, cc)
  assert.equal((await request(`${proxy.url}${path}`)).body, 'v1')
  // three waves of clients while the refresh is held at the origin
  for (let wave = 0; wave < 3; wave++) {
    const all = await burst(path)
    for (const res of all) {
      assert.equal(res.status, 200)
      assert.equal(res.body, 'v1')
      assert.ok(isHit(res), cacheStatus(res))
      assert.match(cacheStatus(res), /detail=STALE-WHILE-REVALIDATE/)
    }
  }
  await waitUntil(() => origin.count(path) === 2, 2000, 'the background refresh')
  assert.equal(origin.count(path), 2, 'exactly one background refresh for 900 stale hits')
  held.release()
  let res = await request(`${proxy.url}${path}`)
  for (const until = Date.now() + 3000; res.body !== 'v2' && Date.now() < until; res = await request(`${proxy.url}${path}`)) await sleep(20)
  assert.equal(res.body, 'v2', 'the refresh replaced the stale object')
  assert.ok(isHit(res) && !/STALE/.test(cacheStatus(res)), cacheStatus(res))
  assert.equal(origin.count(path), 2)
}

test(`stale-while-revalidate: ${CLIENTS} concurrent clients, three times over, are served stale at once; one refresh`, async () => {
  await oneRefreshUnderConcurrency('/swr/page', 'max-age=1, stale-while-revalidate=60')
})

test(`a rule's grace: ${CLIENTS} concurrent clients, three times over, are served stale at once; one refresh`, async () => {
  await oneRefreshUnderConcurrency('/graced/page', 'max-age=1')
})
